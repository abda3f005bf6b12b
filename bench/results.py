"""bench/RESULTS.md and bench/results.json: every benchmark's headline numbers, one section per
machine class.

A row: what is measured, this project's number, the reference it is measured against in the same
run, their ratio, the target, and whether it is met.

Speeds depend on the CPU generation (bfloat16 and VNNI units, AVX-512), so the files keep one
section per CPU class, keyed by the CPU's model name and the utils.machine.RELEVANT_FLAGS it has,
and one per GPU (``python -m bench --only gpu``), keyed by the GPU's name and its host's CPU class.
A run adds its own section or replaces it, and keeps every other one.

results.json (format 2): ``{"format": 2, "sections": {key: section}}``, a section being
``{"cpu": {"model", "flags", "description"}, "gpu": null or {"name", "compute_capability",
"count"}, "command", "date", "seconds": {benchmark: s}, "rows": [row], "raw": {benchmark: result}}``.
Rows are stored as they were written, so a section keeps its numbers when the row code changes.
The single-run format before it (``{"machine", "command", "seconds", "rows", "raw"}``) is read as
one CPU section.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from utils import atomic_files

FORMAT = 2


def save_measurement(path: Path, result: dict) -> None:
    """One benchmark's raw measurements as JSON at ``path`` (written whole, then renamed), for
    ``python -m bench`` to read back into its section."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(path, json.dumps(result, indent=2))


def row(benchmark: str, ours: str, reference: str, ratio: str, target: str = "—", met: bool | None = None) -> dict:
    return {"benchmark": benchmark, "this project": ours, "reference": reference, "ratio": ratio, "target": target,
            "met": "—" if met is None else ("yes" if met else "**no**")}


def extraction_rows(r: dict) -> list[dict]:
    s, q, m = r["seconds"], r["ratios"], r["peak_mib"]
    n = r["videos"]
    return [
        row(f"extraction, {n} videos → 16×112×112", f"{s['ours']:.2f} s", f"seek method (original) {s['seek']:.2f} s",
            f"{q['seek_over_ours']:.2f}× faster", "≥ 3×", q["seek_over_ours"] >= 3),
        row("extraction vs decode-only floor", f"{s['ours']:.2f} s", f"floor {s['floor']:.2f} s",
            f"{q['ours_over_floor']:.2f}× the floor", "≤ 1.5×", q["ours_over_floor"] <= 1.5),
        row(f"extraction peak memory, {n} → {4 * n} videos", f"{m['ours_main'][0]:.0f} → {m['ours_main'][1]:.0f} MiB "
            f"(worker {m['ours_worker'][0]:.0f} → {m['ours_worker'][1]:.0f})",
            f"seek method {m['seek'][0]:.0f} → {m['seek'][1]:.0f} MiB",
            f"{100 * (q['ours_main_memory_4x_over_1x'] - 1):+.1f}%", "< +10%", q["ours_main_memory_4x_over_1x"] < 1.1),
    ]


def input_pipeline_rows(r: dict) -> list[dict]:
    s, m = r["speed"], r["memory"]
    return [
        row("training steps/s, frames.npy streamed from disk", f"{s['steps_per_second']['disk']:.2f} steps/s",
            f"one batch in memory {s['steps_per_second']['memory']:.2f} steps/s",
            f"{100 * s['slowdown']:+.1f}% overhead", "≤ 10%", s["slowdown"] <= 0.10),
        row(f"input pipeline peak memory, {m['frames_mib'][0]:.0f} → {m['frames_mib'][1]:.0f} MiB of frames",
            f"{m['pipeline_peak_rss_mib'][0]:.0f} → {m['pipeline_peak_rss_mib'][1]:.0f} MiB",
            f"loading the smaller file whole: {m['whole_load_peak_rss_mib_small']:.0f} MiB",
            f"{100 * m['pipeline_growth']:+.1f}%", "< +10%", m["pipeline_growth"] < 0.10),
    ]


def memory_rows(r: dict) -> list[dict]:
    n1, n4 = r["clips"]
    rows = [row(f"{step} peak memory, {n1} → {n4} clips", f"{r['peak_rss_mib']['1x'][step]:.0f} → "
                f"{r['peak_rss_mib']['4x'][step]:.0f} MiB", f"frames {r['frames_mib']['1x']:.0f} → "
                f"{r['frames_mib']['4x']:.0f} MiB", f"{100 * growth:+.1f}%", "< +10%", growth < 0.10)
            for step, growth in r["growth"].items()]
    over = r["larger_than_memory"]
    if over["completed"] is None:
        rows.append(row("training over frames.npy 2× its memory limit", "not measured", over["why_not_measured"], "—"))
    else:
        rows.append(row("training over frames.npy 2× its memory limit",
                        "completed" if over["completed"] else "failed",
                        f"{over['frames_mib']:.0f} MiB of frames, {over['limit_mib']} MiB limit",
                        f"{over['frames_mib'] / over['limit_mib']:.1f}× the limit", "completes", bool(over["completed"])))
    return rows


