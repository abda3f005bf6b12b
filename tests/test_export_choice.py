"""The form an export recommends and predict.py runs: the fastest with >= 99% top-1 agreement with Keras,
as timed on the export's CPU; re-timed here on any other CPU. Stand-in reports and timings: no model."""

import pytest

from utils.errors import InputError
from utils.export.choice import choose, recommend, same_cpu

THIS_CPU = {"cpu": "AMD EPYC (x86_64), 2 cores, flags: avx2, fma", "cpu_model": "AMD EPYC",
            "cpu_flags": ["avx2", "fma"], "cores": 2}
VNNI_CPU = {"cpu": "Intel Xeon (x86_64), 2 cores, flags: avx2, fma, avx512f, avx512_vnni", "cpu_model": "Intel Xeon",
            "cpu_flags": ["avx2", "fma", "avx512f", "avx512_vnni"], "cores": 2}


def form(kind, latency, agreement=1.0):
    files = {"keras": "model.keras", "saved_model": "saved_model"}
    return {"form": f"the {kind} form", "kind": kind, "path": files.get(kind, f"model_{kind}.tflite"),
            "top1_agreement": agreement, "latency_ms_per_clip": latency}


def report(forms, machine=THIS_CPU):
    return {"forms": forms, "machine": machine, "recommended": recommend(forms, machine["cpu"])}


def no_timing(forms):
    raise AssertionError("timed although the report's choice holds here")


def test_a_slower_int8_is_not_recommended():
    forms = [form("keras", 45.0), form("float32", 44.0), form("int8", 52.8), form("int8_mixed", 41.5)]
    recommended = recommend(forms, THIS_CPU["cpu"])
    assert recommended["kind"] == "int8_mixed" and recommended["path"] == "model_int8_mixed.tflite"
    assert "0.94× the float32 form's latency" in recommended["why"] and THIS_CPU["cpu"] in recommended["why"]
    slower = [form("keras", 45.0), form("float32", 44.0), form("int8", 52.8)]
    assert recommend(slower, THIS_CPU["cpu"])["kind"] == "float32"


def test_agreement_below_99_percent_excludes_a_form_however_fast():
    forms = [form("keras", 45.0), form("float32", 44.0), form("int8", 26.0, agreement=0.98)]
    assert recommend(forms, THIS_CPU["cpu"])["kind"] == "float32"
    forms[2]["top1_agreement"] = 0.99
    assert recommend(forms, THIS_CPU["cpu"])["kind"] == "int8"


def test_keras_itself_is_a_candidate():
    forms = [form("keras", 40.0), form("saved_model", 41.0), form("float32", 44.0), form("int8", 52.0)]
    recommended = recommend(forms, THIS_CPU["cpu"])
    assert recommended["kind"] == "keras" and "0.91× the float32 form's latency" in recommended["why"]


def test_untimed_forms_give_no_recommendation():
    assert recommend([form("keras", None), form("float32", None)], THIS_CPU["cpu"]) is None


def test_on_the_measured_cpu_the_recorded_choice_is_used_without_timing():
    chosen, line = choose(report([form("keras", 45.0), form("float32", 44.0), form("int8", 26.0)]), THIS_CPU,
                          time_here=no_timing)
    assert chosen["kind"] == "int8"
    assert line.startswith("using model_int8.tflite: fastest measured form with ≥ 99% top-1 agreement")
    assert "\n" not in line


@pytest.mark.parametrize("here", [VNNI_CPU, {**THIS_CPU, "cpu_flags": ["avx2", "fma", "avx512f"]}],
                         ids=["other model", "same model, other flags"])
def test_on_another_cpu_the_candidates_are_timed_here_and_the_fastest_used(here):
    measured = report([form("keras", 45.0), form("float32", 44.0), form("int8", 52.8),
                       form("dynamic_int8", 30.0, agreement=0.97)])
    assert measured["recommended"]["kind"] == "float32"
    timed = []

    def time_here(forms):
        timed.extend(f["kind"] for f in forms)
        return {"keras": 0.040, "float32": 0.044, "int8": 0.026}

    chosen, line = choose(measured, here, time_here=time_here)
    assert timed == ["keras", "float32", "int8"]  # the 97% form is no candidate
    assert chosen["kind"] == "int8" and chosen["latency_ms_per_clip"] == pytest.approx(26.0)
    assert line.startswith("using model_int8.tflite: the export was timed on another CPU (AMD EPYC")
    assert "timed here on one clip" in line and here["cpu"] in line and "0.59× the float32 form's latency" in line


def test_an_untimed_export_is_timed_here():
    chosen, line = choose(report([form("keras", None), form("float32", None)]), THIS_CPU,
                          time_here=lambda forms: {"keras": 0.002, "float32": 0.001})
    assert chosen["kind"] == "float32" and "the export was not timed" in line


def test_form_forces_a_form_and_an_unknown_one_is_refused():
    measured = report([form("keras", 45.0), form("float32", 44.0), form("int8", 52.8, agreement=0.95)])
    chosen, line = choose(measured, VNNI_CPU, forced="int8", time_here=no_timing)
    assert chosen["kind"] == "int8" and line == ("using model_int8.tflite: --form int8 (95.0% top-1 agreement with "
                                                 "Keras on the test clips)")
    with pytest.raises(InputError, match="--form int8_mixed: no form 'int8_mixed' in this export"):
        choose(measured, THIS_CPU, forced="int8_mixed", time_here=no_timing)


def test_same_cpu_compares_model_and_flags():
    assert same_cpu(THIS_CPU, dict(THIS_CPU, cores=16))
    assert not same_cpu(THIS_CPU, VNNI_CPU)
    assert not same_cpu(None, THIS_CPU) and not same_cpu({"cpu": "x"}, THIS_CPU)
