"""Open and check an extracted dataset (the outputs of video_to_frames.py) without loading it.

A frames folder holds frames.npy (uint8 N×T×H×W×3), labels.npy (int N), video_file_paths.npy
(str N) and classes.txt. Every check here raises InputError naming the file and the problem, so
that a training or evaluation run fails in its first second, not after an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import InputError

# The files of a frames folder (video_to_frames.py writes them; everything else reads them here).
FRAMES_FILE = "frames.npy"
LABELS_FILE = "labels.npy"
PATHS_FILE = "video_file_paths.npy"
CLASSES_FILE = "classes.txt"


@dataclass(frozen=True)
class FramesData:
    frames_path: Path
    frames: np.ndarray  # read-only memory map, never read whole
    labels: np.ndarray  # int64 N
    paths: np.ndarray  # str N, relative video paths
    classes: list[str]

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        return tuple(int(d) for d in self.frames.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def fingerprint(self) -> dict:
        """Identifies the frames file cheaply (no hashing of gigabytes): path, shape, size, mtime."""
        stat = self.frames_path.stat()
        return {
            "frames": str(self.frames_path.resolve()),
            "shape": list(self.frames.shape),
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }


def _load_small(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy file ({error})") from None


def open_frames(data: Path, annotations: Path | None = None) -> FramesData:
    """Open ``data`` (a frames folder or its frames.npy) and check that the parts agree.

    ``annotations`` is the labels file; by default labels.npy beside frames.npy. The video paths
    and classes.txt are read from the same folder as the frames.
    """
    data = Path(data)
    frames_path = data / FRAMES_FILE if data.is_dir() else data
    if not frames_path.is_file():
        raise InputError(f"{frames_path}: frames file not found (run video_to_frames.py first)")
    folder = frames_path.parent
    try:
        frames = np.load(frames_path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{frames_path}: not a readable .npy file ({error})") from None
    if frames.dtype != np.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
        raise InputError(
            f"{frames_path}: expected uint8 clips N×T×H×W×3, found {frames.dtype} {tuple(frames.shape)}"
        )
    if frames.shape[0] == 0:
        raise InputError(f"{frames_path}: holds no clips")

    labels_path = Path(annotations) if annotations else folder / LABELS_FILE
    labels = _load_small(labels_path, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{labels_path}: expected a 1-D integer array, found {labels.dtype} {labels.shape}")
    if len(labels) != len(frames):
        raise InputError(f"{labels_path}: {len(labels)} labels for {len(frames)} clips in {frames_path}")

    paths = _load_small(folder / PATHS_FILE, "video paths")
    if len(paths) != len(frames):
        raise InputError(f"{folder / PATHS_FILE}: {len(paths)} paths for {len(frames)} clips")

    classes_path = folder / CLASSES_FILE
    if not classes_path.is_file():
        raise InputError(f"{classes_path}: class list not found")
    classes = [line for line in classes_path.read_text(encoding="utf-8").splitlines() if line]
    if len(classes) < 2:
        raise InputError(f"{classes_path}: need at least 2 classes, found {len(classes)}")
    if labels.min() < 0 or labels.max() >= len(classes):
        raise InputError(
            f"{labels_path}: labels range {labels.min()}..{labels.max()} but {classes_path} "
            f"lists {len(classes)} classes"
        )
    return FramesData(frames_path, frames, labels.astype(np.int64), paths.astype(str), classes)
