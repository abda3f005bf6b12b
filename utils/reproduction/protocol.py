"""The paper's protocol as a list of steps, each one of this project's scripts, run in order, per seed.

Every step is a separate process (memory and TensorFlow state are freed between models) whose
outputs are models with sidecars. A step whose outputs all exist, complete (no backup folder of an
interrupted run beside them) and made with the settings asked for now, is skipped; an interrupted
step is simply run again and resumes from its last finished epoch. A finished output made with
other settings (epochs, width, split, another teacher file, other frames) is refused rather than
mixed into the table.

With several seeds each seed runs the whole protocol in its own folder (``seed_S/``); each seed
draws its own split, initial weights and shuffling.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from utils.data.splits import SplitSettings
from utils.errors import InputError
from utils.evaluation.paper_results import BASELINE_ROW, EQUAL_BUDGET_ROW, distilled_row
from utils.sidecar import read_sidecar
from utils.training.outputs import output_is_complete

ROOT = Path(__file__).resolve().parents[2]  # the repository, where the scripts are
TIMINGS_FILE = "timings.json"


@dataclass(frozen=True)
class ReproductionSettings:
    """What reproduce_paper.py was asked for; one seed's protocol is ``for_seed(seed)``."""

    data: Path
    annotations: Path | None
    weights: Path | None
    output_dir: Path
    split: SplitSettings
    seeds: tuple[int, ...]
    per_seed_folders: bool  # seed_S/ folders (--seeds) or the output folder itself (one --seed)
    teacher_epochs: int = 50
    student_epochs: int = 50
    distill_epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    teacher_lr: float | None = None  # the teachers' rate where it differs from the students' (None: lr)
    lr_schedule: str = "constant"
    init: str = "glorot"
    mixed_precision: str = "auto"
    teacher_width: float = 1.0
    student_width: float = 1.0
    alpha: float = 0.1
    temperatures: tuple[float, ...] = (1, 5, 10, 15, 20)
    timing_runs: int = 10
    original_code: bool = False  # the authors' arithmetic, an ablation (models/original_code.py)
    parallel_steps: int = 1  # steps run side by side (utils/reproduction/side_by_side.py)

    @classmethod
    def from_args(cls, parsed) -> ReproductionSettings:
        """From reproduce_paper.py's flags."""
        p = parsed
        epochs = (p.epochs,) * 3 if p.epochs else (p.teacher_epochs, p.student_epochs, p.distill_epochs)
        split = SplitSettings.from_args(p)
        seeds = tuple(dict.fromkeys(p.seeds)) if p.seeds else (split.seed,)
        return cls(data=p.data, annotations=p.annotations, weights=p.weights, output_dir=p.output_dir, split=split,
                   seeds=seeds, per_seed_folders=bool(p.seeds), teacher_epochs=epochs[0], student_epochs=epochs[1],
                   distill_epochs=epochs[2], batch_size=p.batch_size, lr=p.lr,
                   teacher_lr=None if p.teacher_lr in (None, p.lr) else p.teacher_lr, lr_schedule=p.lr_schedule, init=p.init,
                   mixed_precision=p.mixed_precision,
                   teacher_width=p.teacher_width, student_width=p.student_width, alpha=p.alpha,
                   temperatures=tuple(sorted(set(p.temperatures))), timing_runs=p.timing_runs,
                   original_code=p.original_code, parallel_steps=p.parallel_steps)

    def folder(self, seed: int) -> Path:
        return self.output_dir / f"seed_{seed}" if self.per_seed_folders else self.output_dir

    def for_seed(self, seed: int) -> ReproductionSettings:
        return replace(self, split=replace(self.split, seed=seed))

    @property
    def equal_budget_baseline(self) -> bool:
        """The baseline at the distilled students' epochs is a model of its own only if they differ."""
        return self.student_epochs != self.distill_epochs


@dataclass
class Step:
    title: str
    script: str
    arguments: list[str]
    outputs: list[Path]
    expected: dict  # sidecar values the outputs must carry: dotted key -> value
    teacher: Path | None = None  # distillation: outputs must come from this very teacher file
    rows: dict[str, Path] = field(default_factory=dict)  # table row -> model file