def distillation_rows(r: dict) -> list[dict]:
    e, w, q = r["epoch_seconds"], r["sweep"], r["ratios"]
    return [
        row("distillation epoch, cached teacher logits", f"{e['cached']:.2f} s", f"online teacher {e['online']:.2f} s",
            f"{q['epoch']:.2f}× faster", "≥ 2.5×", q["epoch"] >= 2.5),
        row(f"5-temperature sweep, {w['epochs_per_run']} epochs each", f"{w['seconds']['cached']:.0f} s",
            f"online teacher {w['seconds']['online']:.0f} s", f"{q['sweep']:.2f}× faster"),
    ]


def compute_rows(r: dict) -> list[dict]:
    rows = []
    for dtype, peaks in (r.get("peaks") or {}).items():
        rows.append(row(f"CPU peak, {dtype}: 2048² matmul (best in the run) / 3×3×3 Conv3D 8×16×28×28×128→256",
                        f"{peaks['matmul'] / 1e9:.0f} / {peaks['conv3d'] / 1e9:.0f} GFLOP/s", "—", "—"))
    if r.get("bfloat16_skipped"):
        rows.append(row("CPU peak and training steps, bfloat16", "not measured", r["bfloat16_skipped"], "—"))
    for v in r["variants"]:
        target = 0.7 if v["model"] == "teacher" else 0.4
        precision = v.get("precision", "float32")
        this_project = v["onednn"] and not v["jit"] and v["batch"] == 8 and precision == "float32"
        reference = v.get("reference_flops_per_s", r["matmul_flops_per_s"]) / 1e9
        rows.append(row(f"{v['name']}: training FLOP/s (batch {v['batch']})",
                        f"{v['step_flops_per_s'] / 1e9:.1f} GFLOP/s ({v['seconds_per_step']:.2f} s/step)",
                        f"{precision} matmul {reference:.1f} GFLOP/s", f"{100 * v['efficiency']:.0f}%",
                        f"≥ {100 * target:.0f}%" if this_project else "—",
                        v["efficiency"] >= target if this_project else None))
    if "gpu" not in r:  # the GPU rows moved to bench/gpu.py; results from before still show theirs
        return rows
    gpu = r["gpu"]
    if gpu is None:
        for model in ("teacher", "student"):
            rows.append(row(f"GPU {model} training clips/s, float32 / mixed float16, ± XLA", "not measured",
                            "no GPU in this run", "—"))
    else:
        for g in gpu:
            rows.append(row(f"GPU {g['model']} training, mixed precision {g['mixed_precision']}, XLA "
                            f"{'on' if g['jit'] else 'off'}", f"{g['clips_per_s']:.0f} clips/s",
                            f"{g['step_flops_per_s'] / 1e12:.1f} TFLOP/s", "—"))
    return rows


def conv1_gradient_rows(r: dict) -> list[dict]:
    rows = []
    for g in r["gradient"]:
        ratio = g["tensorflow_seconds"] / g["planar_seconds"]
        rows.append(row(f"conv1 filter gradient, {g['case']} ({'×'.join(map(str, g['clip']))}, 3→{g['filters']}, "
                        f"batch {r['batch']}), float32", f"{1e3 * g['planar_seconds']:.2f} ms (per-tap 2-D, "
                        f"{'used' if g['used'] else 'not used'} here)",
                        f"TensorFlow's 3-D {1e3 * g['tensorflow_seconds']:.2f} ms", f"{ratio:.2f}× faster",
                        "used where ≥ 1×, not where < 1×", (ratio >= 1) == g["used"]))
    for s in r["step"]:
        ratio = s["tensorflow_seconds"] / s["planar_seconds"]
        used = {True: ", used here", False: ", not used here"}.get(s.get("used"), "")  # unknown in runs before 04dc28a
        rows.append(row(f"training step, {s['case']} (width 0.25, 16×32×32, batch {r['batch']}), float32",
                        f"{1e3 * s['planar_seconds']:.1f} ms (conv1's 2-D gradients{used})",
                        f"conv1 with TensorFlow's gradient {1e3 * s['tensorflow_seconds']:.1f} ms", f"{ratio:.2f}× faster"))
    return rows


