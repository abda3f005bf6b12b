"""The bad-input matrix: the cases, their shared data and the check, run by tests/test_bad_input*.py.

The bad-input contract, case by case, on the real scripts: each script's main() run in the test's process
with its arguments, inside the scripts' own error boundary (tests/scripts.run_in_process), so a case costs
no TensorFlow start-up. tests/test_bad_flags.py adds the cases generated from each flag's declared role.

Every case must end with exit status 2, one line on stderr that names the file or flag and the
problem, no traceback, and must leave what the user already had untouched: each case points the
script's output at a folder holding an earlier result, and checks that folder afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, lock_held_by_another_process, run_in_process, snapshot
from tests.video_factory import write_video

SHAPE = (16, 16, 16)
TINY = ["--width", "0.125", "--batch_size", "4", "--epochs", "1"]




@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Good frames, a trained teacher, damaged variants of both, and an output folder with earlier results."""
    root = tmp_path_factory.mktemp("bad_input")
    frames = write_frames_folder(root / "frames", groups=4, clips=3, shape=SHAPE)
    teacher = root / "teacher.keras"
    result = run_in_process("train_teacher.py", "--data", frames, "--output_path", teacher, "--logdir", root / "tb",
                            *TINY)
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
    def backup_with(name: str, files: dict[str, str]) -> Path:  # an interrupted run's backup folder
        backup = root / name / "student.backup"
        backup.mkdir(parents=True)
        for file_name, text in files.items():
            (backup / file_name).write_text(text)
        return backup.parent

    def raw_sidecar(name: str, content: bytes) -> Path:
        path = root / f"{name}.keras"
        shutil.copy(teacher, path)
        path.with_suffix(".json").write_bytes(content)
        return path

    def logits_model(name: str, outputs: int = 3, shape=SHAPE, two_heads: bool = False) -> Path:
        clips = keras.Input((*shape, 3), dtype="uint8")
        flat = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(clips))
        heads = [keras.layers.Dense(outputs)(flat)] + ([keras.layers.Dense(outputs)(flat)] if two_heads else [])
        keras.Model(clips, heads if two_heads else heads[0]).save(root / f"{name}_model.keras")
        return teacher_variant(name, model=root / f"{name}_model.keras")

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
        "other_frames": variant("other_frames", lambda f: np.save(f / "frames.npy", 255 - np.load(f / "frames.npy"))),
        "fortran_frames": variant("fortran_frames", lambda f: np.save(
            f / "frames.npy", np.asfortranarray(np.load(f / "frames.npy")))),
        "duplicate_classes": variant("duplicate_classes", lambda f: (f / "classes.txt").write_text(
            (f / "classes.txt").read_text().splitlines()[0] + "\n" + (f / "classes.txt").read_text())),
        "undecodable_classes": variant("undecodable_classes", lambda f: (f / "classes.txt").write_bytes(
            b"Red\n\xff\xfeGreen\nBlue\n")),
        "other_run": backup_with("other_run", {"run.json": json.dumps({"role": "student", "seed": 7})}),
        "bad_run_record": backup_with("bad_run_record", {"run.json": "{"}),
        "empty_metadata": backup_with("empty_metadata", {"training_metadata.json": ""}),
        "sidecar_list": raw_sidecar("sidecar_list", b"[]"),
        "sidecar_null": raw_sidecar("sidecar_null", b"null"),
        "sidecar_empty": raw_sidecar("sidecar_empty", b""),
        "sidecar_latin1": raw_sidecar("sidecar_latin1", json.dumps(record).encode()[:-1] + b', "x": "\xe9"}'),
        "split_text": teacher_variant("split_text", lambda r: r.update(split="abc")),
        "split_seed_text": teacher_variant("split_seed_text", lambda r: r["split"].update(seed="0")),
        "shape_number": teacher_variant("shape_number", lambda r: r.update(input_shape=16)),
        "distillation_text": teacher_variant("distillation_text", lambda r: r.update(distillation="x")),
        "classes_text": teacher_variant("classes_text", lambda r: r.update(classes="Red")),
        "role_unknown": teacher_variant("role_unknown", lambda r: r.update(role="oracle")),
        "few_outputs": logits_model("few_outputs", outputs=2),
        "other_input": logits_model("other_input", shape=(8, 16, 16)),
        "two_heads": logits_model("two_heads", two_heads=True),
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
    "batch size 0": ("train_student.py", ["--batch_size", "0"], ["--batch_size", "must be an integer from 1", "got 0"]),
    "batch size above the training set": ("train_teacher.py", ["--batch_size", "500"],
                                          ["--batch_size 500", "larger than the"]),
    "epochs 0": ("train_student.py", ["--epochs", "0"], ["--epochs", "must be an integer from 1", "got 0"]),
    "epochs negative": ("train_teacher.py", ["--epochs", "-3"], ["--epochs", "-3"]),
    "fine-tuning without weights": ("train_teacher.py", ["--task", "fintuning_C3D_Sports1M"], ["--weights"]),
    "weights not a weights file": ("train_teacher.py", ["--task", "fintuning_C3D_Sports1M", "--weights",
                                                        "{text_frames}/frames.npy", "--width", "1.0"],
                                   ["frames.npy"]),
    "learning rate 0": ("train_student.py", ["--lr", "0"], ["--lr", "above 0", "got 0"]),
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
    "temperature 0": ("distill.py", ["--temperature", "0"], ["--temperature", "above 0", "got 0"]),
    "temperature negative in a sweep": ("distill.py", ["--temperatures", "1", "-5"], ["--temperatures", "-5"]),
    "alpha above 1": ("distill.py", ["--alpha", "1.5"], ["--alpha", "from 0 to 1", "got 1.5"]),
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
    # outputs that would overwrite inputs, or each other
    "student written over its teacher": ("distill.py", ["--source", "{previous}/model.keras"],
                                         ["--output_path {previous}/model.keras", "is --source"]),
    "history written over the teacher's sidecar": ("distill.py", ["--output_path", "{root}/s.keras", "--source",
                                                                  "{previous}/model.keras", "--log_path",
                                                                  "{previous}/model.json"],
                                                   ["--log_path", "the teacher's sidecar"]),
    "TensorBoard folder holding the frames": ("train_student.py", ["--output_path", "{root}/s.keras", "--logdir",
                                                                   "{frames}"], ["--logdir", "contains --data"]),
    "history named as the model": ("train_teacher.py", ["--output_path", "{root}/s.keras", "--log_path",
                                                        "{root}/s.keras"], ["--log_path", "same file as --output_path"]),
    "evaluation written into the frames folder": ("evaluate.py", ["--output_dir", "{frames}"],
                                                  ["--output_dir", "contains --data"]),
    "export written over the model's folder": ("export_student.py", ["--recognizer", "{previous}/model.keras",
                                                                     "--output_dir", "{previous}"],
                                               ["--output_dir", "contains --recognizer"]),
    "reproduction written over its data": ("reproduce_paper.py", ["--output_dir", "{root}"], ["--output_dir",
                                                                                              "contains --data"]),
    # finished outputs and backups of other runs
    "finished model of other settings": ("train_student.py", ["--seed", "3"],
                                         ["{previous}/model.keras", "other settings", "--overwrite"]),
    "finished distillation over a teacher of other settings": ("distill.py", ["--temperature", "4"],
                                                               ["{previous}/model.keras", "other settings"]),
    "backup of a run with other settings": ("train_student.py", ["--output_path", "{other_run}/student.keras"],
                                            ["student.backup", "other settings", "--overwrite"]),
    "backup with a damaged run record": ("train_student.py", ["--output_path", "{bad_run_record}/student.keras"],
                                         ["run.json", "damaged"]),
    "backup metadata left empty": ("train_teacher.py", ["--output_path", "{empty_metadata}/student.keras"],
                                   ["student.backup", "damaged", "holds no epoch"]),
    # a run already writing the same output
    "training output in use": ("train_student.py", ["--output_path", "{root}/locked/s.keras"],
                               ["--output_path", "being written by another run"]),
    "distillation output in use": ("distill.py", ["--output_path", "{root}/locked/d.keras"],
                                   ["--output_path", "being written by another run"]),
    "evaluation folder in use": ("evaluate.py", ["--output_dir", "{root}/locked/evaluation"],
                                 ["--output_dir", "being written by another run"]),
    "export folder in use": ("export_student.py", ["--output_dir", "{root}/locked/export"],
                             ["--output_dir", "being written by another run"]),
    "reproduction folder in use": ("reproduce_paper.py", ["--output_dir", "{root}/locked/reproduction"],
                                   ["--output_dir", "being written by another run"]),
    # sidecars of the wrong shape
    "sidecar a JSON list": ("evaluate.py", ["--recognizer", "{sidecar_list}"], ["sidecar_list.json", "JSON object"]),
    "sidecar null": ("distill.py", ["--source", "{sidecar_null}"], ["sidecar_null.json", "JSON object"]),
    "sidecar empty": ("evaluate.py", ["--recognizer", "{sidecar_empty}"], ["sidecar_empty.json", "not valid JSON"]),
    "sidecar not UTF-8": ("distill.py", ["--source", "{sidecar_latin1}"], ["sidecar_latin1.json", "UTF-8"]),
    "sidecar not UTF-8, evaluated": ("evaluate.py", ["--recognizer", "{sidecar_latin1}"], ["sidecar_latin1.json",
                                                                                           "UTF-8"]),
    "sidecar split a string": ("evaluate.py", ["--recognizer", "{split_text}"], ["split_text.json", "split"]),
    "sidecar split a string, distilled": ("distill.py", ["--source", "{split_text}"], ["split_text.json", "split"]),
    "sidecar seed a string": ("distill.py", ["--source", "{split_seed_text}"], ["split_seed_text.json", "seed"]),
    "sidecar seed a string, evaluated": ("evaluate.py", ["--recognizer", "{split_seed_text}"],
                                         ["split_seed_text.json", "seed"]),
    "sidecar input shape a number": ("evaluate.py", ["--recognizer", "{shape_number}"],
                                     ["shape_number.json", "input_shape"]),
    "sidecar input shape a number, exported": ("export_student.py", ["--recognizer", "{shape_number}"],
                                               ["shape_number.json", "input_shape"]),
    "sidecar distillation a string": ("evaluate.py", ["--recognizer", "{distillation_text}"],
                                      ["distillation_text.json", "distillation"]),
    "sidecar classes a string": ("distill.py", ["--source", "{classes_text}"], ["classes_text.json", "classes"]),
    "sidecar of an unknown role": ("evaluate.py", ["--recognizer", "{role_unknown}"], ["role_unknown.json", "role"]),
    # models that do not match their sidecar
    "model with fewer outputs than classes": ("evaluate.py", ["--recognizer", "{few_outputs}"],
                                              ["few_outputs.keras", "2 scores", "3 classes"]),
    "teacher with fewer outputs than classes": ("distill.py", ["--source", "{few_outputs}"],
                                                ["few_outputs.keras", "2 scores", "3 classes"]),
    "exported model with fewer outputs than classes": ("export_student.py", ["--recognizer", "{few_outputs}"],
                                                       ["few_outputs.keras", "2 scores", "3 classes"]),
    "model of another input shape": ("evaluate.py", ["--recognizer", "{other_input}"],
                                     ["other_input.keras", "input shape [8, 16, 16, 3]"]),
    "teacher of another input shape": ("distill.py", ["--source", "{other_input}"],
                                       ["other_input.keras", "input shape [8, 16, 16, 3]"]),
    "model with two outputs": ("evaluate.py", ["--recognizer", "{two_heads}"], ["two_heads.keras", "2 outputs"]),
    "exported model with two outputs": ("export_student.py", ["--recognizer", "{two_heads}"],
                                        ["two_heads.keras", "2 outputs"]),
    # frames other than the model's
    "evaluated on other frames": ("evaluate.py", ["--data", "{other_frames}"], ["other frames", "--allow_other_frames"]),
    "distilled on other frames": ("distill.py", ["--data", "{other_frames}"], ["other frames", "--allow_other_frames"]),
    "exported with other frames": ("export_student.py", ["--data", "{other_frames}"], ["other frames"]),
    # reads that could be silently wrong
    "frames in Fortran order": ("train_student.py", ["--data", "{fortran_frames}"], ["frames.npy", "Fortran"]),
    "class listed twice": ("train_teacher.py", ["--data", "{duplicate_classes}"], ["classes.txt", "listed twice"]),
    "class list not UTF-8": ("train_student.py", ["--data", "{undecodable_classes}"], ["classes.txt", "UTF-8"]),
    # numbers from the command line
    "learning rate infinite": ("train_student.py", ["--lr", "inf"], ["--lr", "finite"]),
    "learning rate not a number": ("train_teacher.py", ["--lr", "nan"], ["--lr", "nan"]),
    "width infinite": ("train_student.py", ["--width", "inf"], ["--width", "finite"]),
    "width 0": ("train_teacher.py", ["--width", "0"], ["--width"]),
    "temperature infinite": ("distill.py", ["--temperature", "inf"], ["--temperature", "finite"]),
    "temperature not a number": ("distill.py", ["--temperature", "nan"], ["--temperature", "nan"]),
    "seed negative": ("train_student.py", ["--seed", "-1"], ["--seed", "-1"]),
    "seed above 2**32": ("train_teacher.py", ["--seed", "4294967296"], ["--seed", "4294967296"]),
    "test size not a number": ("train_student.py", ["--test_size", "nan"], ["--test_size"]),
    "validation size above 1": ("train_student.py", ["--val_size", "1.5"], ["--val_size"]),
    "batch size a word": ("train_teacher.py", ["--batch_size", "eight"], ["--batch_size", "eight"]),
    "epochs a fraction": ("train_student.py", ["--epochs", "1.5"], ["--epochs", "1.5"]),
    "export clips negative": ("export_student.py", ["--max_clips", "-1"], ["--max_clips"]),
    "export timing runs negative": ("export_student.py", ["--timing_runs", "-2"], ["--timing_runs"]),
    "reproduction seed negative": ("reproduce_paper.py", ["--seeds", "0", "-1"], ["--seeds", "-1"]),
    "reproduction temperature infinite": ("reproduce_paper.py", ["--temperatures", "inf"], ["--temperatures"]),
    "synthetic seed negative": ("make_synthetic_dataset.py", ["--seed", "-1"], ["--seed", "-1"]),
    "synthetic distractors negative": ("make_synthetic_dataset.py", ["--distractors", "-1"], ["--distractors"]),
    "synthetic frame rate infinite": ("make_synthetic_dataset.py", ["--fps", "inf"], ["--fps", "finite"]),
    # the cluster configuration
    "TF_CONFIG missing": ("train_student.py", ["--strategy", "multiworker"], ["TF_CONFIG is not set"]),
    "TF_CONFIG not JSON": ("train_student.py", ["--strategy", "multiworker"], ["TF_CONFIG", "not valid JSON"]),
    "TF_CONFIG task index out of range": ("train_student.py", ["--strategy", "multiworker"],
                                          ["TF_CONFIG", "task.index", "0 to 1"]),
    "TF_CONFIG worker without a port": ("train_student.py", ["--strategy", "multiworker"],
                                        ["TF_CONFIG", "cluster.worker", "host:port"]),
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
    "make_synthetic_dataset.py": ["--output_path", "{previous}/synthetic", "--groups", "1"],
    "video_to_frames.py": ["--input_path", "{videos}", "--output_path", "{previous}/frames", "--sequence_length", "8",
                           "--no_progress"],
}


