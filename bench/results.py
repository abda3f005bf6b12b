"""bench/RESULTS.md and bench/results.json: every benchmark's headline numbers in one table.

A row: what is measured, this project's number, the reference it is measured against in the same
run, their ratio, the target, and whether it is met.
"""

from __future__ import annotations

import json
from pathlib import Path


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
    gpu = r.get("gpu")
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


def precision_rows(r: dict) -> list[dict]:
    rows = []
    s = r.get("speed")  # absent from a --skip_speed run
    if s:
        bfloat16 = "bfloat16" in s["chosen"]["auto"]
        rows.append(row("train_student.py step, default --mixed_precision auto (width 1.0, 16×112×112, batch 8)",
                        f"{1000 * s['seconds_per_step']['auto']:.0f} ms ({s['chosen']['auto'].split('(')[0].strip()})",
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


ROWS = {"extraction": extraction_rows, "input_pipeline": input_pipeline_rows, "memory": memory_rows,
        "distillation": distillation_rows, "compute": compute_rows, "precision": precision_rows,
        "deployment": deployment_rows}
COLUMNS = ("benchmark", "this project", "reference", "ratio", "target", "met")


def write(results: dict, machine: str, command: str, folder: Path, seconds: dict | None = None) -> Path:
    rows = [r for name, result in results.items() for r in ROWS[name](result)]
    took = ""
    if seconds:
        took = (f" It took {sum(seconds.values()) / 60:.1f} minutes (" +
                ", ".join(f"{name} {value / 60:.1f}" for name, value in seconds.items()) + ").")
    lines = ["# Benchmark results\n", f"Machine: {machine}. Command: `{command}`.{took} Every ratio is measured side "
             "by side in this one run; absolute times on a shared machine vary from run to run.\n",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in rows]
    markdown = folder / "RESULTS.md"
    markdown.write_text("\n".join(lines) + "\n")
    (folder / "results.json").write_text(json.dumps({"machine": machine, "command": command, "seconds": seconds,
                                                     "rows": rows, "raw": results}, indent=2))
    return markdown
