"""reproduce_paper.py's work: every seed's protocol, then the table, its caption and the plot."""

from __future__ import annotations

import json
import time
from pathlib import Path

from utils import atomic_files
from utils.errors import InputError
from utils.evaluation.convergence import convergence_sentence
from utils.evaluation.paper_results import BASELINE_ROW, EQUAL_BUDGET_ROW, departures_caption, guess_dataset
from utils.evaluation.seed_statistics import summarise
from utils.ownership import claim_run_folder
from utils.reproduction.protocol import TIMINGS_FILE, ReproductionSettings, evaluate_seed, plan
from utils.reproduction.side_by_side import Job, add_time, take_jobs
from utils.sidecar import read_sidecar


def check_inputs(settings: ReproductionSettings):
    """Everything that can be checked before hours of training: data, every seed's split, weights, output."""
    from utils.data.frames_data import open_frames
    from utils.data.splits import make_split

    data = open_frames(settings.data, settings.annotations)
    for seed in settings.seeds:
        split = make_split(data.labels, data.paths, settings.for_seed(seed).split, data.classes)
        if settings.batch_size > len(split.train):
            raise InputError(f"--batch_size {settings.batch_size} is larger than the {len(split.train)} training "
                             "clips")
    if settings.weights is not None and not Path(settings.weights).is_file():
        raise InputError(f"--weights {settings.weights}: file not found")
    atomic_files.check_outputs_apart({"--output_dir": settings.output_dir},
                                     {"--data": data.frames_path, "--weights": settings.weights})
    return data


def reproduce(settings: ReproductionSettings, dataset: str | None) -> None:
    data = check_inputs(settings)
    claim_run_folder(settings.output_dir, "--output_dir", "reproduction.json", "reproduce_paper.py")
    for seed in settings.seeds:
        atomic_files.require_writable_folder(settings.folder(seed) / "models", f"--output_dir {settings.output_dir}")
    with atomic_files.output_lock(settings.output_dir, "--output_dir"):
        _reproduce(settings, dataset, data)


def write_paired_comparison(settings: ReproductionSettings, other: Path) -> Path:
    """``paired_comparison.md`` in the output folder: every row beside ``other``'s (another reproduction of the
    same data and seeds), the paired difference, each run's KD gains, and what they say in numbers."""
    from utils.reproduction.paired_runs import paired_table, pool_mismatches, what_it_shows

    this_name = "original code" if settings.original_code else settings.output_dir.name
    other_name = "corrected" if settings.original_code else Path(other).name
    baseline = EQUAL_BUDGET_ROW if settings.equal_budget_baseline else BASELINE_ROW
    table, found = paired_table(settings.output_dir, Path(other), list(settings.seeds), this_name, other_name,
                                baseline)
    distilled = {row: values for row, values in found.items() if row.startswith("Student-")}
    others = {row: values for row, values in found.items() if not row.startswith("Student-")}
    lines = [f"# {this_name} beside {other_name}: {len(settings.seeds)} seeds ({', '.join(map(str, settings.seeds))})",
             "", table,
             f"Top-1 mean ± std over the seeds; differences and KD gains paired by seed (same split, initial weights and "
             f"shuffling in both runs), mean and 95% t-interval. KD gain: a distilled student minus '{baseline}' of "
             f"the same run. This run: {settings.output_dir}; the other: {other}.", ""]
    if others:
        largest = max(abs(values[0].mean) for values in others.values())
        lines.append(f"Models trained on hard labels alone ({', '.join(others)}): the largest mean difference is "
                     f"{largest:.2f} points.")
    if distilled:
        means = [values[0].mean for values in distilled.values()]
        apart = sum(1 for values in distilled.values() if values[0].side)
        lines.append(f"Distilled students: {this_name} minus {other_name} from {min(means):+.2f} to {max(means):+.2f} "
                     f"points (mean over the {len(means)} rows {sum(means) / len(means):+.2f}); the 95% interval "
                     f"excludes 0 for {apart} of them.")
        for index, name in ((1, other_name), (2, this_name)):
            gains = [values[index].mean for values in distilled.values() if values[index] is not None]
            if gains:
                lines.append(f"KD gain over '{baseline}', {name}: from {min(gains):+.2f} to {max(gains):+.2f} points.")
        lines += ["", what_it_shows(found, this_name, other_name, baseline)]
    mismatched = pool_mismatches(settings.output_dir, Path(other), list(settings.seeds))
    if mismatched:
        lines += ["", f"Caution, trained with other TensorFlow thread pools than in the other run ({len(mismatched)}; "
                      f"`thread_pools` in their sidecars): {', '.join(mismatched)}. Their differences include "
                      "rounding grown over training, not the arithmetic alone."]
    path = settings.output_dir / "paired_comparison.md"
    atomic_files.write_text(path, "\n".join(lines) + "\n")
    print(f"paired comparison with {other}: {path}")
    return path


