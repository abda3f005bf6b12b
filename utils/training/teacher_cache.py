"""Teacher logits computed once per (teacher, frames, split) and reused by every epoch and temperature.

In offline distillation without augmentation the frozen teacher (``training=False``: no dropout)
gives the same logits for a clip every time, so running it on every batch of every epoch of every
temperature only repeats work; on CPU the teacher's forward pass costs more than the student's
training step. One inference pass over the training and validation clips replaces all of it.

The cache is ``TEACHER_STEM.logits-KEY.npz`` beside the teacher, holding ``indices`` (rows of
frames.npy), ``logits`` (float32, one row each) and ``key`` (the JSON it was made for). KEY
hashes the teacher file's bytes, the frames file's fingerprint (path, shape, size, mtime) and
the clip indices; a cache is used only when its stored key equals the current one, so a cache of
another teacher, other frames or another split is never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from utils import atomic_files
from utils.data.frames_data import FramesData


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_key(teacher_sha256: str, data: FramesData, indices: np.ndarray) -> dict:
    """What a cache must have been made for; ``teacher_sha256`` is file_sha256 of the teacher file."""
    return {
        "teacher_sha256": teacher_sha256,
        "frames": data.fingerprint(),
        "indices_sha256": hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest(),
    }


def cache_path(teacher_path: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(teacher_path).with_name(f"{Path(teacher_path).stem}.logits-{digest}.npz")


def load_cache(path: Path, key: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(indices, logits) cached in ``path`` if it was made for exactly ``key``, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if json.loads(str(stored["key"])) != key:
                return None
            indices, logits = stored["indices"], stored["logits"]
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile):  # damaged: computed again, replaced
        print(f"{path}: damaged teacher-logit cache; computing it again", flush=True)
        return None
    if indices.ndim != 1 or logits.ndim != 2 or len(indices) != len(logits) or not np.isfinite(logits).all():
        print(f"{path}: teacher-logit cache of unexpected shape or values; computing it again", flush=True)
        return None
    return indices, logits


def teacher_logits_table(teacher, teacher_path: Path, teacher_sha256: str, data: FramesData,
                         indices: np.ndarray, batch_size: int, write: bool = True) -> tuple[np.ndarray, Path, bool]:
    """(logits for every row of frames.npy — NaN outside ``indices`` —, cache file, reused?).

    ``write`` False (workers other than a multi-worker run's chief) computes without writing."""
    from utils.training.input_pipeline import clip_dataset, logits_over

    indices = np.sort(np.asarray(indices, dtype=np.int64))
    key = cache_key(teacher_sha256, data, indices)
    path = cache_path(teacher_path, key)
    cached = load_cache(path, key)
    reused = cached is not None
    if reused:
        rows, logits = cached
    else:
        print(f"computing teacher logits for {len(indices)} clips once (cache: {path.name})", flush=True)
        dataset = clip_dataset(data, indices, batch_size, shuffle=False)
        logits = logits_over(teacher, dataset)
        rows = indices
        if write:  # a temporary name of this process's own: two distillations from one teacher may run at once
            with atomic_files.atomic_path(path, path.with_name(f"{path.name}.{os.getpid()}.partial")) as temporary, \
                    open(temporary, "wb") as handle:
                np.savez(handle, indices=rows, logits=logits, key=np.array(json.dumps(key, sort_keys=True)))
    table = np.full((len(data.labels), logits.shape[1]), np.nan, dtype=np.float32)
    table[rows] = logits
    return table, path, reused
