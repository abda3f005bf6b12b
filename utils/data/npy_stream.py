"""A uint8 ``.npy`` array of clips written one clip at a time, never held in memory.

The file is a standard NPY 1.0 file: a fixed 128-byte header (magic, version, a Python-literal
dict with 'descr', 'fortran_order' and 'shape', space padded, newline terminated) followed by the
C-order bytes of the array, so ``np.load(path, mmap_mode="r")`` reads it. We reserve room for
``capacity`` clips (one per video found), let any process write clip ``i`` at a fixed offset with
``os.pwrite`` (plain writes, so the page cache, not our RSS, holds the data), then close the gaps
left by skipped videos, shrink the file and rewrite the header with the final clip count.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from utils.atomic_files import commit, partial_path

NPY_MAGIC = b"\x93NUMPY\x01\x00"
HEADER_BYTES = 128  # room for any 5-D shape; a multiple of 64 keeps the data aligned


def npy_header(shape: tuple[int, ...]) -> bytes:
    """The NPY 1.0 header of a C-order uint8 array of ``shape``, padded to HEADER_BYTES."""
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    room = HEADER_BYTES - len(NPY_MAGIC) - 2 - 1  # 2 bytes of length, 1 newline
    if len(text) > room:
        raise ValueError(f"shape {shape} does not fit a {HEADER_BYTES}-byte NPY header")
    text = text.ljust(room) + "\n"
    return NPY_MAGIC + struct.pack("<H", len(text)) + text.encode("latin1")


def clip_offset(index: int, clip_shape: tuple[int, ...]) -> int:
    return HEADER_BYTES + index * math.prod(clip_shape)


def write_clip(fd: int, index: int, clip: np.ndarray) -> None:
    """Write clip ``index`` into an open file descriptor of a file made by ClipArrayWriter."""
    data = np.ascontiguousarray(clip, dtype=np.uint8)
    view = memoryview(data).cast("B")
    offset = clip_offset(index, data.shape)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class ClipArrayWriter:
    """Builds ``final_path`` (N×T×H×W×3 uint8) under a temporary name; see the module docstring.

    Usage: create, let workers ``write_clip`` into ``temporary_path``, then ``finish(kept)`` with
    the slots to keep in order, or ``abort()``.
    """

    def __init__(self, final_path: Path, capacity: int, clip_shape: tuple[int, ...]):
        self.final_path = Path(final_path)
        self.temporary_path = partial_path(self.final_path)
        self.clip_shape = tuple(clip_shape)
        self.clip_bytes = math.prod(self.clip_shape)
        with open(self.temporary_path, "wb") as handle:
            handle.write(npy_header((capacity, *self.clip_shape)))
            handle.truncate(HEADER_BYTES + capacity * self.clip_bytes)  # sparse until written

    def finish(self, kept_slots: list[int]) -> None:
        """Move kept clips to the front in order, fix the header, shrink, and rename."""
        with open(self.temporary_path, "rb+") as handle:
            fd = handle.fileno()
            for position, slot in enumerate(kept_slots):
                if slot != position:
                    data = os.pread(fd, self.clip_bytes, clip_offset(slot, self.clip_shape))
                    os.pwrite(fd, data, clip_offset(position, self.clip_shape))
            handle.truncate(HEADER_BYTES + len(kept_slots) * self.clip_bytes)
            os.pwrite(fd, npy_header((len(kept_slots), *self.clip_shape)), 0)
        commit(self.temporary_path, self.final_path)

    def abort(self) -> None:
        self.temporary_path.unlink(missing_ok=True)