def _reproduce(settings: ReproductionSettings, dataset: str | None, data) -> None:
    """Every seed's steps (side by side where --parallel_steps allows), then each seed's evaluation alone: it
    times the models."""
    dataset = dataset or guess_dataset(data.frames_path.resolve().parent.name)
    plans = {seed: plan(settings.for_seed(seed)) for seed in settings.seeds}
    jobs = []
    for seed, steps in plans.items():
        label = f"seed {seed}, " if settings.per_seed_folders else ""
        jobs += [Job(f"[{label}{number}/{len(steps)}] {step.title}", step, settings.folder(seed) / TIMINGS_FILE)
                 for number, step in enumerate(steps, 1)]
    take_jobs(jobs, data.digest, settings.parallel_steps)
    scores_by_seed, records = {}, []
    for seed, steps in plans.items():
        one, folder = settings.for_seed(seed), settings.folder(seed)
        start = time.perf_counter()
        scores_by_seed[seed] = evaluate_seed(one, steps)
        add_time(folder / TIMINGS_FILE, "evaluation", time.perf_counter() - start)
        seed_records = [read_sidecar(path) for step in steps for path in step.rows.values()]
        records += seed_records
        if settings.per_seed_folders:
            write_report(one, folder, {seed: scores_by_seed[seed]}, seed_records, dataset, data, quiet=True)
    write_report(settings, settings.output_dir, scores_by_seed, records, dataset, data)


def time_spent(settings: ReproductionSettings) -> float:
    """Wall seconds the seeds' steps and evaluations took, over every (resumed) invocation."""
    total = 0.0
    for seed in settings.seeds:
        timings = settings.folder(seed) / TIMINGS_FILE
        if timings.is_file():
            total += sum(json.loads(timings.read_text()).values())
    return total


def caption(settings: ReproductionSettings, scores_by_seed: dict, records: list[dict], dataset: str | None,
            data) -> str:
    from utils.evaluation.paper_table import teacher_comparison
    from utils.machine import describe_cpu

    split = settings.split
    split_text = (f"official {split.split_id} from {split.split_dir}" if split.protocol == "official"
                  else f"{split.protocol} (test {split.test_size:g})")
    seeds = list(scores_by_seed)
    rates = f"{settings.lr:g}" + (f", teachers {settings.teacher_lr:g}" if settings.teacher_lr else "")
    lines = [
        f"Data: {data.frames_path} ({len(data.labels)} clips, {data.num_classes} classes, clips "
        f"{'x'.join(map(str, data.clip_shape[:3]))}); split {split_text}; epochs: teachers {settings.teacher_epochs}, "
        f"student {settings.student_epochs}, distillation {settings.distill_epochs}; widths: TFS teacher "
        f"{settings.teacher_width:g}, students {settings.student_width:g}; batch {settings.batch_size}, lr "
        f"{rates} ({settings.lr_schedule}), alpha {settings.alpha:g}, init {settings.init}.",
        (f"Mean ± standard deviation over {len(seeds)} seeds ({', '.join(map(str, seeds))}); each seed draws its own "
         "split, initial weights and shuffling. KD gain: a distilled student's top-1 minus the student without "
         "distillation's on the same seed, mean and 95% t-interval; 'equal budget' compares with the student "
         "trained for the distillation's epochs."
         if len(seeds) > 1 else f"One seed ({seeds[0]}). KD gain: a distilled student's top-1 minus the student "
         "without distillation's; 'equal budget' compares with the student trained for the distillation's epochs."),
    ]
    comparison = teacher_comparison(scores_by_seed)
    if comparison:
        lines.append(comparison)
    stand_in = stand_in_sentence(records)
    if stand_in:
        lines.append(stand_in)
    converged = convergence_sentence([(Path(r["history"]), len((r.get("split") or {}).get("val_indices") or []) or None)
                                      for r in records if r.get("history") and Path(r["history"]).is_file()],
                                     classes=data.num_classes)
    if converged:
        lines.append(converged)
    lines.append(departures_caption(records))
    lines.append(f"Time: {time_spent(settings) / 3600:.2f} h of wall time for training and evaluation on "
                 f"{describe_cpu()}.")
    lines.append("Published numbers: Ullah & Munir 2023, random 80/20 split, full-size models"
                 + (f", {dataset}." if dataset else "."))
    return "\n\n".join(lines) + "\n"


