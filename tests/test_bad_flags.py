"""Bad values for every flag of every script, generated from the role each flag declares (utils/cli.py).

A flag's ``type`` says what it is: a number with its range (utils/cli.Number), or a path with its role
(utils/cli.PathFlag: input file, input folder, output file, history file, TensorBoard folder, ...);
``choices`` declare the rest. For every flag of every script the cases its role calls for are made
here (NaN, the infinities, the ends of the range and beyond, a word; a missing path, a folder where a
file goes, a path under a file, a user's file at the name or a companion's name, another run's file,
a frames folder's file, ...), and each must end as the contract says: exit status 2, one line naming
the flag or the path, no traceback, and every file of the user's as it was. A new flag is covered by
declaring its type; a flag that declares none fails test_every_flag_declares_its_role.

The scripts run in this process (tests/scripts.run_in_process): a case that fails before TensorFlow
costs milliseconds.
"""

from __future__ import annotations

import importlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import run_in_process, snapshot
from tests.sports1m_factory import port_shapes, random_weights, write_keras2_file
from tests.video_factory import write_video
from utils.cli import Number, PathFlag

SHAPE = (16, 16, 16)
TINY = ["--width", "0.125", "--batch_size", "4", "--epochs", "1", "--mixed_precision", "off"]
SCRIPTS = ("train_teacher.py", "train_student.py", "distill.py", "pretrain_teacher.py", "evaluate.py",
           "export_student.py", "predict.py", "reproduce_paper.py", "make_synthetic_dataset.py", "video_to_frames.py",
           "kd_grid.py", "chain.py")

# A valid run of each script; a case replaces one flag's value. {case} is the case's own folder, {shared} the
# module's shared inputs.
BASE = {
    "train_teacher.py": ["--data", "{shared}/frames", "--output_path", "{case}/out.keras", "--logdir", "{case}/tb",
                         *TINY],
    "train_student.py": ["--data", "{shared}/frames", "--output_path", "{case}/out.keras", "--logdir", "{case}/tb",
                         *TINY],
    "distill.py": ["--data", "{shared}/frames", "--source", "{shared}/models/teacher.keras", "--output_path",
                   "{case}/out.keras", "--logdir", "{case}/tb", *TINY],
    "pretrain_teacher.py": ["--data", "{shared}/frames", "--output_path", "{case}/out.keras", "--logdir", "{case}/tb",
                            *TINY],
    "evaluate.py": ["--data", "{shared}/frames", "--recognizer", "{shared}/models/teacher.keras", "--output_dir",
                    "{case}/evaluation", "--timing_runs", "0"],
    "export_student.py": ["--data", "{shared}/frames", "--recognizer", "{shared}/models/teacher.keras", "--output_dir",
                          "{case}/export", "--timing_runs", "0", "--max_clips", "2", "--calibration_clips", "2"],
    "predict.py": ["{shared}/videos/Walk/v_Walk_g01_c01.avi", "--recognizer", "{shared}/models/teacher.keras"],
    "reproduce_paper.py": ["--data", "{shared}/frames", "--output_dir", "{case}/reproduction", "--epochs", "1",
                           "--batch_size", "4", "--teacher_width", "0.125", "--student_width", "0.125",
                           "--temperatures", "1", "--timing_runs", "0", "--mixed_precision", "off"],
    "make_synthetic_dataset.py": ["--output_path", "{case}/videos", "--classes", "2", "--groups", "1",
                                  "--clips_per_group", "1", "--frame_width", "32", "--frame_height", "32",
                                  "--min_seconds", "0.4", "--max_seconds", "0.4", "--workers", "1"],
    "video_to_frames.py": ["--input_path", "{shared}/videos", "--output_path", "{case}/frames", "--sequence_length",
                           "8", "--frame_height", "16", "--frame_width", "16", "--no_progress", "--workers", "1"],
    "kd_grid.py": ["--reproduction", "{shared}/reproduction", "--output_dir", "{case}/grid", "--seeds", "0"],
    "chain.py": [],
}
# Flags that only matter beside another: the case gives both.
CONTEXT = {("train_teacher.py", "--weights"): ["--task", "fintuning_C3D_Sports1M"],
           ("train_teacher.py", "--split_dir"): ["--split", "official"],
           ("train_student.py", "--split_dir"): ["--split", "official"],
           ("pretrain_teacher.py", "--split_dir"): ["--split", "official"],
           ("reproduce_paper.py", "--split_dir"): ["--split", "official"],
           ("evaluate.py", "--split_dir"): ["--split", "official"]}