CLUSTER = {"worker": ["localhost:12345", "localhost:23456"]}
ENVIRONMENT = {
    "TF_CONFIG not JSON": {"TF_CONFIG": "{cluster: workers"},
    "TF_CONFIG task index out of range": {"TF_CONFIG": json.dumps({"cluster": CLUSTER,
                                                                   "task": {"type": "worker", "index": 2}})},
    "TF_CONFIG worker without a port": {"TF_CONFIG": json.dumps({"cluster": {"worker": ["localhost"]},
                                                                 "task": {"type": "worker", "index": 0}})},
}


def check_case(setup: dict, case: str) -> None:
    """Run one case and check the contract (module docstring)."""
    script, arguments, fragments = CASES[case]
    values = {key: str(value) for key, value in setup.items()}
    if any("{read_only}" in a for a in arguments):
        values["read_only"] = str(read_only_folder(setup["root"]))
    before = snapshot(setup["previous"])
    environment = ENVIRONMENT.get(case, {"TF_CONFIG": None})
    with contextlib.ExitStack() as held:
        for argument in arguments:  # a case writing into {root}/locked/ meets another run holding its output
            if "{root}/locked/" in argument:
                held.enter_context(lock_held_by_another_process(Path(argument.format(**values))))
        result = run_in_process(script, *[a.format(**values) for a in BASE[script] + arguments], env=environment)
    assert_one_line_error(result, *[f.format(**values) for f in fragments])
    assert snapshot(setup["previous"]) == before
    assert sorted(p.name for p in setup["previous"].iterdir()) == ["model.history.csv", "model.json", "model.keras"]


MODEL_READERS = ("distill.py", "evaluate.py", "export_student.py", "reproduce_paper.py")
