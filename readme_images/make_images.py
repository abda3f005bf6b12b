#!/usr/bin/env python3
"""Redraw the README's pictures from a frames folder: python readme_images/make_images.py FRAMES_DIR

synthetic_actions.png: for each class, every other frame of its first clip, one row per class.
"""

import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent


def contact_sheet(frames_dir: Path) -> np.ndarray:
    frames = np.load(frames_dir / "frames.npy", mmap_mode="r")
    labels = np.load(frames_dir / "labels.npy")
    classes = (frames_dir / "classes.txt").read_text().splitlines()
    rows = []
    for label, name in enumerate(classes):
        clip = np.asarray(frames[np.flatnonzero(labels == label)[0]])
        row = np.concatenate(list(clip[::2]), axis=1)
        caption = np.full((18, row.shape[1], 3), 255, dtype=np.uint8)
        cv2.putText(caption, name, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows += [caption, row]
    return np.concatenate(rows, axis=0)


if __name__ == "__main__":
    sheet = contact_sheet(Path(sys.argv[1]))
    cv2.imwrite(str(HERE / "synthetic_actions.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
