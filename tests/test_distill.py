import json

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import one_pixel_figures, run_in_process
from utils.data.frames_data import open_frames
from utils.training.teacher_cache import cache_key, cache_path, file_sha256, load_cache

# --mixed_precision off: float32, the same numbers on CPUs with and without bfloat16 units
FAST = ["--width", "0.25", "--batch_size", "4", "--lr", "1e-3", "--mixed_precision", "off"]


@pytest.fixture(autouse=True)
def figures_not_drawn(monkeypatch):
    one_pixel_figures(monkeypatch)  # none of these tests looks at a training curve


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distill")
    frames = write_frames_folder(folder / "frames", classes=("Bright", "Dark"), groups=4, clips=4,
                                 shape=(16, 16, 16))
    teacher = folder / "teacher.keras"
    result = run_in_process("train_teacher.py", "--data", frames, "--epochs", 2, "--output_path", teacher,
                            "--logdir", folder / "tb", *FAST)
    assert result.returncode == 0, result.stderr
    return frames, teacher


def distill(frames, teacher, output, *extra):
    return run_in_process("distill.py", "--data", frames, "--source", teacher, "--output_path", output,
                          "--logdir", output.parent / "tb", "--epochs", 2, *FAST, *extra)


def test_sweep_writes_one_student_per_temperature_and_reuses_the_teacher_cache(teacher, tmp_path):
    frames, teacher_path = teacher
    result = distill(frames, teacher_path, tmp_path / "student.keras", "--temperatures", "1", "5")
    assert result.returncode == 0, result.stderr
    for t in (1, 5):
        sidecar = json.loads((tmp_path / f"student_T{t}.json").read_text())
        assert sidecar["role"] == "distilled_student"
        assert sidecar["distillation"]["temperature"] == t and sidecar["distillation"]["alpha"] == 0.1
        assert sidecar["distillation"]["teacher_logits"] == "cache"
        teacher_split = json.loads(teacher_path.with_suffix(".json").read_text())["split"]
        assert sidecar["split"]["test_indices"] == teacher_split["test_indices"]
        rows = (tmp_path / f"student_T{t}.history.csv").read_text().splitlines()
        assert len(rows) == 3 and "distillation_loss" in rows[0] and "student_loss" in rows[0]
    assert len(list(teacher_path.parent.glob("teacher.logits-*.npz"))) == 1

    again = distill(frames, teacher_path, tmp_path / "student.keras", "--temperatures", "1", "5", "10")
    assert again.returncode == 0, again.stderr
    assert "teacher logits reused from" in again.stdout
    assert again.stdout.count("already trained with these settings") == 2  # an interrupted sweep resumes
    assert (tmp_path / "student_T10.keras").is_file()


def test_a_single_temperature_given_as_a_sweep_is_still_tagged(teacher, tmp_path):
    frames, teacher_path = teacher
    result = distill(frames, teacher_path, tmp_path / "student.keras", "--temperatures", "10", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "student_T10.keras").is_file() and not (tmp_path / "student.keras").exists()


def test_cached_teacher_logits_train_the_same_student_as_the_online_teacher(teacher, tmp_path):
    import keras

    frames, teacher_path = teacher
    weights = {}
    for mode in ("online", "cache"):
        output = tmp_path / mode / "student.keras"
        output.parent.mkdir()
        result = distill(frames, teacher_path, output, "--teacher_logits", mode, "--val_size", "0.1")
        assert result.returncode == 0, result.stderr
        weights[mode] = keras.models.load_model(output).get_weights()
        history = (output.parent / "student.history.csv").read_text()
        weights[mode + "_history"] = history
    for online, cached in zip(weights["online"], weights["cache"]):
        np.testing.assert_allclose(online, cached, rtol=1e-4, atol=1e-6)


def test_a_stale_cache_is_never_used(teacher, tmp_path):
    frames, teacher_path = teacher
    data = open_frames(frames)
    indices = np.arange(10)
    key = cache_key(file_sha256(teacher_path), data, indices)
    other_teacher = tmp_path / "teacher.keras"
    other_teacher.write_bytes(teacher_path.read_bytes() + b"\0")
    assert cache_key(file_sha256(other_teacher), data, indices)["teacher_sha256"] != key["teacher_sha256"]
    other_split = cache_key(file_sha256(teacher_path), data, np.arange(11))
    assert cache_path(teacher_path, other_split) != cache_path(teacher_path, key)
    path = tmp_path / "cache.npz"
    np.savez(path, indices=indices, logits=np.zeros((10, 2), np.float32), key=np.array(json.dumps(key)))
    assert load_cache(path, key) is not None
    moved = {**key, "frames": {**key["frames"], "mtime_ns": key["frames"]["mtime_ns"] + 1}}
    assert load_cache(path, moved) is None


def test_writing_the_cache_leaves_another_writers_temporary_file_alone(teacher, tmp_path):
    """Two distillations from one teacher may run at once (reproduce_paper.py and kd_grid.py run steps side by
    side): each writes the shared cache under a temporary name of its own, then renames it."""
    import shutil

    import keras

    from utils.training.teacher_cache import teacher_logits_table

    frames, original = teacher
    teacher_path = tmp_path / "teacher.keras"
    shutil.copy(original, teacher_path)
    data, indices = open_frames(frames), np.arange(6)
    path = cache_path(teacher_path, cache_key(file_sha256(teacher_path), data, indices))
    others = [path.with_name(f"{path.name}.partial"), path.with_name(f"{path.name}.999999999.partial")]
    for other in others:  # other processes, half-way through their writes
        other.write_bytes(b"another writer's half-written cache")
    table, written, reused = teacher_logits_table(keras.models.load_model(teacher_path), teacher_path,
                                                  file_sha256(teacher_path), data, indices, batch_size=4)
    assert written == path and not reused and np.isfinite(table[indices]).all()
    assert all(other.read_bytes() == b"another writer's half-written cache" for other in others)
    assert load_cache(path, cache_key(file_sha256(teacher_path), data, indices)) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([teacher_path.name, path.name, *(o.name for o in others)])