# Flags whose cases a script reports under another name (the message names that instead).
NAMED_AS = {("distill.py", "--split_dir"): "--split_dir", ("distill.py", "--temperature"): "--temperature"}
# A name each output folder's run writes inside it: a user's file there must stay.
WRITES_INSIDE = {"evaluate.py": "comparison.md", "export_student.py": "model.json", "video_to_frames.py": "labels.npy",
                 "reproduce_paper.py": "paper_table.md", "kd_grid.py": "kd_grid.md",
                 "make_synthetic_dataset.py": "synthetic_videos.json"}
# Output files beside which a run writes companions (training runs: the sidecar, history, log).
COMPANIONS = {"--output_path": (".json", ".history.csv", ".log")}


def parser_of(script: str):
    return importlib.import_module(script.removesuffix(".py")).build_parser()


def flags(script: str):
    """(flag, argparse action) of every option the script takes, help aside."""
    for action in parser_of(script)._actions:
        if action.option_strings and action.dest != "help":
            yield action.option_strings[0], action


def role(action) -> str:
    if isinstance(action.type, Number):
        return "number"
    if isinstance(action.type, PathFlag):
        return action.type.role
    if action.choices is not None:
        return "choice"
    if action.nargs == 0:
        return "switch"
    return "undeclared"


@dataclass(frozen=True)
class Case:
    script: str
    flag: str
    kind: str
    values: tuple[str, ...]  # what the flag is given ({case}: the case's folder)
    prepare: str = ""  # what to put in the case's folder first (see make_case_folder)

    @property
    def id(self) -> str:
        return f"{self.script}:{self.flag}:{self.kind}"


def number_values(number: Number) -> list[tuple[str, str]]:
    below = number.low if number.low_open else number.low - 1
    above = number.high if number.high_open else number.high * 2 + 1
    values = [("NaN", "nan"), ("+inf", "inf"), ("-inf", "-inf"), ("a word", "many"),
              ("below the range", f"{below:g}" if not number.integer else str(int(below))),
              ("beyond the range", f"{above:.17g}" if not number.integer else str(int(above)))]
    if number.integer:
        values.append(("a fraction", "1.5"))
    return values


def path_cases(script: str, flag: str, kind: str) -> list[tuple[str, str, str]]:
    """(case kind, path given, what to prepare) for a path flag of role ``kind``."""
    file_name = {"history file": "history.csv", "output file": "out.h5" if flag == "--weights_output" else
                 ("picture.png" if flag == "--preview" else "out.keras")}.get(kind, "thing")
    cases = [("under a file", f"{{case}}/user_file.txt/{file_name}", "user_file")]
    if kind in ("input file", "input folder", "frames input"):
        cases += [("missing", "{case}/absent/" + file_name, ""),
                  ("a folder" if kind != "input folder" else "a file", "{case}/user_folder" if kind != "input folder"
                   else "{case}/user_file.txt", "user_folder user_file")]
    if kind in ("output file", "history file"):
        cases += [("a folder at the name", f"{{case}}/{file_name}", "folder_at_name"),
                  ("a user's file at the name", f"{{case}}/{file_name}", "user_at_name")]
    if kind == "output file" and flag in COMPANIONS:
        cases += [(f"a user's file at the {suffix} beside it", f"{{case}}/{file_name}", f"user_at{suffix}")
                  for suffix in COMPANIONS[flag]]
    if kind == "history file":
        cases += [("another model's history", "{shared}/models/teacher.history.csv", ""),
                  ("a frames folder's report", "{shared}/frames/Format_Time.csv", "")]
    if kind in ("output folder", "TensorBoard folder"):
        cases += [("a file at the name", "{case}/user_file.txt", "user_file")]
        inside = WRITES_INSIDE.get(script) if kind == "output folder" else "notes.txt"
        if inside:
            cases.append(("a user's file at a name it writes", "{case}/user_out", f"user_inside:{inside}"))
    return cases


def generated_cases() -> list[Case]:
    cases = []
    for script in SCRIPTS:
        for flag, action in flags(script):
            kind = role(action)
            if kind == "number":
                cases += [Case(script, flag, name, (value,)) for name, value in number_values(action.type)]
            elif kind == "choice":
                cases.append(Case(script, flag, "an unknown choice", ("no-such-choice",)))
            elif kind not in ("switch", "undeclared"):
                cases += [Case(script, flag, name, (path,), prepare) for name, path, prepare in
                          path_cases(script, flag, kind)]
    return cases


CASES = generated_cases()


def test_every_flag_declares_its_role():
    undeclared = [f"{script} {flag}" for script in SCRIPTS for flag, action in flags(script)
                  if role(action) == "undeclared"]
    assert not undeclared, f"declare a utils/cli type (Number, PathFlag) or choices for: {undeclared}"


