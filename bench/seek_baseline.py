"""The original project's way of taking frames, kept only as the benchmark's reference.

Per video, in one process: trust the container's frame count, seek with CAP_PROP_POS_FRAMES to
each of the T sampled indices, resize, scale to [0, 1], and append to a Python list that ends up
holding the whole dataset (as float64, as ``frame / 255`` gives). Run as a module it prints the
peak memory of doing that over a folder, for the memory benchmark:

    python -m bench.seek_baseline VIDEO_DIR T H W
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from utils.data.dataset_layout import discover_videos
from utils.machine import peak_rss_mib


def seek_clip(path: str, sequence_length: int, height: int, width: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    skip = max(count // sequence_length, 1)
    frames = []
    for k in range(sequence_length):
        capture.set(cv2.CAP_PROP_POS_FRAMES, k * skip)
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (width, height)) / 255)
    capture.release()
    return frames


def seek_extract(paths: list[str], sequence_length: int, height: int, width: int) -> list[list[np.ndarray]]:
    return [seek_clip(p, sequence_length, height, width) for p in paths]


if __name__ == "__main__":
    folder, t, h, w = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    _, videos = discover_videos(folder)
    dataset = seek_extract([str(folder / v.relative_path) for v in videos], t, h, w)
    print(f"{len(dataset)} {peak_rss_mib():.1f}")
