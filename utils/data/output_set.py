"""An extraction's files as one set: staged in a folder of their own, then swapped into the output
folder so that a reader (utils/data/frames_data.open_frames, which checks the manifest) sees the
old complete set or the new one, never a mix.

The swap only renames, each step on disk before the next: extraction.json becomes a "replacing"
marker, the files move in (frames.npy last), and the complete manifest (sizes, clip count and shape)
goes in at the end.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from utils.atomic_files import fsync_path, write_json_synced
from utils.data.frames_data import CLASSES_FILE, FRAMES_FILE, LABELS_FILE, MANIFEST_COMPLETE, MANIFEST_FILE, PATHS_FILE

from utils.data.extraction_report import SUMMARY_FILE, TIMES_FILE

STAGING_PREFIX = ".staging-"


def remove_stale_staging(output_path: Path) -> None:
    """Staging folders of killed runs (we hold the lock, so no live run owns one)."""
    for path in output_path.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


SET_FILES = (LABELS_FILE, PATHS_FILE, CLASSES_FILE, TIMES_FILE, SUMMARY_FILE, FRAMES_FILE)  # moved in this order


REPLACING = MANIFEST_FILE + ".replacing"


def stage_manifests(staging: Path, clips: int, clip_shape: tuple[int, ...]) -> None:
    """Write both manifests into ``staging`` before the swap, so that the swap itself only renames."""
    for name in SET_FILES[:-1]:  # frames.npy was flushed when it was committed
        fsync_path(staging / name)
    write_json_synced(staging / REPLACING, {"state": "replacing", "written_by": "video_to_frames.py"})
    write_json_synced(staging / MANIFEST_FILE, {
        "state": MANIFEST_COMPLETE,
        "files": {name: (staging / name).stat().st_size for name in SET_FILES},
        "clips": clips,
        "clip_shape": list(clip_shape),
        "written_by": "video_to_frames.py",
    })


def swap_in(staging: Path, output: Path) -> None:
    """Move the staged set into ``output``: the "replacing" marker first, the files, then the complete
    manifest, each step on disk before the next."""
    os.replace(staging / REPLACING, output / MANIFEST_FILE)
    fsync_path(output)
    for name in SET_FILES:
        os.replace(staging / name, output / name)
    fsync_path(output)
    os.replace(staging / MANIFEST_FILE, output / MANIFEST_FILE)
    fsync_path(output)