def precision_rows(r: dict) -> list[dict]:
    rows = []
    d = r.get("depth")  # absent from results written before models/bfloat16_conv.py
    if d:
        error = d["relative_error"]
        wrong = [depth for depth, e in error.items() if e["tensorflow"] > 0.05]
        rows.append(row("bfloat16 3-D filter gradient, depths 1-6, largest error relative to float32",
                        f"{max(e['guarded'] for e in error.values()):.3g} (models/bfloat16_conv.py)",
                        f"TensorFlow's {max(e['tensorflow'] for e in error.values()):.3g}"
                        + (f", wrong at depth {', '.join(map(str, wrong))}" if wrong else ""),
                        "—", "≤ 0.05", max(e["guarded"] for e in error.values()) <= 0.05))
        for name, seconds in d["step_seconds"].items():
            ratio = seconds["tensorflow"] / seconds["guarded"]
            rows.append(row(f"bfloat16 training step, demo {name} (width 0.25, 16×32×32, batch 8)",
                            f"{1000 * seconds['guarded']:.1f} ms guarded",
                            f"TensorFlow's gradient {1000 * seconds['tensorflow']:.1f} ms", f"{ratio:.2f}×"))
    s = r.get("speed")  # absent from a --skip_speed run
    if s:
        chosen = s["chosen"]["auto"].split("(")[0].strip()  # without the why, which can name bfloat16 too
        bfloat16 = "bfloat16" in chosen
        rows.append(row("train_student.py step, default --mixed_precision auto (width 1.0, 16×112×112, batch 8)",
                        f"{1000 * s['seconds_per_step']['auto']:.0f} ms ({chosen})",
                        f"--mixed_precision off {1000 * s['seconds_per_step']['off']:.0f} ms",
                        f"{s['ratio_off_over_auto']:.2f}× faster", "≥ 1.3× with bfloat16 units" if bfloat16 else "—",
                        s["ratio_off_over_auto"] >= 1.3 if bfloat16 else None))
    parity = r.get("parity")
    if parity:
        text = {k: f"{100 * v['mean']:.1f}" + (f" ± {100 * v['std']:.1f}" if v["std"] is not None else "") + " %"
                for k, v in parity["summary"].items()}
        difference = parity.get("auto_minus_off")  # absent from results written before the paired difference
        ratio = "—" if difference is None else f"{100 * difference['mean']:+.1f} points" + (
            "" if difference["ci95"][0] is None else
            f" [{100 * difference['ci95'][0]:+.1f}, {100 * difference['ci95'][1]:+.1f}]")
        rows.append(row(f"demo student test accuracy, {len(parity['seeds'])} seeds, "
                        f"{parity.get('epochs', 20)} epochs, auto", text["auto"], f"off {text['off']}", ratio))
    return rows


def deployment_rows(r: dict) -> list[dict]:
    t, s, q = r["models"]["teacher"], r["models"]["student"], r["ratios"]
    return [
        row("student vs teacher: CPU latency per clip, batch 1", f"{s['latency_ms_per_clip']:.0f} ms",
            f"teacher {t['latency_ms_per_clip']:.0f} ms", f"{q['latency']:.1f}× lower"),
        row("student vs teacher: CPU throughput, batch 8", f"{s['throughput_clips_per_s']:.1f} clips/s",
            f"teacher {t['throughput_clips_per_s']:.2f} clips/s", f"{q['throughput']:.1f}×"),
        row("student vs teacher: parameters / FLOPs / file size",
            f"{s['params'] / 1e6:.1f} M / {s['flops_per_clip'] / 1e9:.2f} G / {s['size_bytes'] / 1e6:.0f} MB",
            f"{t['params'] / 1e6:.1f} M / {t['flops_per_clip'] / 1e9:.1f} G / {t['size_bytes'] / 1e6:.0f} MB",
            f"{q['params']:.1f}× / {q['flops']:.1f}× / {q['size']:.1f}× smaller"),
    ] + tflite_rows(r)


