"""Tiny extracted datasets (what video_to_frames.py writes), made directly as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_frames_folder(folder: Path, classes=("Bright", "Dark", "Red"), groups: int = 4, clips: int = 3,
                        shape=(16, 32, 32), seed: int = 0) -> Path:
    """An easily learnt dataset: each class has its own look (bright, dark, red, then repeating), plus noise.

    Paths follow UCF101's ``Class/v_Class_gGG_cCC.avi`` so every split protocol works.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t, h, w = shape
    frames, labels, paths = [], [], []
    for label, name in enumerate(classes):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                clip = rng.integers(0, 60, size=(t, h, w, 3)).astype(np.int16)
                if label % 3 == 0:
                    clip += 150
                elif label % 3 == 2:
                    clip[..., 0] += 190
                frames.append(np.clip(clip, 0, 255).astype(np.uint8))
                labels.append(label)
                paths.append(f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi")
    np.save(folder / "frames.npy", np.stack(frames))
    np.save(folder / "labels.npy", np.array(labels, dtype=np.int64))
    np.save(folder / "video_file_paths.npy", np.array(paths))
    (folder / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return folder