def expected_identity(settings: ReproductionSettings, epochs: int, width: float | None, init: bool = True,
                      lr: float | None = None) -> dict:
    """The part of a model's run identity (utils/training/preflight.run_identity) the protocol sets: dotted keys."""
    expected = {"hyperparameters.epochs": epochs, "hyperparameters.batch_size": settings.batch_size,
                "hyperparameters.lr": lr or settings.lr, "hyperparameters.lr_schedule": settings.lr_schedule,
                "original_code": settings.original_code,
                **{f"split.{key}": value for key, value in settings.split.to_json().items()}}
    if settings.mixed_precision != "auto":  # "auto" resolves by the machine: the scripts record the result
        expected["hyperparameters.mixed_precision"] = settings.mixed_precision
    if width is not None:
        expected["hyperparameters.width"] = width
    if init:
        expected["hyperparameters.init"] = settings.init
    return expected


def plan(settings: ReproductionSettings) -> list[Step]:
    """The training and distillation steps of one seed (``settings.for_seed``); TUTL with weights."""
    models = settings.folder(settings.split.seed) / "models"
    # one TensorBoard root for every seed and model: tensorboard --logdir OUTPUT/runs
    runs = settings.output_dir / "runs" / (f"seed_{settings.split.seed}" if settings.per_seed_folders else "")
    data = ["--data", str(settings.data)] + (["--annotations", str(settings.annotations)] if settings.annotations
                                             else [])
    teacher_lr = settings.teacher_lr or settings.lr

    def common(lr: float) -> list[str]:
        return ["--batch_size", str(settings.batch_size), "--lr", str(lr), "--lr_schedule", settings.lr_schedule,
                "--mixed_precision", settings.mixed_precision] + (["--original_code"] if settings.original_code else [])

    def trained(name: str, script: str, flags: list[str], epochs: int, expected: dict, row: str) -> Step:
        model = models / f"{name}.keras"
        rate = teacher_lr if script == "train_teacher.py" else settings.lr
        return Step(f"{row}", script, data + flags + common(rate) + ["--epochs", str(epochs), "--output_path",
                                                                    str(model), "--logdir", str(runs / name)]
                    + settings.split.to_argv(), [model], expected, rows={row: model})

    init = ["--init", settings.init]
    steps = [trained("teacher_TFS", "train_teacher.py",
                     ["--task", "train_local_teacher", "--width", str(settings.teacher_width)] + init,
                     settings.teacher_epochs, expected_identity(settings, settings.teacher_epochs,
                                                                settings.teacher_width, lr=teacher_lr), "TFS Teacher")]
    teachers = ["TFS"]
    if settings.weights:
        weights = str(Path(settings.weights).resolve())
        steps.append(trained("teacher_TUTL", "train_teacher.py",
                             ["--task", "fintuning_C3D_Sports1M", "--weights", weights], settings.teacher_epochs,
                             {**expected_identity(settings, settings.teacher_epochs, None, init=False, lr=teacher_lr),
                              "weights": weights}, "TUTL Teacher"))
        teachers.append("TUTL")
    student = ["--width", str(settings.student_width)] + init
    for name, epochs, row in (("student", settings.student_epochs, BASELINE_ROW),
                              ("student_equal_budget", settings.distill_epochs, EQUAL_BUDGET_ROW)):
        if name == "student" or settings.equal_budget_baseline:
            steps.append(trained(name, "train_student.py", student, epochs,
                                 expected_identity(settings, epochs, settings.student_width), row))
    distilled = {**expected_identity(settings, settings.distill_epochs, settings.student_width),
                 "distillation.alpha": settings.alpha}
    return steps + [distillation_step(settings, name, models, runs, data + common(settings.lr) + student, distilled)
                    for name in teachers]


def distillation_step(settings: ReproductionSettings, teacher: str, models: Path, runs: Path, flags: list[str],
                      expected: dict) -> Step:
    """The students distilled from one teacher at every temperature, one distill.py sweep."""
    source = models / f"teacher_{teacher}.keras"
    base = models / f"student_{teacher}.keras"
    outputs = {t: base.with_name(f"{base.stem}_T{t:g}.keras") for t in settings.temperatures}
    return Step(
        f"students distilled from the {teacher} teacher, T = {', '.join(f'{t:g}' for t in settings.temperatures)}",
        "distill.py",
        flags + ["--source", str(source), "--epochs", str(settings.distill_epochs), "--alpha", str(settings.alpha),
                 "--temperatures", *[f"{t:g}" for t in settings.temperatures], "--output_path", str(base),
                 "--logdir", str(runs / base.stem)],
        list(outputs.values()), expected, teacher=source,
        rows={distilled_row(teacher, t): path for t, path in outputs.items()})


