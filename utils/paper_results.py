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
