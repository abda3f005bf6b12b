"""kd_grid.py's work: alpha × T distillations from a finished reproduction's TFS teachers, and their gains.

Each cell (alpha, T) of each seed is a student distilled from that seed's TFS teacher with the
reproduction's own recipe (read from its distilled students' sidecars); a cell the reproduction
trained already (its alpha, one of its temperatures) is its model, not trained again. A cell's gain
is its top-1 minus the seed's student trained alone for the same epochs (the equal-budget baseline),
paired by seed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from utils import atomic_files
from utils.errors import InputError
from utils.evaluation.seed_statistics import Summary, paired_differences, summarise
from utils.reproduction.protocol import Step, evaluation_is_current, script_in_new_process
from utils.reproduction.side_by_side import Job, take_jobs
from utils.sidecar import read_sidecar
from utils.training.outputs import output_is_complete

TIMINGS_FILE = "timings.json"


@dataclass(frozen=True)
class GridSettings:
    reproduction: Path
    alphas: tuple[float, ...]
    temperatures: tuple[float, ...]
    seeds: tuple[int, ...]
    output_dir: Path
    timing_runs: int = 0
    parallel_steps: int = 1  # steps run side by side (utils/reproduction/side_by_side.py)


@dataclass(frozen=True)
class Recipe:
    """What the reproduction trained its distilled students with, from their sidecars."""

    frames: str
    teacher: Path
    baseline: Path
    alpha: float
    temperatures: dict[float, Path]  # the reproduction's own TFS students, by T
    flags: list[str]  # distill.py's training flags
    expected: dict  # sidecar values every cell must carry (dotted key -> value)


def recipe(settings: GridSettings, seed: int) -> Recipe:
    models = settings.reproduction / f"seed_{seed}" / "models"
    teacher = models / "teacher_TFS.keras"
    students = {float(m.group(1)): path for path in sorted(models.glob("student_TFS_T*.keras"))
                if (m := re.fullmatch(r"student_TFS_T([0-9.e+-]+)\.keras", path.name)) and output_is_complete(path)}
    baseline = next((p for p in (models / "student_equal_budget.keras", models / "student.keras")
                     if output_is_complete(p)), None)
    if not output_is_complete(teacher) or not students or baseline is None:
        raise InputError(f"--reproduction {settings.reproduction}: seed {seed} has no finished TFS teacher, distilled "
                         "students and baseline student (run reproduce_paper.py with these seeds first)")
    record = read_sidecar(next(iter(students.values())))
    h = record["hyperparameters"]
    flags = ["--width", f"{record['width']:g}", "--epochs", str(h["epochs"]), "--batch_size", str(h["batch_size"]),
             "--lr", str(h["lr"]), "--lr_schedule", h.get("lr_schedule", "constant"), "--init", h.get("init", "glorot"),
             "--mixed_precision", h.get("mixed_precision_flag", h.get("mixed_precision", "off"))]
    expected = {"hyperparameters.epochs": h["epochs"], "hyperparameters.batch_size": h["batch_size"],
                "hyperparameters.lr": h["lr"], "hyperparameters.lr_schedule": h.get("lr_schedule", "constant"),
                "hyperparameters.init": h.get("init", "glorot"), "hyperparameters.width": record["width"],
                "split.seed": seed, "original_code": bool(record.get("original_code"))}
    if read_sidecar(baseline)["hyperparameters"]["epochs"] != h["epochs"]:
        raise InputError(f"{baseline}: trained for other epochs than the distilled students; no equal-budget baseline")
    return Recipe(record["data"]["frames"], teacher, baseline, float(record["distillation"]["alpha"]), students,
                  flags, expected)


def cell_name(alpha: float, temperature: float) -> str:
    return f"alpha={alpha:g}, T={temperature:g}"


def plan_seed(settings: GridSettings, seed: int) -> tuple[list[Step], dict[str, Path], Path]:
    """(distillation steps still to define, cell -> model file, baseline model) of one seed."""
    own = recipe(settings, seed)
    models = settings.output_dir / f"seed_{seed}" / "models"
    runs = settings.output_dir / "runs" / f"seed_{seed}"
    cells, steps = {}, []
    for alpha in settings.alphas:
        todo = []
        for temperature in settings.temperatures:
            if alpha == own.alpha and temperature in own.temperatures:
                cells[cell_name(alpha, temperature)] = own.temperatures[temperature]  # the reproduction's model
            else:
                todo.append(temperature)
        if not todo:
            continue
        base = models / f"student_a{alpha:g}.keras"
        outputs = {t: base.with_name(f"{base.stem}_T{t:g}.keras") for t in todo}
        cells.update({cell_name(alpha, t): path for t, path in outputs.items()})
        steps.append(Step(
            f"alpha {alpha:g}, T = {', '.join(f'{t:g}' for t in todo)}", "distill.py",
            ["--data", own.frames, "--source", str(own.teacher), *own.flags, "--alpha", f"{alpha:g}",
             "--temperatures", *[f"{t:g}" for t in todo], "--output_path", str(base), "--logdir", str(runs / base.stem)],
            list(outputs.values()), {**own.expected, "distillation.alpha": alpha}, teacher=own.teacher))
    return steps, cells, own.baseline


def evaluate_cells(settings: GridSettings, seed: int, frames: str, models: dict[str, Path]) -> dict[str, float]:
    """evaluate.py over the seed's cells and baseline (unless already current); name -> top-1 (%)."""
    evaluation = settings.output_dir / f"seed_{seed}" / "evaluation"
    if not evaluation_is_current(evaluation / "comparison.json", list(models.values())):
        script_in_new_process("evaluate.py", ["--data", frames, "--recognizer", *map(str, models.values()), "--output_dir",
                                   str(evaluation), "--timing_runs", str(settings.timing_runs)])
    reports = {Path(r["model"]): r for r in json.loads((evaluation / "comparison.json").read_text()).values()}
    return {name: 100 * reports[path.resolve()]["scores"]["top1_accuracy"] for name, path in models.items()}


