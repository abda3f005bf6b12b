"""A cheap content fingerprint of frames.npy, recorded in each model's sidecar and compared before the
model is evaluated or distilled from: the same clip indices in other frames (another extraction, another
dataset of the same shape) would silently score the model on clips it was not trained with.

Hashing the whole file would take minutes for UCF101 (32 GB at 16×224×224); the digest hashes the
array's shape and 64 clips spread evenly over it, read with plain positioned reads, a few MB at most.
Copying or moving the folder keeps the digest; re-extracting other videos, or the same ones at
another size or in another order, changes it.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np

SAMPLED_CLIPS = 64


def frames_digest(frames: np.ndarray) -> str:
    """sha256 of the shape and of up to SAMPLED_CLIPS evenly spaced clips of a frames.npy memory map."""
    shape = tuple(int(d) for d in frames.shape)
    clip_bytes = math.prod(shape[1:])
    digest = hashlib.sha256(repr(shape).encode())
    fd = os.open(frames.filename, os.O_RDONLY)
    try:
        for index in np.unique(np.linspace(0, shape[0] - 1, min(SAMPLED_CLIPS, shape[0])).astype(np.int64)):
            digest.update(os.pread(fd, clip_bytes, int(frames.offset) + int(index) * clip_bytes))
    finally:
        os.close(fd)
    return digest.hexdigest()
