"""bench/results.py: the results table keeps every benchmark's rows and judges each target right, and
the results files keep one section per CPU class."""

import json

import pytest

import utils.machine
from bench import results

EXTRACTION = {"videos": 96, "seconds": {"seek": 6.0, "ours": 1.5, "floor": 1.2},
              "peak_mib": {"ours_main": [48.0, 48.5], "ours_worker": [59.0, 59.2], "seek": [500.0, 1800.0]},
              "ratios": {"seek_over_ours": 4.0, "ours_over_floor": 1.25, "ours_main_memory_4x_over_1x": 1.01}}
MEMORY = {"clips": [400, 1600], "frames_mib": {"1x": 230.0, "4x": 920.0},
          "peak_rss_mib": {"1x": {"distill": 1000.0}, "4x": {"distill": 1150.0}}, "growth": {"distill": 0.15},
          "larger_than_memory": {"completed": None, "why_not_measured": "no writable memory cgroup"}}


def test_table_has_a_row_per_measurement_and_marks_a_missed_target(tmp_path):
    cpu = {"model": "Some CPU", "flags": ["avx2"], "description": "Some CPU (x86_64), 2 cores, flags: avx2"}
    path = results.write({"extraction": EXTRACTION, "memory": MEMORY}, cpu, "python -m bench", tmp_path)
    table = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    assert table[0] == "| benchmark | this project | reference | ratio | target | met |"
    rows = table[1:]
    assert len(rows) == 3 + 2
    assert "4.00× faster" in rows[0] and rows[0].endswith("| ≥ 3× | yes |")
    assert "1.25× the floor" in rows[1] and rows[1].endswith("| yes |")
    assert "distill peak memory, 400 → 1600 clips" in rows[3] and "+15.0%" in rows[3] and rows[3].endswith("| **no** |")
    assert "not measured" in rows[4] and "no writable memory cgroup" in rows[4]
    saved = json.loads((tmp_path / "results.json").read_text())
    only, = saved["sections"].values()
    assert only["raw"]["extraction"] == EXTRACTION and len(only["rows"]) == 5 and only["cpu"] == cpu


def test_gpu_rows_say_not_measured_without_a_gpu(tmp_path):
    compute = {"matmul_flops_per_s": 150e9, "gpu": None, "variants": [
        {"name": "student, this project", "model": "student", "batch": 8, "onednn": True, "jit": False,
         "step_flops_per_s": 50e9, "seconds_per_step": 0.6, "efficiency": 50e9 / 150e9}]}
    rows = results.compute_rows(compute)
    assert rows[0]["ratio"] == "33%" and rows[0]["target"] == "≥ 40%" and rows[0]["met"] == "**no**"
    assert [r["this project"] for r in rows[1:]] == ["not measured", "not measured"]
    del compute["gpu"]  # the GPU rows are bench/gpu.py's now
    assert len(results.compute_rows(compute)) == 1


def test_a_cpu_without_bfloat16_units_measures_float32_only_and_says_why(monkeypatch):
    from bench import compute

    monkeypatch.setattr("utils.machine.cpu_flags", lambda: ["avx2", "fma"])
    reason = compute.bfloat16_skip_reason()
    assert reason and "no bfloat16 units" in reason
    monkeypatch.setattr("utils.machine.cpu_flags", lambda: ["avx2", "fma", "avx512f", "avx512_bf16"])
    assert compute.bfloat16_skip_reason() is None
    measured = {"matmul_flops_per_s": 150e9, "peaks": {"float32": {"matmul": 150e9, "conv3d": 120e9}},
                "bfloat16_skipped": reason, "variants": [
                    {"name": "student, this project", "model": "student", "batch": 8, "onednn": True, "jit": False,
                     "precision": "float32", "step_flops_per_s": 75e9, "seconds_per_step": 0.5, "efficiency": 0.5}]}
    rows = results.compute_rows(measured)
    assert [r["benchmark"] for r in rows][:2] == [
        "CPU peak, float32: 2048² matmul (best in the run) / 3×3×3 Conv3D 8×16×28×28×128→256",
        "CPU peak and training steps, bfloat16"]
    assert rows[1]["this project"] == "not measured" and rows[1]["reference"] == reason
    assert rows[2]["met"] == "yes"