def stand_in_sentence(records: list[dict]) -> str:
    """What the TUTL teacher's stand-in weights were trained on, how well, and how much of this data set its
    frozen features separate (the linear probe pretrain_teacher.py recorded in the weights file)."""
    pretext = next((r["weights_pretext"] for r in records if isinstance(r.get("weights_pretext"), dict)), None)
    if not pretext:
        return ""
    metrics = pretext.get("metrics") or {}
    text = (f"TUTL stand-in: C3D (width {pretext.get('width', 1.0):g}) pre-trained on {len(pretext.get('classes') or [])} "
            f"other synthetic actions ({', '.join(pretext.get('classes') or [])}); its own validation accuracy "
            f"{100 * metrics.get('val_accuracy', float('nan')):.1f}%, test accuracy "
            f"{100 * metrics.get('test_accuracy', float('nan')):.1f}%.")
    probe = pretext.get("probe") or {}
    if probe.get("test_accuracy"):
        scores = [100 * v for v in probe["test_accuracy"]]
        spread = f" ± {summarise(scores).std:.1f}" if len(scores) > 1 else ""
        text += (f" A linear probe on its frozen fc7 features (logistic regression on this set's training clips, no "
                 f"dropout) scores {summarise(scores).mean:.1f}{spread}% on the test clips (splits of seeds "
                 f"{', '.join(map(str, probe.get('seeds', [])))}).")
    return text


def write_report(settings: ReproductionSettings, out: Path, scores_by_seed: dict, records: list[dict],
                 dataset: str | None, data, quiet: bool = False) -> None:
    from utils.evaluation.paper_table import csv_headers, paper_table, sweep_points
    from utils.evaluation.plots import temperature_sweep_png
    from utils.evaluation.tables import markdown_table, write_csv

    temperatures = list(settings.temperatures)
    headers, text_rows, number_rows = paper_table(scores_by_seed, temperatures, dataset,
                                                  settings.equal_budget_baseline)
    text = markdown_table(headers, text_rows) + "\n" + caption(settings, scores_by_seed, records, dataset, data)
    atomic_files.write_text(out / "paper_table.md", text)
    write_csv(out / "paper_table.csv", csv_headers(headers, dataset, settings.equal_budget_baseline), number_rows)
    sweeps, references = sweep_points(scores_by_seed, temperatures)
    seeds = f" ({len(scores_by_seed)} seeds, mean ± std)" if len(scores_by_seed) > 1 else ""
    temperature_sweep_png(sweeps, references, out / "accuracy_vs_temperature.png",
                          f"{dataset or data.frames_path.parent.name}: test accuracy against temperature{seeds}")
    if not quiet:
        print()
        print(text)
        print(f"table: {out / 'paper_table.md'}; plot: {out / 'accuracy_vs_temperature.png'}; per-model metrics and "
              f"plots: {settings.folder(settings.seeds[0]) / 'evaluation'}/" + (" (one per seed)" if len(
                  scores_by_seed) > 1 else ""))
