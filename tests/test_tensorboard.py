"""Bare commands in an empty folder, and TensorBoard as the lab notebook: HParams, test scores and plots,
a log file beside the model."""


from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.frames_factory import write_frames_folder
from tests.scripts import run_in_process


def events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def hparams_runs(root):
    """Runs under ``root`` holding an HParams record (the plugin's session-start summary)."""
    found = []
    for folder in sorted({p.parent for p in root.rglob("events.out.tfevents*")}):
        try:
            content = events(folder).PluginTagToContent("hparams")
        except KeyError:  # no HParams summary in this folder (e.g. Keras's train/ and validation/ logs)
            continue
        if "_hparams_/session_start_info" in content:
            found.append(folder)
    return found


def test_bare_commands_in_an_empty_folder_write_defaults_logs_and_tensorboard_records(tmp_path, monkeypatch):
    frames = write_frames_folder(tmp_path / "frames", shape=(16, 16, 16))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # the scripts' default outputs are relative to where they run

    trained = run_in_process("train_student.py", "--data", frames, "--epochs", 1, "--width", 0.125, "--batch_size", 4)
    assert trained.returncode == 0, trained.stderr
    model = empty / "outputs" / "student.keras"
    assert model.is_file() and model.with_suffix(".json").is_file()
    log = (empty / "outputs" / "student.log").read_text()
    assert "command: " in log and "train_student.py" in log and '"batch_size": 4' in log
    assert "epoch 1/1: " in log and "student saved to outputs/student.keras: test accuracy" in log
    scored = run_in_process("evaluate.py", "--data", frames, "--recognizer", "outputs/student.keras", "--timing_runs", 0)
    assert scored.returncode == 0, scored.stderr
    assert (empty / "evaluation" / "student" / "metrics.json").is_file()

    run = empty / "runs" / "student"
    assert hparams_runs(run) == [run]
    tags = set()
    for folder in {p.parent for p in run.rglob("events.out.tfevents*")}:
        found = events(folder).Tags()
        tags |= set(found["tensors"]) | set(found["scalars"]) | set(found["images"])
    assert {"test/top1_accuracy", "test/top5_accuracy", "test/mean_class_accuracy", "test/macro_f1"} <= tags
    assert {"test/confusion_matrix", "test/roc"} <= tags

    again = run_in_process("train_student.py", "--data", frames, "--epochs", 1, "--width", 0.125, "--batch_size", 4,
                           "--output_path", empty / "missing" / "student.keras")
    assert again.returncode == 2 and "does not exist" in again.stderr  # a folder given explicitly must exist