def tflite_rows(r: dict) -> list[dict]:
    if "tflite" not in r:  # results from before the TFLite rows
        return []
    ms, size, q = r["tflite"]["latency_ms"], r["tflite"]["size_bytes"], r["ratios"]
    keras_file = r["models"]["student"]["size_bytes"]
    return [
        row("student TFLite float32 vs Keras: CPU latency per clip, batch 1", f"{ms['float32']:.1f} ms",
            f"Keras {ms['keras']:.1f} ms", f"{q['tflite_float32_over_keras']:.2f}× Keras's", "≤ 1×",
            q["tflite_float32_over_keras"] <= 1),
        row("student TFLite full-integer int8 vs float32: CPU latency per clip", f"{ms['int8']:.1f} ms",
            f"TFLite float32 {ms['float32']:.1f} ms", f"{q['tflite_int8_over_float32']:.2f}× float32's", "≤ 0.75×",
            q["tflite_int8_over_float32"] <= 0.75),
        row("student TFLite full-integer int8 file vs .keras", f"{size['int8'] / 1e6:.1f} MB",
            f".keras {keras_file / 1e6:.1f} MB", f"{q['keras_file_over_int8_file']:.1f}× smaller", "≥ 3.5×",
            q["keras_file_over_int8_file"] >= 3.5),
    ]


def gpu_rows(r: dict) -> list[dict]:
    """bench/gpu.py: clips/s per model and setting against float32's, and the input pipeline's overhead."""
    rows = []
    clip = "×".join(str(n) for n in r["clip"][:3])
    float32 = {v["model"]: v["clips_per_s"] for v in r["variants"] if v["setting"] == "float32" and "clips_per_s" in v}
    for v in r["variants"]:
        name = f"GPU {v['model']} training, {v['setting']}; width {r['width']:g}, {clip}, batch {r['batch']}"
        if "clips_per_s" not in v:
            rows.append(row(name, "not measured", v["skipped"], "—"))
            continue
        ours = (f"{v['clips_per_s']:.0f} clips/s ({1000 * v['seconds_per_step']:.1f} ms/step, "
                f"{v['step_flops_per_s'] / 1e12:.1f} TFLOP/s)")
        reference = float32.get(v["model"])
        if v["setting"] == "float32" or reference is None:
            rows.append(row(name, ours, "—", "—"))
        else:
            rows.append(row(name, ours, f"float32 {reference:.0f} clips/s", f"{v['clips_per_s'] / reference:.2f}×"))
    p = r["pipeline"]
    name = f"GPU {p['model']} steps/s, {p['setting']}: frames.npy streamed by clip_dataset"
    if "steps_per_second" not in p:
        rows.append(row(name, "not measured", p["skipped"], "—"))
    else:
        s = p["steps_per_second"]
        rows.append(row(name, f"{s['streamed']:.1f} steps/s", f"one batch held on the GPU {s['held']:.1f} steps/s",
                        f"{100 * p['slowdown']:+.1f}% overhead", "≤ 10%", p["slowdown"] <= 0.10))
    return rows


ROWS = {"extraction": extraction_rows, "input_pipeline": input_pipeline_rows, "memory": memory_rows,
        "distillation": distillation_rows, "compute": compute_rows, "conv1_gradient": conv1_gradient_rows,
        "precision": precision_rows, "deployment": deployment_rows, "gpu": gpu_rows}
COLUMNS = ("benchmark", "this project", "reference", "ratio", "target", "met")


def this_cpu() -> dict:
    """The CPU a run measures: what its section is keyed by, and the description its header shows."""
    from utils.machine import cpu_flags, cpu_model, describe_cpu

    return {"model": cpu_model(), "flags": cpu_flags(), "description": describe_cpu()}


def section_key(cpu: dict, gpu: dict | None = None) -> str:
    """Stable across runs on the same class of machine (not the core count: containers differ in it)."""
    cpu_class = f"{cpu['model']} [{' '.join(cpu['flags']) or 'none of the listed flags'}]"
    return cpu_class if gpu is None else f"{gpu['name']} on {cpu_class}"


def cpu_from_description(description: str) -> dict:
    """The CPU of a results.json from before sections: describe_cpu()'s text, read back."""
    found = re.fullmatch(r"(?P<model>.+) \([^()]*\), \d+ cores?, flags: (?P<flags>.*)", description)
    if found is None:
        return {"model": description, "flags": [], "description": description}
    flags = [] if found["flags"].startswith("none of ") else found["flags"].split(", ")
    return {"model": found["model"], "flags": flags, "description": description}


def load(folder: Path) -> dict[str, dict]:
    """The sections recorded in ``folder``/results.json, by key; none if there is no file yet."""
    path = Path(folder) / "results.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    if "sections" in saved:
        return saved["sections"]
    cpu = cpu_from_description(saved["machine"])
    return {section_key(cpu): {"cpu": cpu, "gpu": None, "command": saved["command"], "date": None,
                               "seconds": saved.get("seconds"), "rows": saved["rows"], "raw": saved["raw"]}}


