import csv
import json
import signal
import time

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import run_in_process, run_script, signal_group, start_script

# --mixed_precision off: float32, the same numbers on CPUs with and without bfloat16 units
TINY = ["--width", "0.5", "--batch_size", "4", "--lr", "1e-3", "--mixed_precision", "off"]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return write_frames_folder(tmp_path_factory.mktemp("frames"), classes=("Bright", "Dark"), groups=4, clips=4,
                               shape=(16, 32, 32))


def history_rows(path):
    return list(csv.DictReader(path.open())) if path.exists() else []


def test_short_training_learns_and_writes_every_output(frames, tmp_path):
    import keras

    output = tmp_path / "student.keras"
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 6, "--output_path", output,
                            "--logdir", tmp_path / "tb", *TINY)
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "student.json").read_text())
    assert sidecar["role"] == "student" and sidecar["classes"] == ["Bright", "Dark"]
    assert sidecar["input_shape"] == [16, 32, 32, 3]
    split = sidecar["split"]
    assert split["protocol"] == "random" and split["seed"] == 0
    parts = [set(split[f"{p}_indices"]) for p in ("train", "val", "test")]
    assert not (parts[0] & parts[2]) and not (parts[1] & parts[2]) and not (parts[0] & parts[1])
    assert sum(map(len, parts)) == 32
    assert sidecar["metrics"]["test_accuracy"] >= 0.8, sidecar["metrics"]  # chance is 1/2
    assert sidecar["hyperparameters"]["epochs"] == 6
    assert "tensorflow" in sidecar["versions"]

    model = keras.models.load_model(output)
    assert model.layers[-1].get_config()["activation"] == "linear"  # logits, not probabilities
    rows = history_rows(tmp_path / "student.history.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(6))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(rows[0])
    assert float(rows[0]["learning_rate"]) == pytest.approx(1e-3)
    for part in ("train", "validation"):
        assert list((tmp_path / "tb" / part).glob("events.out.tfevents.*")), part
    assert not (tmp_path / "student.best.keras").exists() and not (tmp_path / "student.backup").exists()
    assert "test accuracy" in result.stdout
    curves = tmp_path / "student.curves.png"
    assert sidecar["curves"] == str(curves) and curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert getattr(model, "optimizer", None) is None  # the saved result holds the weights, not Adam's moments


def test_killed_training_resumes_from_its_last_finished_epoch(frames, tmp_path):
    output = tmp_path / "teacher.keras"
    command = ["train_teacher.py", "--data", frames, "--epochs", 5, "--output_path", output,
               "--logdir", tmp_path / "tb", *TINY, "--width", "0.125"]
    process = start_script(*command)
    history = tmp_path / "teacher.history.csv"
    deadline = time.monotonic() + 240
    while len(history_rows(history)) < 2:  # two epochs logged: the backup holds at least the first
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    signal_group(process, signal.SIGKILL)
    process.wait()
    assert not output.exists()
    assert (tmp_path / "teacher.backup").is_dir()

    result = run_in_process(*command)
    assert result.returncode == 0, result.stderr
    assert "resuming from the end of epoch" in result.stdout
    resumed_from = int(result.stdout.split("resuming from the end of epoch")[1].split()[0])
    assert resumed_from in (1, 2)  # the kill may fall between the history row and the backup
    rows = history_rows(history)
    assert [int(r["epoch"]) for r in rows] == list(range(5))  # each epoch once, none lost
    assert json.loads((tmp_path / "teacher.json").read_text())["hyperparameters"]["epochs"] == 5
    assert not (tmp_path / "teacher.backup").exists()

    # killed after the final model was moved into place but before its backup was removed
    (tmp_path / "teacher.backup").mkdir()
    (tmp_path / "teacher.backup" / "training_metadata.json").write_text('{"epoch": 5}')
    saved = output.stat().st_mtime_ns
    result = run_in_process(*command)
    assert result.returncode == 0, result.stderr
    assert "was complete; removed the backup" in result.stdout
    assert output.stat().st_mtime_ns == saved and not (tmp_path / "teacher.backup").exists()


def test_same_seed_gives_the_same_split_and_the_same_model(frames, tmp_path):
    import keras

    runs = []
    for name, run in (("a", run_script), ("b", run_in_process)):  # a new process, then the test's own: same model
        output = tmp_path / f"{name}.keras"
        result = run("train_student.py", "--data", frames, "--epochs", 1, "--output_path", output,
                            "--logdir", tmp_path / name, "--split", "group", *TINY)
        assert result.returncode == 0, result.stderr
        runs.append((json.loads((tmp_path / f"{name}.json").read_text()), keras.models.load_model(output)))
    (first, model_a), (second, model_b) = runs
    assert first["split"] == second["split"]
    timing = ("train_seconds", "peak_rss_mib")
    assert {k: v for k, v in first["metrics"].items() if k not in timing} == \
        {k: v for k, v in second["metrics"].items() if k not in timing}
    for a, b in zip(model_a.get_weights(), model_b.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sports1m_fine_tuning_trains_only_the_head_and_saves_a_legacy_h5(tmp_path):
    import keras

    import models.c3d  # noqa: F401  registers the Sports-1M preprocessing layer for loading
    from tests.sports1m_factory import port_shapes, random_weights, write_keras2_file

    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=3, clips=3,
                                 shape=(16, 16, 16))
    weights = random_weights(port_shapes(flat_cells=1))
    write_keras2_file(tmp_path / "sports1M_weights_tf.h5", weights)
    output = tmp_path / "tutl.h5"
    result = run_in_process("train_teacher.py", "--data", frames, "--task", "fintuning_C3D_Sports1M",
                            "--weights", tmp_path / "sports1M_weights_tf.h5", "--epochs", 2, "--batch_size", 4,
                            "--output_path", output, "--logdir", tmp_path / "tb")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "tutl.json").read_text())
    assert sidecar["architecture"] == "c3d_sports1m" and sidecar["task"] == "fintuning_C3D_Sports1M"
    model = keras.models.load_model(output)
    for name in ("conv1", "conv5b", "fc7"):
        assert not model.get_layer(name).trainable
        for saved, original in zip(model.get_layer(name).get_weights(), weights[name]):
            np.testing.assert_array_equal(saved, original)
    assert model.get_layer("logits").trainable
