"""Which exported form to run on a CPU: the fastest whose top-1 agreement with Keras is at least 99%.

int8 is not faster everywhere: on an AVX2-only AMD EPYC, full-integer int8 took 1.2x the TFLite
float32 time for the paper's student, on an Intel Xeon with AVX-512 VNNI 0.6x (docs/export.md). So
export_student.py times every form where it runs and records that CPU with its choice; predict.py
follows the choice on the same CPU (its model name and the instruction-set flags that change these
kernels' speed) and, on any other CPU or when the export was not timed, times the candidates itself.
"""

from __future__ import annotations

from collections.abc import Callable

from utils.errors import InputError

MIN_AGREEMENT = 0.99


def machine_here() -> dict:
    """This machine as the report records it; ``cpu_model`` and ``cpu_flags`` decide whether a recorded
    choice holds here."""
    from utils.machine import available_cores, cpu_flags, cpu_model, describe_cpu

    return {"cpu": describe_cpu(), "cpu_model": cpu_model(), "cpu_flags": cpu_flags(), "cores": available_cores()}


def same_cpu(recorded: dict | None, here: dict) -> bool:
    return (isinstance(recorded, dict) and recorded.get("cpu_model") == here["cpu_model"]
            and list(recorded.get("cpu_flags") or []) == list(here["cpu_flags"]))


def candidates(forms: list[dict]) -> list[dict]:
    """The forms close enough to the Keras model to stand in for it (Keras itself always is)."""
    return [form for form in forms if form["top1_agreement"] >= MIN_AGREEMENT]


def _agreement_text() -> str:
    return f"≥ {100 * MIN_AGREEMENT:g}% top-1 agreement with Keras"


def _relative_speed(best: dict, forms: list[dict]) -> str:
    """``best``'s latency against TFLite float32's (Keras's when float32 is the best), e.g. '0.62× TFLite
    float32's latency'."""
    other = "keras" if best["kind"] == "float32" else "float32"
    reference = next((f for f in forms if f["kind"] == other and f.get("latency_ms_per_clip")), None)
    if reference is None:
        return f"{best['latency_ms_per_clip']:.3g} ms per clip"
    ratio = best["latency_ms_per_clip"] / reference["latency_ms_per_clip"]
    return f"{best['latency_ms_per_clip']:.3g} ms per clip, {ratio:.2f}× {reference['form']}'s latency"


def _fastest(forms: list[dict]) -> dict:
    return min(forms, key=lambda form: form["latency_ms_per_clip"])


def recommend(forms: list[dict], cpu: str) -> dict | None:
    """The fastest timed candidate with the reason in words, as export_report.json records it; None when
    the forms were not timed."""
    timed = [form for form in candidates(forms) if form.get("latency_ms_per_clip") is not None]
    if not timed:
        return None
    best = _fastest(timed)
    return {"kind": best["kind"], "form": best["form"], "path": best["path"],
            "latency_ms_per_clip": best["latency_ms_per_clip"],
            "why": f"fastest measured form with {_agreement_text()}, {_relative_speed(best, forms)} on {cpu}"}


def _form_of(forms: list[dict], kind: str, what: str) -> dict:
    for form in forms:
        if form["kind"] == kind:
            return form
    raise InputError(f"{what}: no form {kind!r} in this export (it has {', '.join(f['kind'] for f in forms)})")


def choose(report: dict, here: dict, forced: str | None = None,
           time_here: Callable[[list[dict]], dict[str, float]] | None = None) -> tuple[dict, str]:
    """The form of ``report`` (export_report.json) to run on this machine (``here``: machine_here()), and
    one line saying which and why: ``forced`` (a kind, --form) if given; else the recorded choice when it
    was measured on this CPU; else the fastest candidate as ``time_here`` (candidates -> seconds per clip
    by kind) times them here."""
    forms = report["forms"]
    if forced:
        form = _form_of(forms, forced, f"--form {forced}")
        return form, (f"using {form['path']}: --form {forced} ({100 * form['top1_agreement']:.1f}% top-1 agreement "
                      "with Keras on the test clips)")
    recommended = report.get("recommended")
    if recommended and same_cpu(report.get("machine"), here):
        return _form_of(forms, recommended["kind"], "recommended"), f"using {recommended['path']}: {recommended['why']}"
    if recommended:
        reason = f"the export was timed on another CPU ({report.get('machine', {}).get('cpu', 'not recorded')})"
    else:
        reason = "the export was not timed"
    pool = candidates(forms)
    seconds = time_here(pool)
    timed = [{**form, "latency_ms_per_clip": 1000 * seconds[form["kind"]]} for form in pool]
    best = _fastest(timed)
    return best, (f"using {best['path']}: {reason}, so the {len(pool)} forms with {_agreement_text()} were timed "
                  f"here on one clip: fastest, {_relative_speed(best, timed)} on {here['cpu']}")
