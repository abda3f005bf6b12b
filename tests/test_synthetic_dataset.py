import numpy as np
import pytest

from tests.scripts import assert_one_line_error, run_script
from tests.video_factory import decode_all
from utils.stick_figure import Body, joint_positions
from utils.synthetic_dataset import (
    ACTIONS,
    SyntheticSpec,
    action_motion,
    generate_dataset,
    render_clip,
    scene_for,
)

SMALL = SyntheticSpec(classes=6, groups=2, clips_per_group=2, width=64, height=48, fps=10,
                      min_seconds=1.0, max_seconds=2.0, seed=3)


def test_layout_is_ucf101s_and_default_has_six_classes_with_time_only_pairs(tmp_path):
    assert SyntheticSpec().classes >= 6
    default_classes = ACTIONS[: SyntheticSpec().classes]
    for a, b in [("WalkLeft", "WalkRight"), ("SquatDown", "StandUp")]:
        assert a in default_classes and b in default_classes
    written = generate_dataset(SMALL, tmp_path)
    assert len(written) == 6 * 2 * 2
    assert written[0] == "WalkLeft/v_WalkLeft_g01_c01.avi"
    assert written[-1] == "JumpingJack/v_JumpingJack_g02_c02.avi"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ACTIONS[:6])
    for relative in written:
        frames = decode_all(tmp_path / relative)
        assert 10 <= len(frames) <= 20 and frames[0].shape == (48, 64, 3)
    assert not list(tmp_path.rglob("*.partial*"))


def test_same_seed_same_videos_whatever_the_workers_and_another_seed_differs(tmp_path):
    one = generate_dataset(SMALL, tmp_path / "a", workers=1)
    generate_dataset(SMALL, tmp_path / "b", workers=2)
    for relative in one:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    other = SyntheticSpec(**{**SMALL.__dict__, "seed": 4})
    generate_dataset(other, tmp_path / "c")
    first = one[0]
    assert (tmp_path / "a" / first).read_bytes() != (tmp_path / "c" / first).read_bytes()


def test_a_group_is_one_actor_in_one_scene():
    same = scene_for(0, class_index=2, group=1, width=64, height=48)
    again = scene_for(0, class_index=2, group=1, width=64, height=48)
    other_group = scene_for(0, class_index=2, group=2, width=64, height=48)
    np.testing.assert_array_equal(same.background, again.background)
    assert same.body == again.body
    assert same.body != other_group.body
    assert np.abs(same.background.astype(int) - other_group.background).mean() > 5


def mirrored(joints):
    """Mirror a figure about its vertical axis, swapping left and right joints."""
    out = {}
    for name, (x, y) in joints.items():
        swapped = name.replace("left", "@").replace("right", "left").replace("@", "right")
        out[swapped] = np.array([-x, y])
    return out


def test_walking_frames_do_not_show_the_direction_only_the_motion_does():
    body = Body()
    for direction in ("WalkLeft", "WalkRight"):
        motion = action_motion(direction, 40, np.random.default_rng(1))
        for pose in motion.poses:
            joints = joint_positions(body, pose)
            for name, point in mirrored(joints).items():
                np.testing.assert_allclose(point, joints[name], atol=1e-9)
    left = action_motion("WalkLeft", 40, np.random.default_rng(1))
    right = action_motion("WalkRight", 40, np.random.default_rng(1))
    assert left.poses == right.poses
    np.testing.assert_allclose(left.x_offsets, -right.x_offsets)
    assert left.x_offsets[-1] < left.x_offsets[0] and right.x_offsets[-1] > right.x_offsets[0]


@pytest.mark.parametrize("forward, backward", [("SquatDown", "StandUp"), ("RaiseArms", "LowerArms")])
def test_paired_actions_are_each_other_played_backwards(forward, backward):
    a = action_motion(forward, 30, np.random.default_rng(7))
    b = action_motion(backward, 30, np.random.default_rng(7))
    assert a.poses == b.poses[::-1]
    assert a.poses[0] != a.poses[-1]


def test_clip_varies_within_a_group():
    scene = scene_for(0, 0, 1, 64, 48)
    first = render_clip("JumpingJack", scene, np.random.default_rng(1), 12)
    second = render_clip("JumpingJack", scene, np.random.default_rng(2), 12)
    assert first.shape == (12, 48, 64, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - second).mean() > 1
    assert np.abs(first[0].astype(int) - first[6]).mean() > 0.5  # the figure moves


def test_cli_writes_the_dataset_and_rejects_bad_flags(tmp_path):
    result = run_script("make_synthetic_dataset.py", "--output_path", tmp_path, "--classes", 2,
                        "--groups", 1, "--clips_per_group", 2, "--frame_width", 32, "--frame_height", 24,
                        "--min_seconds", 1, "--max_seconds", 1)
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.rglob("*.avi"))) == 4
    assert_one_line_error(run_script("make_synthetic_dataset.py", "--classes", 99), "--classes")
