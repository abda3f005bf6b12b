"""The paper's results table (Ullah & Munir 2023, top-1 accuracy in %, random 80/20 split), and
the row names our reproduction fills in, in the paper's order."""

from __future__ import annotations

DATASETS = ("UCF11", "UCF50", "HMDB51", "UCF101")
TEMPERATURES = (1, 5, 10, 15, 20)

# row -> accuracy per dataset, in DATASETS order
_PUBLISHED = {
    "Student w/o KD": (88.71, 95.81, 88.24, 93.74),
    "TFS Teacher": (95.86, 96.40, 90.67, 95.04),
    "TUTL Teacher": (99.70, 98.37, 93.10, 98.83),
    "Student-TFS (T=1)": (95.73, 96.25, 88.62, 95.11),
    "Student-TFS (T=5)": (96.84, 96.70, 88.25, 95.64),
    "Student-TFS (T=10)": (97.56, 97.60, 91.55, 96.73),
    "Student-TFS (T=15)": (96.43, 96.91, 87.22, 96.11),
    "Student-TFS (T=20)": (96.58, 97.21, 86.92, 96.20),
    "Student-TUTL (T=1)": (95.12, 96.65, 89.80, 96.24),
    "Student-TUTL (T=5)": (97.45, 97.15, 89.14, 96.80),
    "Student-TUTL (T=10)": (98.78, 97.71, 92.89, 97.36),
    "Student-TUTL (T=15)": (98.17, 97.53, 89.43, 96.58),
    "Student-TUTL (T=20)": (97.88, 97.64, 89.66, 95.90),
}
PUBLISHED = {row: dict(zip(DATASETS, values)) for row, values in _PUBLISHED.items()}
ROWS = tuple(_PUBLISHED)
BASELINE_ROW = "Student w/o KD"
EQUAL_BUDGET_ROW = "Student w/o KD (equal budget)"  # the baseline trained for the distillation epochs (ours)


def distilled_row(teacher: str, temperature: float) -> str:
    """'Student-TFS (T=10)' for teacher 'TFS' and temperature 10."""
    return f"Student-{teacher} (T={temperature:g})"


def guess_dataset(name: str) -> str | None:
    """The paper's dataset a folder name refers to ('UCF101_frames' -> 'UCF101'), or None."""
    upper = name.upper()
    for dataset in sorted(DATASETS, key=len, reverse=True):  # UCF101 before UCF11
        if dataset in upper:
            return dataset
    return None


# The paper's protocol (shared/paper-results.md), as the sidecars record settings.
PAPER_CLIP = [16, 112, 112, 3]
PAPER_SETTINGS = {"batch_size": 8, "lr": 1e-4, "init": "glorot", "alpha": 0.1, "width": 1.0,
                  "teacher_epochs": 50, "distillation_epochs": 100, "test_size": 0.2}


def _numbers(values) -> str:
    return ", ".join(f"{v:g}" for v in sorted(set(values)))


def departures(records: list[dict]) -> list[str]:
    """What the models recorded in ``records`` (sidecars) did otherwise than the paper, in words."""
    found = []
    shapes = {tuple(r.get("input_shape") or PAPER_CLIP) for r in records}
    if shapes != {tuple(PAPER_CLIP)}:
        found.append("clips " + ", ".join("×".join(map(str, s[:3])) for s in sorted(shapes)) + " (paper 16×112×112)")
    hyper = [r.get("hyperparameters") or {} for r in records]
    by_role: dict[str, list[dict]] = {}
    for record in records:
        by_role.setdefault(_role_name(record), []).append(record)
    widths = [f"{role} {_numbers(r.get('width', 1.0) for r in group)}" for role, group in by_role.items()
              if any(r.get("width", 1.0) != 1.0 for r in group)]
    if widths:
        found.append("widths " + ", ".join(widths) + " of the paper's networks")
    epochs = []
    for role, group in by_role.items():
        values = [(r.get("hyperparameters") or {}).get("epochs") for r in group]
        values = [v for v in values if v is not None]
        paper = {"TFS teacher": 50, "TUTL teacher": 50, "distilled students": 100}.get(role)
        if values and (paper is None or set(values) != {paper}):
            epochs.append(f"{role} {_numbers(values)}" + (f" (paper {paper})" if paper else " (paper: not stated)"))
    if epochs:
        found.append("epochs: " + "; ".join(epochs))
    for key, label in (("batch_size", "batch"), ("lr", "Adam learning rate")):
        values = {h.get(key) for h in hyper if h.get(key) is not None}
        if values and values != {PAPER_SETTINGS[key]}:
            found.append(f"{label} {_numbers(values)} (paper {PAPER_SETTINGS[key]:g})")
    schedules = {h.get("lr_schedule", "constant") for h in hyper if h}
    if schedules - {"constant"}:
        found.append(f"learning rate {', '.join(sorted(schedules))} (decayed over each run; paper: constant)")
    inits = {h.get("init", "glorot") for h in hyper if h}
    if inits - {"glorot"}:
        found.append(f"initialisation {', '.join(sorted(inits))} (paper: Keras's Glorot-uniform)")
    alphas = {(r.get("distillation") or {}).get("alpha") for r in records if r.get("distillation")}
    if alphas and alphas != {PAPER_SETTINGS["alpha"]}:
        found.append(f"alpha {_numbers(alphas)} (paper 0.1)")
    splits = [r.get("split") or {} for r in records]
    protocols = {(s.get("protocol"), s.get("test_size")) for s in splits if s}
    if protocols and protocols != {("random", PAPER_SETTINGS["test_size"])}:
        found.append("split " + ", ".join(f"{p} (test {t:g})" for p, t in sorted(protocols)) + " (paper: random 80/20)")
    held_out = {s.get("val_size") for s in splits if s.get("val_size")}
    if held_out:
        found.append(f"{_numbers(100 * v for v in held_out)}% of the training clips held out to pick the best epoch "
                     "(paper: none)")
    precisions = {h.get("mixed_precision") for h in hyper if h.get("mixed_precision") not in (None, "off")}
    if precisions:
        found.append(f"mixed precision {', '.join(sorted(precisions))} (paper: float32)")
    if any(r.get("original_code") for r in records):
        found.append("the original code's arithmetic, an ablation (--original_code: networks end in softmax, the "
                      "distillation temperature divides probabilities)")
    if any(r.get("architecture") == "c3d_sports1m" and r.get("weights_pretext") for r in records):
        found.append("TUTL teacher from stand-in weights pre-trained on other synthetic actions (paper: Sports-1M)")
    return found


def _role_name(record: dict) -> str:
    if record.get("role") == "teacher":
        return "TUTL teacher" if record.get("architecture") == "c3d_sports1m" else "TFS teacher"
    if record.get("role") == "distilled_student":
        return "distilled students"
    return {"student": "student w/o KD"}.get(record.get("role"), str(record.get("role")))


def departures_caption(records: list[dict]) -> str:
    found = departures(records)
    return ("Departures from the paper's protocol: " + "; ".join(found) + ".") if found else \
        "Settings as in the paper."