def run_grid(settings: GridSettings) -> dict[str, dict[int, float]]:
    """Train every seed's cells (side by side where --parallel_steps allows), then score them; name -> {seed:
    top-1 (%)} (the baseline under 'baseline')."""
    from utils.data.frames_data import open_frames

    plans, jobs = {}, []
    for seed in settings.seeds:
        steps, cells, baseline = plan_seed(settings, seed)
        plans[seed] = (cells, baseline, recipe(settings, seed).frames)
        folder = settings.output_dir / f"seed_{seed}"
        (folder / "models").mkdir(parents=True, exist_ok=True)  # distill.py writes into a folder that exists
        jobs += [Job(f"[seed {seed}, {number}/{len(steps)}] {step.title}", step, folder / TIMINGS_FILE)
                 for number, step in enumerate(steps, 1)]
    frames = {plan[2] for plan in plans.values()}
    if len(frames) != 1:
        raise InputError(f"--reproduction {settings.reproduction}: its seeds were trained on different frames")
    take_jobs(jobs, open_frames(Path(next(iter(frames)))).digest, settings.parallel_steps)
    scores: dict[str, dict[int, float]] = {}
    for seed, (cells, baseline, frames_path) in plans.items():
        for name, value in evaluate_cells(settings, seed, frames_path, {**cells, "baseline": baseline}).items():
            scores.setdefault(name, {})[seed] = value
    return scores


def grid_summaries(settings: GridSettings, scores: dict[str, dict[int, float]]) -> dict[tuple[float, float], tuple]:
    """(alpha, T) -> (gain Summary paired by seed, top-1 Summary)."""
    return {(a, t): (paired_differences(scores[cell_name(a, t)], scores["baseline"]),
                     summarise(list(scores[cell_name(a, t)].values())))
            for a in settings.alphas for t in settings.temperatures}


def write_grid_report(settings: GridSettings, scores: dict[str, dict[int, float]]) -> str:
    from utils.evaluation.plots import kd_grid_png
    from utils.evaluation.tables import markdown_table, write_csv

    summaries = grid_summaries(settings, scores)
    baseline = summarise(list(scores["baseline"].values()))
    several = len(settings.seeds) > 1
    headers = ["alpha \\ T"] + [f"T={t:g}" for t in settings.temperatures]
    gain_rows = [[f"alpha={a:g}"] + [summaries[a, t][0].text(interval=several) for t in settings.temperatures]
                 for a in settings.alphas]
    top1_rows = [[f"alpha={a:g}"] + [summaries[a, t][1].text() for t in settings.temperatures] for a in settings.alphas]
    best = max(summaries, key=lambda key: summaries[key][0].mean)
    text = "\n".join([
        f"# Distillation gain over the equal-budget student, by alpha and T ({len(settings.seeds)} seeds)", "",
        "KD gain (top-1 points): a distilled student minus the student trained alone for the same epochs, paired by "
        "seed (same split, initial weights and shuffling), mean and 95% t-interval.", "",
        markdown_table(headers, gain_rows),
        f"Top-1 (%) of the distilled students, mean ± std over seeds {', '.join(map(str, settings.seeds))}; the "
        f"equal-budget student without distillation: {baseline.text()}.", "",
        markdown_table(headers, top1_rows),
        f"Largest mean gain: alpha {best[0]:g}, T {best[1]:g}: {summaries[best][0].text(interval=several)} points. "
        f"Cells whose interval excludes 0: {_apart(summaries)}.", "",
        f"Teachers, recipe and baselines: the TFS teachers and students of {settings.reproduction} (seed_S/models/); "
        "each cell is trained with its distilled students' recipe (epochs, batch, learning rate and schedule, init, "
        "width, precision; see its paper_table.md). alpha weighs the hard-label loss: alpha · CE + (1 − alpha) · T² · "
        "KL.", ""])
    out = settings.output_dir
    atomic_files.write_text(out / "kd_grid.md", text)
    write_csv(out / "kd_grid.csv", ["alpha", "temperature", "gain_mean", "gain_ci_low", "gain_ci_high", "top1_mean",
                                    "top1_std", "seeds"],
              [[a, t, g.mean, g.low, g.high, s.mean, s.std, len(settings.seeds)]
               for (a, t), (g, s) in summaries.items()])
    kd_grid_png({key: value[0] for key, value in summaries.items()}, settings.alphas, settings.temperatures,
                out / "kd_grid.png", f"KD gain over the equal-budget student (points), {len(settings.seeds)} seeds")
    return text


def _apart(summaries: dict[tuple[float, float], tuple[Summary, Summary]]) -> str:
    found = [f"alpha {a:g} T {t:g} ({'+' if g.side > 0 else '−'})" for (a, t), (g, _) in summaries.items() if g.side]
    return ", ".join(found) if found else "none"