def test_the_matrix_is_large():
    assert len(CASES) >= 400, len(CASES)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The inputs every case reads: frames, a trained teacher beside its history, videos, weights, a finished
    (fake) reproduction folder."""
    root = tmp_path_factory.mktemp("bad_flags")
    write_frames_folder(root / "frames", groups=4, clips=3, shape=SHAPE)
    (root / "frames" / "Format_Time.csv").write_text("class,videos_found\n")  # an extraction report to protect
    models = root / "models"
    models.mkdir()
    result = run_in_process("train_teacher.py", "--data", root / "frames", "--output_path", models / "teacher.keras",
                            "--logdir", root / "tb", *TINY)
    assert result.returncode == 0, result.stderr
    write_video(root / "videos" / "Walk" / "v_Walk_g01_c01.avi", 20)
    write_video(root / "videos" / "Run" / "v_Run_g01_c01.avi", 20)
    weights = root / "weights.h5"
    write_keras2_file(weights, random_weights(port_shapes(flat_cells=1, filters=(8, 16, 32, 32, 64, 64, 64, 64),
                                                          fc=(512, 512))))
    (root / "reproduction").mkdir()
    return root


def make_case_folder(case_dir: Path, prepare: str, flag: str) -> None:
    case_dir.mkdir()
    for item in prepare.split():
        if item == "user_file":
            (case_dir / "user_file.txt").write_text("a user's notes\n")
        elif item == "user_folder":
            (case_dir / "user_folder").mkdir()
            (case_dir / "user_folder" / "keep.txt").write_text("a user's file\n")
        elif item == "folder_at_name":
            name = "history.csv" if flag == "--log_path" else "out.h5" if flag == "--weights_output" else (
                "picture.png" if flag == "--preview" else "out.keras")
            (case_dir / name).mkdir()
            (case_dir / name / "keep.txt").write_text("a user's file\n")
        elif item == "user_at_name":
            name = "history.csv" if flag == "--log_path" else "out.h5" if flag == "--weights_output" else (
                "picture.png" if flag == "--preview" else "out.keras")
            (case_dir / name).write_text("a user's file\n")
        elif item.startswith("user_at."):
            (case_dir / ("out" + item[len("user_at"):])).write_text("a user's file\n")
        elif item.startswith("user_inside:"):
            inside = case_dir / "user_out" / item.split(":", 1)[1]
            inside.parent.mkdir(parents=True)
            inside.write_text("a user's file\n")


def arguments_of(case: Case, case_dir: Path, shared: Path) -> list[str]:
    base = list(BASE[case.script]) + CONTEXT.get((case.script, case.flag), [])
    if case.flag in base:  # the case's value replaces the base's
        at = base.index(case.flag)
        width = 1
        while at + width < len(base) and not base[at + width].startswith("--"):
            width += 1
        del base[at:at + width]
    given = base + [case.flag, *case.values]
    return [a.replace("{case}", str(case_dir)).replace("{shared}", str(shared)) for a in given]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_flag_value_is_one_line_exit_2_and_touches_nothing(case, shared, tmp_path):
    case_dir = tmp_path / "case"
    make_case_folder(case_dir, case.prepare, case.flag)
    before_case, before_shared = snapshot(case_dir), snapshot(shared)
    result = run_in_process(case.script, *arguments_of(case, case_dir, shared))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, (
        result.returncode, result.stderr[-2000:], result.stdout[-500:])
    given = [value.replace("{case}", str(case_dir)).replace("{shared}", str(shared)) for value in case.values]
    named = NAMED_AS.get((case.script, case.flag), case.flag)
    in_the_way = [str(case_dir / name) for name in before_case]  # the user's files the case put there
    assert named in lines[0] or any(value in lines[0] for value in given + in_the_way), lines[0]
    assert snapshot(shared) == before_shared
    after = snapshot(case_dir)
    assert {name: digest for name, digest in after.items() if name in before_case} == before_case
    shutil.rmtree(case_dir, ignore_errors=True)


def test_a_user_file_moved_aside_by_overwrite_is_kept(shared, tmp_path):
    """--overwrite moves a user's file in the way into NAME.previous/ and never deletes it, also once the new
    model is complete."""
    (tmp_path / "out.history.csv").write_text("a user's own table\n")
    result = run_in_process("train_student.py", "--data", shared / "frames", "--output_path", tmp_path / "out.keras",
                            "--logdir", tmp_path / "tb", *TINY, "--overwrite")
    assert result.returncode == 0, result.stderr
    kept = tmp_path / "out.previous" / "out.history.csv"
    assert kept.read_text() == "a user's own table\n"
    assert "out.previous" in result.stdout and (tmp_path / "out.json").is_file()
    assert np.isfinite(json.loads((tmp_path / "out.json").read_text())["metrics"]["test_accuracy"])
