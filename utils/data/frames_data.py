"""Open and check an extracted dataset (the outputs of video_to_frames.py) without loading it.

A frames folder holds frames.npy (uint8 N×T×H×W×3), labels.npy (int N), video_file_paths.npy
(str N) and classes.txt. Every check here raises InputError naming the file and the problem, so
that a training or evaluation run fails in its first second, not after an hour.

video_to_frames.py also writes extraction.json, the manifest of the set: it is replaced by a
"replacing" marker before any file of a new extraction is moved in and rewritten as "complete"
(file sizes, clip count and shape) once all are in place. A folder with a manifest is opened only
when the manifest says complete and the files match it, so a run killed while swapping files in
is refused instead of giving new labels beside old frames. A folder without one (older versions,
hand-made test data) is checked as before.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.errors import InputError

from utils.frames_layout import (  # noqa: F401 (re-exported: the stages read these names here)
    CLASSES_FILE,
    FRAMES_FILE,
    LABELS_FILE,
    MANIFEST_COMPLETE,
    MANIFEST_FILE,
    PATHS_FILE,
)


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

    @functools.cached_property
    def digest(self) -> str:
        """utils/data/digest.py's content digest, read once per opened dataset (every model an evaluation
        checks, and the training run's record and identity, share it)."""
        from utils.data.digest import frames_digest

        return frames_digest(self.frames)

    def fingerprint(self) -> dict:
        """Identifies the frames file cheaply (no hashing of gigabytes): path, shape, size, mtime."""
        stat = self.frames_path.stat()
        return {
            "frames": str(self.frames_path.resolve()),
            "shape": list(self.frames.shape),
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }


def npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from a .npy header; InputError when it is not one."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                return np.lib.format.read_array_header_1_0(handle)
            return np.lib.format.read_array_header_2_0(handle)  # 2.0 and 3.0 differ only in the text's encoding
    except (ValueError, OSError, EOFError, SyntaxError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable .npy file ({error})") from None


def _load_small(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    _refuse_fortran(path, npy_header(path))
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy file ({error})") from None


def _refuse_fortran(path: Path, header: tuple) -> None:
    if header[1]:
        raise InputError(f"{path}: stored in Fortran (column-major) order, which this project never writes; "
                         "re-run video_to_frames.py")


def check_manifest(folder: Path) -> dict | None:
    """The manifest of ``folder`` when it has one and its files match it; None for a folder without
    one; InputError when the extraction there is incomplete or its files were mixed or changed."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        return None

    def incomplete(detail: str) -> InputError:
        return InputError(f"{folder}: the extraction there is incomplete ({detail}); re-run video_to_frames.py "
                          "to write it again")

    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise incomplete(f"{MANIFEST_FILE} unreadable: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("state") != MANIFEST_COMPLETE:
        raise incomplete(f"{MANIFEST_FILE} says a run was replacing its files when it stopped")
    files = manifest.get("files")
    if not isinstance(files, dict) or FRAMES_FILE not in files:
        raise incomplete(f"{MANIFEST_FILE} lists no files")
    for name, size in files.items():
        file = folder / str(name)
        if not file.is_file():
            raise incomplete(f"{name} is missing")
        if file.stat().st_size != size:
            raise incomplete(f"{name} has {file.stat().st_size} bytes, the extraction wrote {size}")
    return manifest


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
    manifest = check_manifest(folder) if frames_path.name == FRAMES_FILE else None
    _refuse_fortran(frames_path, npy_header(frames_path))
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
    if manifest is not None and [manifest.get("clips"), manifest.get("clip_shape")] != [
            frames.shape[0], list(frames.shape[1:])]:
        raise InputError(f"{folder}: the extraction there is incomplete ({FRAMES_FILE} has shape {frames.shape}, "
                         f"{MANIFEST_FILE} says {manifest.get('clips')} clips of {manifest.get('clip_shape')}); "
                         "re-run video_to_frames.py to write it again")

    labels_path = Path(annotations) if annotations else folder / LABELS_FILE
    labels = _load_small(labels_path, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{labels_path}: expected a 1-D integer array, found {labels.dtype} {labels.shape}")
    if len(labels) != len(frames):
        raise InputError(f"{labels_path}: {len(labels)} labels for {len(frames)} clips in {frames_path}")

    paths_path = folder / PATHS_FILE
    paths = _load_small(paths_path, "video paths")
    if paths.ndim != 1 or paths.dtype.kind != "U":
        raise InputError(f"{paths_path}: expected a 1-D array of strings, found {paths.dtype} {paths.shape}")
    if len(paths) != len(frames):
        raise InputError(f"{paths_path}: {len(paths)} paths for {len(frames)} clips")

    classes = read_classes(folder / CLASSES_FILE)
    classes_path = folder / CLASSES_FILE
    if len(classes) < 2:
        raise InputError(f"{classes_path}: need at least 2 classes, found {len(classes)}")
    if labels.min() < 0 or labels.max() >= len(classes):
        raise InputError(
            f"{labels_path}: labels range {labels.min()}..{labels.max()} but {classes_path} "
            f"lists {len(classes)} classes"
        )
    return FramesData(frames_path, frames, labels.astype(np.int64), paths.astype(str), classes)


def read_classes(classes_path: Path) -> list[str]:
    """classes.txt's names, line i = label i; blank lines only at the end; no name twice."""
    if not classes_path.is_file():
        raise InputError(f"{classes_path}: class list not found")
    try:
        lines = classes_path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise InputError(f"{classes_path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise InputError(f"{classes_path}: line {number} is blank, so the labels after it would name "
                             "the wrong classes")
        if line in seen:
            raise InputError(f"{classes_path}: class {line!r} is listed twice (lines {seen[line]} and {number})")
        seen[line] = number
    return lines
