"""The paper's protocol as a list of steps, each one of this project's scripts, run in order.

Every step is a separate process (memory and TensorFlow state are freed between models) whose
outputs are models with sidecars. A step whose outputs all exist, complete (no backup folder of an
interrupted run beside them) and made with the settings asked for now, is skipped; an interrupted
step is simply run again and resumes from its last finished epoch. A finished output made with
other settings (epochs, width, split, another teacher file, other frames) is refused rather than
mixed into the table.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from utils.errors import InputError
from utils.paper_results import DATASETS, PUBLISHED, ROWS, TEMPERATURES, distilled_row
from utils.run_setup import output_is_complete
from utils.sidecar import read_sidecar

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Step:
    title: str
    script: str
    arguments: list[str]
    outputs: list[Path]
    expected: dict  # sidecar values the outputs must carry: dotted key -> value
    teacher: Path | None = None  # distillation: outputs must come from this very teacher file
    rows: dict[str, Path] = field(default_factory=dict)  # table row -> model file


def split_arguments(args) -> list[str]:
    values = ["--split", args.split, "--test_size", str(args.test_size), "--val_size", str(args.val_size),
              "--seed", str(args.seed), "--split_id", str(args.split_id)]
    return values + (["--split_dir", str(args.split_dir)] if args.split_dir else [])


def plan(args, models: Path, runs: Path) -> list[Step]:
    """The training and distillation steps for these arguments (TUTL ones only with --weights)."""
    data = ["--data", str(args.data)] + (["--annotations", str(args.annotations)] if args.annotations else [])
    common = ["--batch_size", str(args.batch_size), "--lr", str(args.lr)]
    split = {"split.protocol": args.split, "split.test_size": args.test_size, "split.val_size": args.val_size,
             "split.seed": args.seed, "split.split_id": args.split_id,
             "split.split_dir": str(args.split_dir) if args.split_dir else None}

    def training(epochs: float, width: float) -> dict:
        return {"hyperparameters.epochs": epochs, "hyperparameters.width": width,
                "hyperparameters.batch_size": args.batch_size, "hyperparameters.lr": args.lr, **split}

    teachers = [("TFS", ["--task", "train_local_teacher", "--width", str(args.teacher_width)], args.teacher_width)]
    if args.weights:
        teachers.append(("TUTL", ["--task", "fintuning_C3D_Sports1M", "--weights", str(args.weights),
                                  "--width", "1.0"], 1.0))
    steps = []
    for name, flags, width in teachers:
        model = models / f"teacher_{name}.keras"
        steps.append(Step(f"{name} teacher", "train_teacher.py",
                          data + flags + common + ["--epochs", str(args.teacher_epochs), "--output_path", str(model),
                                                   "--logdir", str(runs / model.stem)] + split_arguments(args),
                          [model], training(args.teacher_epochs, width), rows={f"{name} Teacher": model}))
    student = models / "student.keras"
    steps.append(Step("student without distillation", "train_student.py",
                      data + common + ["--width", str(args.student_width), "--epochs", str(args.student_epochs),
                                       "--output_path", str(student), "--logdir", str(runs / student.stem)]
                      + split_arguments(args),
                      [student], training(args.student_epochs, args.student_width), rows={"Student w/o KD": student}))
    for name, _, _ in teachers:
        teacher = models / f"teacher_{name}.keras"
        base = models / f"student_{name}.keras"
        outputs = {t: base.with_name(f"{base.stem}_T{t:g}.keras") for t in args.temperatures}
        steps.append(Step(
            f"students distilled from the {name} teacher, T = {', '.join(f'{t:g}' for t in args.temperatures)}",
            "distill.py",
            data + common + ["--source", str(teacher), "--width", str(args.student_width), "--epochs",
                             str(args.distill_epochs), "--alpha", str(args.alpha), "--temperatures",
                             *[f"{t:g}" for t in args.temperatures], "--output_path", str(base),
                             "--logdir", str(runs / base.stem)],
            list(outputs.values()),
            {**training(args.distill_epochs, args.student_width), "distillation.alpha": args.alpha},
            teacher=teacher, rows={distilled_row(name, t): path for t, path in outputs.items()}))
    return steps


def _value(record: dict, dotted: str):
    for key in dotted.split("."):
        record = record.get(key) if isinstance(record, dict) else None
    return record


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return a == b


def is_done(step: Step, frames_shape: list[int]) -> bool:
    """True when every output of ``step`` is complete and made as asked; InputError when one is
    complete but made otherwise (see the module docstring)."""
    from utils.teacher_cache import file_sha256

    done = True
    teacher_sha = None
    for output in step.outputs:
        if not output_is_complete(output):
            done = False
            continue
        record = read_sidecar(output)
        problems = [f"{key} {_value(record, key)!r} (asked now: {value!r})"
                    for key, value in step.expected.items() if not _same(_value(record, key), value)]
        if list((record.get("data") or {}).get("shape") or []) != list(frames_shape):
            problems.append(f"frames of shape {(record.get('data') or {}).get('shape')} (now {frames_shape})")
        if step.teacher is not None:
            if teacher_sha is None:
                teacher_sha = file_sha256(step.teacher) if step.teacher.is_file() else ""
            if (record.get("distillation") or {}).get("teacher_sha256") != teacher_sha:
                problems.append(f"another teacher than the current {step.teacher}")
        if problems:
            raise InputError(f"{output} exists but was made with {problems[0]}; delete it or choose "
                             "another --output_dir")
    return done


def run_script(script: str, arguments: list[str]) -> None:
    """Run one of the project's scripts in a fresh Python; a failure ends the reproduction with its
    exit status."""
    process = subprocess.Popen([sys.executable, str(ROOT / script), *arguments])
    while True:
        try:
            status = process.wait()
            break
        except KeyboardInterrupt:
            # Ctrl-C reached the script too (same process group): let it stop cleanly, as it does alone.
            continue
    if status == 130:
        raise KeyboardInterrupt
    if status < 0:
        raise StepFailed(f"{script} was killed by signal {-status} (out of memory?); run the same command "
                         "again to resume")
    if status != 0:
        # The script has printed its own one-line reason; repeating it would add a second line.
        sys.exit(status)


class StepFailed(Exception):
    """A step died without saying why (a signal); the reproduction reports it in one line."""


def table_rows(temperatures: list[float]) -> list[str]:
    """The paper's 13 rows, plus rows for temperatures the paper did not try."""
    extra = sorted(set(temperatures) - set(TEMPERATURES))
    rows = list(ROWS)
    for teacher in ("TFS", "TUTL"):
        rows += [distilled_row(teacher, t) for t in extra]
    return rows


def paper_table(scores: dict[str, dict], temperatures: list[float], dataset: str | None):
    """(headers, rows) of the paper-style table; ``scores`` maps a row to evaluate.py's scores."""
    paper_columns = [dataset] if dataset else list(DATASETS)
    headers = ["model", "top-1 (%)", "mean class acc. (%)", "macro F1 (%)"]
    headers += [f"paper {name} (%)" for name in paper_columns]
    if dataset:
        headers.append("difference (points)")
    rows = []
    for row in table_rows(temperatures):
        ours = scores.get(row)
        values = [row] + ([100 * ours["top1_accuracy"], 100 * ours["mean_class_accuracy"], 100 * ours["macro_f1"]]
                          if ours else ["not run", None, None])
        published = [PUBLISHED.get(row, {}).get(name) for name in paper_columns]
        values += published
        if dataset:
            values.append(100 * ours["top1_accuracy"] - published[0] if ours and published[0] is not None else None)
        rows.append(values)
    return headers, rows