def test_the_bfloat16_speed_target_is_judged_only_where_auto_picked_bfloat16():
    def speed(chosen, ratio):
        return {"speed": {"chosen": {"auto": chosen, "off": "precision: float32 (as asked)"},
                          "seconds_per_step": {"auto": 0.8, "off": 0.8 * ratio}, "ratio_off_over_auto": ratio}}

    amd = results.precision_rows(speed("precision: float32 (auto: this CPU has no bfloat16 matrix units "
                                       "(avx512_bf16, amx_bf16), float32 is faster)", 0.97))
    assert amd[0]["target"] == "—" and amd[0]["met"] == "—"
    intel = results.precision_rows(speed("precision: mixed bfloat16 (auto: this CPU has avx512_bf16)", 1.45))
    assert intel[0]["target"] == "≥ 1.3× with bfloat16 units" and intel[0]["met"] == "yes"


def test_deployment_rows_judge_the_tflite_targets():
    model = {"latency_ms_per_clip": 20.0, "throughput_clips_per_s": 60.0, "params": 7e6, "flops_per_clip": 3e9,
             "size_bytes": 29e6}
    deployment = {"models": {"teacher": model, "student": model},
                  "ratios": {"latency": 1.0, "throughput": 1.0, "params": 1.0, "flops": 1.0, "size": 1.0,
                             "tflite_float32_over_keras": 1.2, "tflite_int8_over_float32": 0.6,
                             "keras_file_over_int8_file": 3.9},
                  "tflite": {"latency_ms": {"keras": 20.0, "float32": 24.0, "int8": 14.4},
                             "size_bytes": {"float32": 29e6, "int8": 7.4e6}}}
    rows = {r["benchmark"]: r for r in results.deployment_rows(deployment)}
    float32 = rows["student TFLite float32 vs Keras: CPU latency per clip, batch 1"]
    assert float32["ratio"] == "1.20× Keras's" and float32["met"] == "**no**"
    assert rows["student TFLite full-integer int8 vs float32: CPU latency per clip"]["met"] == "yes"
    assert rows["student TFLite full-integer int8 file vs .keras"]["ratio"] == "3.9× smaller"
    del deployment["tflite"]  # a results.json from before the TFLite rows still gives its three rows
    assert len(results.deployment_rows(deployment)) == 3


def test_precision_rows_give_the_paired_difference_and_allow_a_parity_only_run():
    parity = {"seeds": [0, 1, 2], "epochs": 50,
              "summary": {"auto": {"mean": 0.92, "std": 0.006}, "off": {"mean": 0.91, "std": 0.03}},
              "auto_minus_off": {"mean": 0.009, "ci95": [-0.021, 0.04]}}
    only, = results.precision_rows({"cpu": "x", "parity": parity})  # --skip_speed: no speed row
    assert only["benchmark"] == "demo student test accuracy, 3 seeds, 50 epochs, auto"
    assert only["this project"] == "92.0 ± 0.6 %" and only["reference"] == "off 91.0 ± 3.0 %"
    assert only["ratio"] == "+0.9 points [-2.1, +4.0]"
    speed = {"seconds_per_step": {"auto": 0.36, "off": 0.53}, "ratio_off_over_auto": 1.47,
             "chosen": {"auto": "precision: bfloat16 (CPU has avx512_bf16)"}}
    del parity["auto_minus_off"], parity["epochs"]  # a results.json from before the paired difference
    first, second = results.precision_rows({"speed": speed, "parity": parity})
    assert first["met"] == "yes" and second["ratio"] == "—" and "20 epochs" in second["benchmark"]


