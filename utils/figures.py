"""PNG figures written with matplotlib's file-only Agg backend (no display needed), under a temporary
name and then renamed, so that a figure which exists is whole."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from utils import atomic_files  # noqa: E402

__all__ = ["plt", "save_png"]


def save_png(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_files.atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