def _value(record: dict, dotted: str):
    for key in dotted.split("."):
        record = record.get(key) if isinstance(record, dict) else None
    return record


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))
    return a == b


def is_done(step: Step, frames_digest: str) -> bool:
    """True when every output of ``step`` is complete and is the run asked for; InputError when one is
    complete but another run. "The same run" is utils/training/preflight.run_identity, the definition the
    scripts skip and resume by: ``step.expected`` names the part of it the protocol sets (dotted keys)."""
    from utils.training.preflight import run_identity
    from utils.training.teacher_cache import file_sha256

    done = True
    wanted = {**step.expected, "frames_digest": frames_digest}
    for output in step.outputs:
        if not output_is_complete(output):
            done = False
            continue
        if step.teacher is not None and "distillation.teacher_sha256" not in wanted:
            wanted["distillation.teacher_sha256"] = file_sha256(step.teacher) if step.teacher.is_file() else ""
        identity = run_identity(read_sidecar(output))
        problems = [f"{key} {_value(identity, key)!r} (asked now: {value!r})"
                    for key, value in wanted.items() if not _same(_value(identity, key), value)]
        if problems:
            raise InputError(f"{output} exists but was made with {problems[0]}; delete it or choose "
                             "another --output_dir")
    return done


def evaluation_is_current(comparison: Path, models: list[Path]) -> bool:
    if not comparison.is_file():
        return False
    listed = {Path(report["model"]) for report in json.loads(comparison.read_text()).values()}
    newest = max(path.stat().st_mtime_ns for path in models)
    return listed == {path.resolve() for path in models} and comparison.stat().st_mtime_ns > newest


def evaluate_seed(settings: ReproductionSettings, steps: list[Step]) -> dict[str, dict]:
    """evaluate.py over the seed's models (unless already current); row -> its scores."""
    rows = {row: path for step in steps for row, path in step.rows.items()}
    models = list(rows.values())
    evaluation = settings.folder(settings.split.seed) / "evaluation"
    if evaluation_is_current(evaluation / "comparison.json", models):
        print(f"evaluation of the {len(models)} models: done, skipping", flush=True)
    else:
        print(f"evaluating {len(models)} models", flush=True)
        script_in_new_process("evaluate.py", ["--data", str(settings.data),
                                   *(["--annotations", str(settings.annotations)] if settings.annotations else []),
                                   "--recognizer", *map(str, models), "--output_dir", str(evaluation),
                                   "--batch_size", str(settings.batch_size), "--timing_runs",
                                   str(settings.timing_runs)])
    reports = {Path(report["model"]): report for report in
               json.loads((evaluation / "comparison.json").read_text()).values()}
    return {row: reports[path.resolve()]["scores"] for row, path in rows.items()}


def script_in_new_process(script: str, arguments: list[str]) -> None:
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
    end_on_failure(script, status)


def end_on_failure(script: str, status: int) -> None:
    """End the reproduction as a step that exited with ``status`` asks: Ctrl-C (130) as Ctrl-C, a signal in one
    line, any other failure with its status (the script printed its own one-line reason; repeating it would add
    a second line)."""
    if status == 130:
        raise KeyboardInterrupt
    if status < 0:
        raise StepFailed(f"{script} was killed by signal {-status} (out of memory?); run the same command "
                         "again to resume")
    if status != 0:
        sys.exit(status)


class StepFailed(Exception):
    """A step died without saying why (a signal); the reproduction reports it in one line."""


def reporting_failed_steps(main, prog: str):
    """``main`` with a step killed by a signal reported in one line and exit status 1 (the step printed nothing):
    the entry point of the scripts that run other scripts as steps (reproduce_paper.py, kd_grid.py)."""
    def run() -> None:
        try:
            main()
        except StepFailed as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            sys.exit(1)

    return run