def test_precision_rows_name_the_depths_where_tensorflows_bfloat16_filter_gradient_is_wrong():
    errors = {str(d): {"tensorflow": 0.004, "guarded": 0.004} for d in range(1, 7)}
    steps = {"student": {"tensorflow": 0.0186, "guarded": 0.0175}}
    right, step = results.precision_rows({"depth": {"relative_error": errors, "step_seconds": steps}})
    assert right["reference"] == "TensorFlow's 0.004" and right["met"] == "yes"
    assert step["this project"] == "17.5 ms guarded" and step["ratio"] == "1.06×"
    errors["2"] = {"tensorflow": float("inf"), "guarded": 0.0047}
    wrong, _ = results.precision_rows({"depth": {"relative_error": errors, "step_seconds": steps}})
    assert wrong["reference"] == "TensorFlow's inf, wrong at depth 2" and wrong["this project"].startswith("0.0047")
    errors["2"]["guarded"] = 0.5
    assert results.precision_rows({"depth": {"relative_error": errors, "step_seconds": {}}})[0]["met"] == "**no**"


@pytest.fixture
def cpu(monkeypatch):
    """Make this machine's CPU the one named: cpu("Model", ["flag", ...])."""
    def be(model: str, flags: list[str]) -> None:
        monkeypatch.setattr(utils.machine, "cpu_model", lambda: model)
        monkeypatch.setattr(utils.machine, "cpu_flags", lambda: flags)
        description = f"{model} (x86_64), 2 cores, flags: {', '.join(flags)}"
        monkeypatch.setattr(utils.machine, "describe_cpu", lambda: description)
    return be


def extraction(seek_seconds: float) -> dict:
    """A fake extraction result whose first row says ``seek_seconds``."""
    return {**EXTRACTION, "seconds": {**EXTRACTION["seconds"], "seek": seek_seconds},
            "ratios": {**EXTRACTION["ratios"], "seek_over_ours": seek_seconds / 1.5}}


def test_a_run_replaces_only_its_own_cpus_section(tmp_path, cpu):
    def run(seek_seconds: float) -> None:
        results.write({"extraction": extraction(seek_seconds)}, results.this_cpu(), "python -m bench", tmp_path,
                      {"extraction": 60.0})

    def sections() -> dict:
        return {s["cpu"]["model"]: s for s in json.loads((tmp_path / "results.json").read_text())["sections"].values()}

    cpu("Xeon", ["avx2", "avx512_bf16"])
    run(6.0)
    first_rows = sections()["Xeon"]["rows"]
    cpu("EPYC", ["avx2"])
    run(9.0)
    assert sections()["Xeon"]["rows"] == first_rows  # the second CPU kept the first one's rows
    assert sections()["EPYC"]["rows"][0]["reference"] == "seek method (original) 9.00 s"
    cpu("Xeon", ["avx2", "avx512_bf16"])
    run(3.0)
    after = sections()
    assert list(after) == ["Xeon", "EPYC"]  # replaced in place, nothing added
    assert after["Xeon"]["rows"][0]["reference"] == "seek method (original) 3.00 s"
    assert after["Xeon"]["rows"][0]["met"] == "**no**"  # 2.00× faster misses the 3× target
    assert after["EPYC"]["rows"][0]["reference"] == "seek method (original) 9.00 s"

    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "## CPU: Xeon" in markdown and "## CPU: EPYC" in markdown and "flags: avx2, avx512_bf16" in markdown
    assert "## CPUs side by side" in markdown
    assert "| benchmark | CPU: Xeon | CPU: EPYC | target |" in markdown
    assert ("| extraction, 96 videos → 16×112×112 | 1.50 s; 2.00× faster; target missed | 1.50 s; 6.00× faster "
            "| ≥ 3× |") in markdown
    assert not list(tmp_path.glob("*.partial"))