def section(results: dict, cpu: dict, command: str, seconds: dict | None = None, gpu: dict | None = None,
            date: str | None = None) -> dict:
    return {"cpu": cpu, "gpu": gpu, "command": command,
            "date": date or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "seconds": seconds,
            "rows": [r for name, result in results.items() for r in ROWS[name](result)], "raw": results}


def record(folder: Path, new: dict) -> Path:
    """Add ``new`` to ``folder``'s results, or replace the section of its machine class; keep the
    others. Both files are replaced whole (write, then rename). Returns RESULTS.md's path."""
    folder = Path(folder)
    sections = load(folder)
    sections[section_key(new["cpu"], new["gpu"])] = new
    folder.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(folder / "results.json",
                            json.dumps({"format": FORMAT, "sections": sections}, indent=2) + "\n")
    markdown = folder / "RESULTS.md"
    atomic_files.write_text(markdown, render(sections))
    return markdown


def write(results: dict, cpu: dict, command: str, folder: Path, seconds: dict | None = None,
          gpu: dict | None = None, date: str | None = None) -> Path:
    """Record one run's results as its machine class's section of ``folder``/RESULTS.md and results.json."""
    return record(folder, section(results, cpu, command, seconds, gpu, date))


def title(s: dict) -> str:
    return f"GPU: {s['gpu']['name']}" if s["gpu"] else f"CPU: {s['cpu']['model']}"


def render_section(s: dict) -> str:
    took = ""
    if s["seconds"]:
        took = (f" It took {sum(s['seconds'].values()) / 60:.1f} minutes (" +
                ", ".join(f"{name} {value / 60:.1f}" for name, value in s["seconds"].items()) + ").")
    machine = f"CPU: {s['cpu']['description']}."
    if s["gpu"]:
        g = s["gpu"]
        capability = f", compute capability {g['compute_capability']}" if g.get("compute_capability") else ""
        machine = f"GPU: {g['name']}{capability} (1 of {g['count']} used). Host " + machine
    lines = [f"## {title(s)}\n", f"{machine} Command: `{s['command']}`. Date: {s['date'] or 'not recorded'}.{took}\n",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in s["rows"]]
    return "\n".join(lines) + "\n"


def comparison(sections: list[dict]) -> str:
    """One row per benchmark row, one column per machine: this project's number and the ratio."""
    titles = [title(s) for s in sections]
    labels = [t if titles.count(t) == 1 else f"{t} [{' '.join(s['cpu']['flags'])}]" for t, s in zip(titles, sections)]
    names, targets = [], {}
    for s in sections:
        for r in s["rows"]:
            if r["benchmark"] not in targets:
                names.append(r["benchmark"])
            targets.setdefault(r["benchmark"], r["target"])
    cells = [{r["benchmark"]: r for r in s["rows"]} for s in sections]

    def cell(r: dict | None) -> str:
        if r is None:
            return "—"
        text = r["this project"] + ("" if r["ratio"] == "—" else f"; {r['ratio']}")
        return text + ("; target missed" if r["met"] == "**no**" else "")

    lines = ["| benchmark | " + " | ".join(labels) + " | target |", "|" + "---|" * (len(labels) + 2)]
    lines += [f"| {name} | " + " | ".join(cell(c.get(name)) for c in cells) + f" | {targets[name]} |" for name in names]
    return "\n".join(lines) + "\n"


def render(sections: dict[str, dict]) -> str:
    parts = ["# Benchmark results\n",
             "One section per machine class: a CPU (its model and the instruction-set flags that change "
             "TensorFlow's speed) from a full `python -m bench`, a GPU from `python -m bench --only gpu`. A run "
             "replaces its own class's section and keeps the others. Every ratio is measured side by side in "
             "one run; absolute times on a shared machine vary from run to run.\n"]
    for kind, group in (("CPUs", [s for s in sections.values() if not s["gpu"]]),
                        ("GPUs", [s for s in sections.values() if s["gpu"]])):
        if len(group) > 1:
            parts.append(f"## {kind} side by side\n\nEach row's number on each machine, then its ratio to the "
                         f"reference measured in the same run; details in the sections below.\n\n"
                         + comparison(group))
    parts += [render_section(s) for s in sections.values()]
    return "\n".join(parts)
