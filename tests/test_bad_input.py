"""The bad-input contract, case by case, on the real scripts run as a user runs them.

Every case must end with exit status 2, one line on stderr that names the file or flag and the
problem, no traceback, and must leave what the user already had untouched: each case points the
script's output at a folder holding an earlier result, and checks that folder afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_script
from tests.video_factory import write_video

SHAPE = (16, 16, 16)
TINY = ["--width", "0.125", "--batch_size", "4", "--epochs", "1"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Good frames, a trained teacher, damaged variants of both, and an output folder with earlier results."""
    root = tmp_path_factory.mktemp("bad_input")
    frames = write_frames_folder(root / "frames", groups=4, clips=3, shape=SHAPE)
    teacher = root / "teacher.keras"
    result = run_script("train_teacher.py", "--data", frames, "--output_path", teacher, "--logdir", root / "tb", *TINY)
    assert result.returncode == 0, result.stderr
    record = json.loads(teacher.with_suffix(".json").read_text())

    def variant(name: str, change) -> Path:
        folder = root / name
        shutil.copytree(frames, folder)
        change(folder)
        return folder

    def teacher_variant(name: str, change_record=None, model: Path | None = None) -> Path:
        path = root / f"{name}.keras"
        shutil.copy(model or teacher, path)
        changed = json.loads(json.dumps(record))
        if change_record:
            change_record(changed)
        path.with_suffix(".json").write_text(json.dumps(changed))
        return path

    import keras

    frames_in = keras.Input((*SHAPE, 3), dtype="uint8")
    flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(frames_in))
    softmax_model = keras.Model(frames_in, keras.layers.Dense(3, activation="softmax")(flat))
    softmax_model.save(root / "softmax_model.keras")
    no_sidecar = root / "no_sidecar.keras"
    shutil.copy(teacher, no_sidecar)
    (root / "not_a_model.keras").write_text("not a zip file")
    (root / "not_a_model.json").write_text(teacher.with_suffix(".json").read_text())

    one_group = root / "one_group"  # class Red has a single group: a group split cannot test it
    write_frames_folder(one_group, groups=4, clips=3, shape=SHAPE)
    paths = np.load(one_group / "video_file_paths.npy")
    paths = np.array([p.replace("_g02_", "_g01_").replace("_g03_", "_g01_").replace("_g04_", "_g01_")
                      if p.startswith("Red/") else p for p in paths])
    np.save(one_group / "video_file_paths.npy", paths)

    empty_split_dir = root / "split_lists"
    empty_split_dir.mkdir()
    previous = root / "previous"  # an earlier result the failing runs must not touch
    previous.mkdir()
    for suffix in (".keras", ".json", ".history.csv"):
        shutil.copy(root / f"teacher{suffix}", previous / f"model{suffix}")
    damaged = root / "damaged" / "student.backup"  # an interrupted run's backup, damaged since
    damaged.mkdir(parents=True)
    (damaged / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (damaged / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    videos = root / "videos"
    write_video(videos / "Walk" / "v_Walk_g01_c01.avi", 20)
    write_video(videos / "Run" / "v_Run_g01_c01.avi", 20)
    return {
        "root": root, "frames": frames, "videos": videos, "teacher": teacher, "previous": previous,
        "missing": root / "nowhere" / "frames",
        "text_frames": variant("text_frames", lambda f: (f / "frames.npy").write_text("text")),
        "float_frames": variant("float_frames", lambda f: np.save(
            f / "frames.npy", np.load(f / "frames.npy").astype(np.float32))),
        "4d_frames": variant("4d_frames", lambda f: np.save(f / "frames.npy", np.load(f / "frames.npy")[..., 0])),
        "short_labels": variant("short_labels", lambda f: np.save(f / "labels.npy", np.load(f / "labels.npy")[:-1])),
        "labels_out_of_range": variant("labels_out_of_range", lambda f: np.save(
            f / "labels.npy", np.load(f / "labels.npy") + 1)),
        "one_group": one_group,
        "damaged": damaged.parent,
        "split_dir": empty_split_dir,
        "other_classes": teacher_variant("other_classes", lambda r: r.update(classes=["A", "B", "C"])),
        "other_shape": teacher_variant("other_shape", lambda r: r.update(input_shape=[16, 32, 32, 3])),
        "softmax": teacher_variant("softmax", model=root / "softmax_model.keras"),
        "no_sidecar": no_sidecar,
        "not_a_model": root / "not_a_model.keras",
    }


def read_only_folder(root: Path) -> Path:
    """A folder this process cannot write to (root ignores permission bits, so use /sys there)."""
    if os.geteuid() != 0:
        folder = root / "read_only"
        folder.mkdir(exist_ok=True)
        folder.chmod(0o555)
        return folder
    if not os.access("/sys", os.W_OK) or not _writable("/sys"):
        return Path("/sys")
    pytest.skip("no read-only folder available to root here")


def _writable(folder: str) -> bool:
    try:
        with open(Path(folder) / ".probe", "wb"):
            pass
    except OSError:
        return False
    os.unlink(Path(folder) / ".probe")
    return True


# (script, arguments with {placeholders}, fragments the error line must contain)
CASES = {
    # --data, --annotations and what they hold
    "data missing": ("train_student.py", ["--data", "{missing}"], ["{missing}: frames file not found"]),
    "data not npy": ("train_teacher.py", ["--data", "{text_frames}"], ["{text_frames}/frames.npy", "not a readable .npy"]),
    "frames not uint8": ("train_student.py", ["--data", "{float_frames}"], ["frames.npy", "expected uint8", "float32"]),
    "frames not 5-D": ("train_student.py", ["--data", "{4d_frames}"], ["frames.npy", "expected uint8 clips N×T×H×W×3"]),
    "annotations missing": ("train_student.py", ["--annotations", "{root}/no_labels.npy"],
                            ["no_labels.npy", "labels file not found"]),
    "labels shorter than frames": ("train_teacher.py", ["--data", "{short_labels}"], ["labels.npy", "35 labels for 36 clips"]),
    "labels out of range": ("train_student.py", ["--data", "{labels_out_of_range}"],
                            ["labels.npy", "labels range 1..3", "3 classes"]),
    # training flags
    "batch size 0": ("train_student.py", ["--batch_size", "0"], ["--batch_size", "positive integer"]),
    "batch size above the training set": ("train_teacher.py", ["--batch_size", "500"],
                                          ["--batch_size 500", "larger than the"]),
    "epochs 0": ("train_student.py", ["--epochs", "0"], ["--epochs", "positive integer"]),
    "epochs negative": ("train_teacher.py", ["--epochs", "-3"], ["--epochs", "-3"]),
    "fine-tuning without weights": ("train_teacher.py", ["--task", "fintuning_C3D_Sports1M"], ["--weights"]),
    "weights not a weights file": ("train_teacher.py", ["--task", "fintuning_C3D_Sports1M", "--weights",
                                                        "{text_frames}/frames.npy", "--width", "1.0"],
                                   ["frames.npy"]),
    "learning rate 0": ("train_student.py", ["--lr", "0"], ["--lr", "positive number"]),
    "output in a missing folder": ("train_student.py", ["--output_path", "{root}/missing_dir/s.keras"],
                                   ["--output_path", "missing_dir", "does not exist"]),
    "output in a read-only folder": ("train_teacher.py", ["--output_path", "{read_only}/t.keras"],
                                     ["--output_path", "{read_only}", "cannot write"]),
    "backup damaged": ("train_student.py", ["--output_path", "{damaged}/student.keras"],
                       ["{damaged}/student.backup", "cannot be loaded", "delete this folder"]),
    "output not .keras": ("train_student.py", ["--output_path", "{previous}/model.pt"], ["model.pt", ".keras"]),
    # splits
    "official split without lists": ("train_student.py", ["--split", "official", "--split_dir", "{split_dir}"],
                                     ["{split_dir}"]),
    "official split without --split_dir": ("train_teacher.py", ["--split", "official"], ["--split_dir"]),
    "test split empty for a class": ("train_student.py", ["--data", "{one_group}", "--split", "group"],
                                     ["Red", "group"]),
    "test size 1": ("train_student.py", ["--test_size", "1"], ["--test_size"]),
    # distillation
    "source missing": ("distill.py", ["--source", "{root}/absent.keras"], ["--source", "absent.keras", "not found"]),
    "source without sidecar": ("distill.py", ["--source", "{no_sidecar}"], ["no_sidecar.json", "sidecar not found"]),
    "source not a model": ("distill.py", ["--source", "{not_a_model}"], ["--source", "not_a_model.keras",
                                                                           "cannot be loaded"]),
    "teacher of other classes": ("distill.py", ["--source", "{other_classes}"], ["other_classes.keras", "classes differ"]),
    "teacher of other clip shape": ("distill.py", ["--source", "{other_shape}"],
                                    ["other_shape.keras", "input shape [16, 32, 32, 3]"]),
    "teacher ending in softmax": ("distill.py", ["--source", "{softmax}"], ["softmax.keras", "softmax"]),
    "temperature 0": ("distill.py", ["--temperature", "0"], ["--temperature", "positive number"]),
    "temperature negative in a sweep": ("distill.py", ["--temperatures", "1", "-5"], ["--temperatures", "-5"]),
    "alpha above 1": ("distill.py", ["--alpha", "1.5"], ["--alpha", "between 0 and 1"]),
    "alpha below 0": ("distill.py", ["--alpha", "-0.1"], ["--alpha", "-0.1"]),
    "split other than the teacher's": ("distill.py", ["--seed", "4"], ["--seed 4", "the teacher"]),
    "protocol other than the teacher's": ("distill.py", ["--split", "group"], ["--split group", "the teacher"]),
    # evaluation
    "recognizer missing": ("evaluate.py", ["--recognizer", "{root}/absent.keras"], ["absent.keras", "not found"]),
    "recognizer without sidecar": ("evaluate.py", ["--recognizer", "{no_sidecar}"], ["no_sidecar.json", "not found"]),
    "recognizer not a model": ("evaluate.py", ["--recognizer", "{not_a_model}"], ["not_a_model.keras", "cannot be loaded"]),
    "recognizer of other classes": ("evaluate.py", ["--recognizer", "{other_classes}"], ["other_classes.json",
                                                                                         "classes differ"]),
    "evaluation output read-only": ("evaluate.py", ["--output_dir", "{read_only}/evaluation"],
                                    ["--output_dir", "{read_only}"]),
    "timing runs negative": ("evaluate.py", ["--timing_runs", "-1"], ["--timing_runs"]),
    # export
    "export model missing": ("export_student.py", ["--recognizer", "{root}/absent.keras"], ["absent.keras", "not found"]),
    "export model not a model": ("export_student.py", ["--recognizer", "{not_a_model}"],
                                 ["not_a_model.keras", "cannot be loaded"]),
    "export model of other classes": ("export_student.py", ["--recognizer", "{other_classes}"],
                                      ["other_classes.json", "classes differ"]),
    "export output read-only": ("export_student.py", ["--output_dir", "{read_only}/export"], ["--output_dir"]),
    # the reproduction
    "reproduction data missing": ("reproduce_paper.py", ["--data", "{missing}"], ["{missing}: frames file not found"]),
    "reproduction weights missing": ("reproduce_paper.py", ["--weights", "{root}/absent.h5"], ["--weights", "absent.h5"]),
    "reproduction epochs 0": ("reproduce_paper.py", ["--epochs", "0"], ["--epochs"]),
    "reproduction output read-only": ("reproduce_paper.py", ["--output_dir", "{read_only}/r"], ["--output_dir"]),
    # extraction
    "extraction input missing": ("video_to_frames.py", ["--input_path", "{missing}"], ["{missing}", "does not exist"]),
    "extraction output read-only": ("video_to_frames.py", ["--output_path", "{read_only}/frames"], ["{read_only}/frames"]),
    "extraction sequence length 0": ("video_to_frames.py", ["--sequence_length", "0"], ["--sequence_length"]),
}

# what each script needs besides the case's own arguments (the case's flags come last and win)
BASE = {
    "train_student.py": ["--data", "{frames}", "--output_path", "{previous}/model.keras", "--logdir", "{root}/tb_bad",
                         *TINY],
    "train_teacher.py": ["--data", "{frames}", "--output_path", "{previous}/model.keras", "--logdir", "{root}/tb_bad",
                         *TINY],
    "distill.py": ["--data", "{frames}", "--source", "{teacher}", "--output_path", "{previous}/model.keras",
                   "--logdir", "{root}/tb_bad", *TINY],
    "evaluate.py": ["--data", "{frames}", "--recognizer", "{teacher}", "--output_dir", "{previous}/evaluation"],
    "export_student.py": ["--data", "{frames}", "--recognizer", "{teacher}", "--output_dir", "{previous}/export"],
    "reproduce_paper.py": ["--data", "{frames}", "--output_dir", "{previous}/reproduction", "--epochs", "1"],
    "video_to_frames.py": ["--input_path", "{videos}", "--output_path", "{previous}/frames", "--sequence_length", "8",
                           "--no_progress"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_touches_nothing(setup, case):
    script, arguments, fragments = CASES[case]
    values = {key: str(value) for key, value in setup.items()}
    if any("{read_only}" in a for a in arguments):
        values["read_only"] = str(read_only_folder(setup["root"]))
    before = snapshot(setup["previous"])
    result = run_script(script, *[a.format(**values) for a in BASE[script] + arguments])
    assert_one_line_error(result, *[f.format(**values) for f in fragments])
    assert snapshot(setup["previous"]) == before
    assert sorted(p.name for p in setup["previous"].iterdir()) == ["model.history.csv", "model.json", "model.keras"]
