"""make_synthetic_dataset.py's output as one set (utils/folder_set.py): killed at any moment over an earlier set
of another seed, the folder holds the earlier complete set or the new one, never a mix; a rerun completes it;
video_to_frames.py refuses a set with a video missing."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.scripts import run_in_process, signal_group, start_script
from utils.data.synthetic_dataset import VIDEO_SET

SMALL = ["--classes", "2", "--groups", "2", "--clips_per_group", "2", "--frame_width", "64", "--frame_height", "48",
         "--min_seconds", "1", "--max_seconds", "1", "--workers", "1"]


def which_set(folder) -> str:
    """The seed of the complete set ``folder`` holds ("0" or "1"); fails on anything else."""
    manifest = VIDEO_SET.verified_manifest(folder)
    assert manifest is not None, f"{folder} holds no complete set"
    VIDEO_SET.verify_contents(folder, manifest, *manifest["files"])
    listed = set(manifest["files"])
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {VIDEO_SET.manifest}
    assert listed == on_disk, (listed ^ on_disk)
    return str(manifest["spec"]["seed"])


@pytest.mark.parametrize("delay", [0.3, 0.6, 0.9, 1.2, 1.6])  # the killed run takes about 2 s
def test_sigkill_at_any_moment_leaves_the_old_set_or_the_new_one(tmp_path, delay):
    out = tmp_path / "videos"
    assert run_in_process("make_synthetic_dataset.py", "--output_path", out, "--seed", "0", *SMALL).returncode == 0
    slower = [a if a != "2" else "6" for a in SMALL]  # 6 groups, 6 clips: a few seconds to kill it in
    process = start_script("make_synthetic_dataset.py", "--output_path", out, "--seed", "1", *slower)
    time.sleep(delay + random.uniform(0, 0.2))
    if process.poll() is None:
        signal_group(process, signal.SIGKILL)
    process.communicate()
    assert which_set(out) in ("0", "1")
    rerun = run_in_process("make_synthetic_dataset.py", "--output_path", out, "--seed", "1", *slower)
    assert rerun.returncode == 0, rerun.stderr
    assert which_set(out) == "1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".videos.videos-")]  # no staging left


def test_the_same_settings_skip_and_another_seed_replaces_the_whole_set(tmp_path):
    out = tmp_path / "videos"
    first = run_in_process("make_synthetic_dataset.py", "--output_path", out, "--seed", "0", *SMALL)
    assert first.returncode == 0 and which_set(out) == "0"
    again = run_in_process("make_synthetic_dataset.py", "--output_path", out, "--seed", "0", *SMALL)
    assert again.returncode == 0 and "skipped" in again.stdout
    fewer = [a if a != "2" else "1" for a in SMALL]  # one group, one clip: a set with fewer videos
    other = run_in_process("make_synthetic_dataset.py", "--output_path", out, "--seed", "1", *fewer)
    assert other.returncode == 0 and which_set(out) == "1"  # no video of the earlier, larger set is left


def test_a_user_file_in_the_folder_is_refused_and_kept(tmp_path):
    out = tmp_path / "videos"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    result = run_in_process("make_synthetic_dataset.py", "--output_path", out, *SMALL)
    assert result.returncode == 2 and "notes.txt" in result.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine\n"


def test_extraction_refuses_a_set_with_a_video_missing(tmp_path):
    out = tmp_path / "videos"
    assert run_in_process("make_synthetic_dataset.py", "--output_path", out, *SMALL).returncode == 0
    next(out.rglob("*.avi")).unlink()
    result = run_in_process("video_to_frames.py", "--input_path", out, "--output_path", tmp_path / "frames")
    assert result.returncode == 2 and "incomplete or mixed" in result.stderr and "is missing" in result.stderr
