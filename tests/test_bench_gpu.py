"""bench/gpu.py: the GPU check's measuring path, run on the CPU with a stand-in GPU and tiny shapes, gives
the rows it would record; without a GPU it says so in one line and writes nothing."""

import json

from bench import gpu, results
from tests.test_bench_results import EXTRACTION

STAND_IN = [{"name": "Stand-in GPU", "compute_capability": "9.0"}]
TINY = gpu.Plan(clip=(16, 16, 16, 3), width=0.125, batch=2, warmup=1, steps=1, pipeline_clips=4, pipeline_steps=1,
                rounds=1)
FLOAT32 = gpu.Setting("float32", "off", False)
HOST = {"model": "Host CPU", "flags": ["avx2"], "description": "Host CPU (x86_64), 16 cores, flags: avx2"}


def test_the_check_measures_every_model_and_the_pipeline_and_records_a_gpu_section(tmp_path):
    mixed = gpu.Setting("mixed bfloat16", "bfloat16", False)  # CPU stand-in for float16 (no float16 CPU pooling)
    measured = gpu.measure(STAND_IN, TINY, [FLOAT32, mixed], FLOAT32, "/CPU:0", tmp_path)
    assert [(v["model"], v["setting"]) for v in measured["variants"]] == [
        ("student", "float32"), ("teacher", "float32"), ("student", "mixed bfloat16"), ("teacher", "mixed bfloat16")]
    assert all(v["clips_per_s"] > 0 and v["step_flops_per_s"] > 0 for v in measured["variants"])
    assert measured["pipeline"]["setting"] == "float32" and measured["pipeline"]["clips"] == 4
    assert set(measured["pipeline"]["steps_per_second"]) == {"held", "streamed"}
    assert measured["gpu"] == {**STAND_IN[0], "count": 1} and measured["held_on"].endswith("CPU:0")

    rows = results.gpu_rows(json.loads(json.dumps(measured)))  # as read back from results.json
    names = [r["benchmark"] for r in rows]
    assert names[:2] == ["GPU student training, float32; width 0.125, 16×16×16, batch 2",
                         "GPU teacher training, float32; width 0.125, 16×16×16, batch 2"]
    assert "clips/s" in rows[0]["this project"] and rows[0]["ratio"] == "—"
    assert rows[2]["reference"].startswith("float32 ") and rows[2]["ratio"].endswith("×")
    pipeline = rows[-1]
    assert pipeline["benchmark"] == "GPU student steps/s, float32: frames.npy streamed by clip_dataset"
    assert pipeline["reference"].startswith("one batch held on the GPU") and pipeline["target"] == "≤ 10%"
    assert pipeline["met"] in ("yes", "**no**")

    results.write({"extraction": EXTRACTION}, HOST, "python -m bench", tmp_path)  # the host's CPU section first
    results.write({"gpu": measured}, HOST, "python -m bench --only gpu", tmp_path, {"gpu": 12.0}, gpu=measured["gpu"])
    sections = results.load(tmp_path)
    assert list(sections) == ["Host CPU [avx2]", "Stand-in GPU on Host CPU [avx2]"]
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "## GPU: Stand-in GPU" in markdown and "## CPU: Host CPU" in markdown
    assert results.load(tmp_path)["Host CPU [avx2]"]["rows"] == results.extraction_rows(EXTRACTION)  # kept
    assert "GPU: Stand-in GPU, compute capability 9.0 (1 of 1 used). Host CPU: Host CPU (x86_64)" in markdown


def test_past_its_time_budget_nothing_new_starts_and_the_rows_say_so(tmp_path):
    over = gpu.Plan(**{**TINY.__dict__, "budget_s": -1.0})
    measured = gpu.measure(STAND_IN, over, [FLOAT32], FLOAT32, "/CPU:0", tmp_path)
    rows = results.gpu_rows(measured)
    assert [r["this project"] for r in rows] == ["not measured"] * 3
    assert rows[0]["reference"] == "past the -1 s budget" and rows[2]["reference"] == "not reached"


def test_a_setting_that_fails_is_recorded_in_its_row_and_the_check_goes_on(tmp_path, monkeypatch):
    def out_of_memory(model_name, setting, plan):
        raise RuntimeError("OOM when allocating tensor\n" + "a page of TensorFlow trace\n" * 50)

    monkeypatch.setattr(gpu, "build", out_of_memory)
    measured = gpu.measure(STAND_IN, TINY, [FLOAT32], FLOAT32, "/CPU:0", tmp_path)
    assert [v["skipped"] for v in measured["variants"]] == ["failed: RuntimeError: OOM when allocating tensor"] * 2
    assert results.gpu_rows(measured)[0]["reference"] == "failed: RuntimeError: OOM when allocating tensor"


def test_without_a_gpu_it_says_so_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu, "visible_gpus", lambda: [])
    assert gpu.unavailable() == gpu.NO_GPU
    assert gpu.main(["--json", str(tmp_path / "gpu.json"), "--workdir", str(tmp_path / "work")]) is None
    assert capsys.readouterr().out == f"bench.gpu: {gpu.NO_GPU}\n"
    assert not list(tmp_path.iterdir())