def test_the_same_model_with_other_flags_is_another_class(tmp_path, cpu):
    for flags in (["avx2"], ["avx2", "amx_bf16"]):
        cpu("Xeon", flags)
        results.write({"extraction": EXTRACTION}, results.this_cpu(), "python -m bench", tmp_path)
    assert list(results.load(tmp_path)) == ["Xeon [avx2]", "Xeon [avx2 amx_bf16]"]
    header = "| benchmark | CPU: Xeon [avx2] | CPU: Xeon [avx2 amx_bf16] | target |"
    assert header in (tmp_path / "RESULTS.md").read_text()


def test_a_single_run_results_file_is_kept_as_its_cpus_section(tmp_path, cpu):
    machine = "Intel(R) Xeon(R) Processor (x86_64), 2 cores, flags: avx2, fma, amx_bf16"
    rows = results.extraction_rows(EXTRACTION)
    (tmp_path / "results.json").write_text(json.dumps({"machine": machine, "command": "python -m bench",
                                                       "seconds": {"extraction": 61.0}, "rows": rows,
                                                       "raw": {"extraction": EXTRACTION}}))
    cpu("AMD EPYC 7B13 64-Core Processor", ["avx2", "fma"])
    results.write({"extraction": extraction(9.0)}, results.this_cpu(), "python -m bench", tmp_path)
    old, new = results.load(tmp_path).values()
    assert old["cpu"] == {"model": "Intel(R) Xeon(R) Processor", "flags": ["avx2", "fma", "amx_bf16"],
                          "description": machine}
    assert old["rows"] == rows and old["raw"] == {"extraction": EXTRACTION} and old["seconds"] == {"extraction": 61.0}
    assert new["cpu"]["model"] == "AMD EPYC 7B13 64-Core Processor"
    assert "Date: not recorded. It took 1.0 minutes (extraction 1.0)." in (tmp_path / "RESULTS.md").read_text()


def test_conv1_gradient_rows_mark_a_choice_that_is_the_slower_on_this_cpu():
    def case(name, clip, filters, planar, tensorflow, used):
        return {"case": name, "clip": clip, "filters": filters, "planar_seconds": planar,
                "tensorflow_seconds": tensorflow, "relative_difference": 1e-6, "used": used}

    measured = {"batch": 8, "gradient": [case("demo student", [16, 32, 32], 4, 0.004, 0.015, True),
                                         case("at the budget", [16, 64, 64], 16, 0.03, 0.025, True),
                                         case("paper teacher", [16, 112, 112], 64, 0.2, 0.1, False),
                                         case("paper student", [16, 112, 112], 16, 0.05, 0.07, False)],
                "step": [{"case": "demo student", "planar_seconds": 0.027, "tensorflow_seconds": 0.037, "used": True},
                         {"case": "demo teacher", "planar_seconds": 0.06, "tensorflow_seconds": 0.05, "used": True},
                         {"case": "demo student, AVX-512", "planar_seconds": 0.027, "tensorflow_seconds": 0.037,
                          "used": False},
                         {"case": "demo student, before 04dc28a", "planar_seconds": 0.027, "tensorflow_seconds": 0.037}]}
    rows = results.ROWS["conv1_gradient"](measured)
    assert [r["ratio"] for r in rows] == ["3.75× faster", "0.83× faster", "0.50× faster", "1.40× faster",
                                          "1.37× faster", "0.83× faster", "1.37× faster", "1.37× faster"]
    # whole steps of the small demo networks are often within noise of each other: shown, not judged
    assert [r["met"] for r in rows] == ["yes", "**no**", "yes", "**no**", "—", "—", "—", "—"]
    assert "16×112×112, 3→64" in rows[2]["benchmark"] and "not used here" in rows[2]["this project"]
    assert "27.0 ms (conv1's 2-D gradients, used here)" in rows[4]["this project"]
    assert "not used here" in rows[6]["this project"] and rows[7]["this project"] == "27.0 ms (conv1's 2-D gradients)"
