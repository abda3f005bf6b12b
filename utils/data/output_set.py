"""An extraction's files as one set: staged in a folder of their own, then swapped into the output
folder so that a reader (utils/data/frames_data.open_frames, which checks the manifest) sees the
old complete set or the new one, never a mix.

The swap only renames, each step on disk before the next: extraction.json becomes a "replacing"
marker, the files move in (frames.npy last), and the complete manifest (sizes, clip count and shape)
goes in at the end.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from utils.data.frames_data import CLASSES_FILE, FRAMES_FILE, LABELS_FILE, MANIFEST_COMPLETE, MANIFEST_FILE, PATHS_FILE

TIMES_FILE = "Format_Time.csv"
SUMMARY_FILE = "Format_Time_Summary.txt"
STAGING_PREFIX = ".staging-"

if TYPE_CHECKING:
    from utils.data.frame_extraction import ExtractionReport


def remove_stale_staging(output_path: Path) -> None:
    """Staging folders of killed runs (we hold the lock, so no live run owns one)."""
    for path in output_path.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SET_FILES = (LABELS_FILE, PATHS_FILE, CLASSES_FILE, TIMES_FILE, SUMMARY_FILE, FRAMES_FILE)  # moved in this order


REPLACING = MANIFEST_FILE + ".replacing"


def stage_manifests(staging: Path, clips: int, clip_shape: tuple[int, ...]) -> None:
    """Write both manifests into ``staging`` before the swap, so that the swap itself only renames."""
    for name in SET_FILES[:-1]:  # frames.npy was flushed when it was committed
        _fsync(staging / name)
    _write_json(staging / REPLACING, {"state": "replacing", "written_by": "video_to_frames.py"})
    _write_json(staging / MANIFEST_FILE, {
        "state": MANIFEST_COMPLETE,
        "files": {name: (staging / name).stat().st_size for name in SET_FILES},
        "clips": clips,
        "clip_shape": list(clip_shape),
        "written_by": "video_to_frames.py",
    })


def _write_json(path: Path, record: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def swap_in(staging: Path, output: Path) -> None:
    """Move the staged set into ``output``: the "replacing" marker first, the files, then the complete
    manifest, each step on disk before the next."""
    os.replace(staging / REPLACING, output / MANIFEST_FILE)
    _fsync(output)
    for name in SET_FILES:
        os.replace(staging / name, output / name)
    _fsync(output)
    os.replace(staging / MANIFEST_FILE, output / MANIFEST_FILE)
    _fsync(output)


def write_companions(report: ExtractionReport, folder: Path) -> None:
    new_label = {name: i for i, name in enumerate(report.kept_classes)}
    kept_videos = [report.videos[r.slot] for r in report.kept]
    labels = np.array([new_label[v.class_name] for v in kept_videos], dtype=np.int64)
    paths = np.array([v.relative_path for v in kept_videos], dtype=np.str_)
    np.save(folder / LABELS_FILE, labels, allow_pickle=False)
    np.save(folder / PATHS_FILE, paths, allow_pickle=False)
    (folder / CLASSES_FILE).write_text("".join(f"{name}\n" for name in report.kept_classes), encoding="utf-8")
    (folder / TIMES_FILE).write_text(format_time_csv(report), encoding="utf-8")
    (folder / SUMMARY_FILE).write_text(format_summary(report), encoding="utf-8")


def format_time_csv(report: ExtractionReport) -> str:
    """One row per class folder. seconds = decode time summed over that class's videos."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "videos_found", "videos_kept", "videos_skipped", "seconds", "peak_memory_mib"])
    for label, name in enumerate(report.classes):
        rows = [r for r in report.results if report.videos[r.slot].label == label]
        kept = sum(r.error is None for r in rows)
        writer.writerow([
            name,
            len(rows),
            kept,
            len(rows) - kept,
            f"{sum(r.seconds for r in rows):.3f}",
            f"{max((r.worker_peak_mib for r in rows), default=0.0):.1f}",
        ])
    return buffer.getvalue()


def format_summary(report: ExtractionReport) -> str:
    s = report.settings
    kept, skipped = report.kept, report.skipped
    miscounted = [r for r in kept if r.reported_frames != r.decoded_frames]
    second_pass = [r for r in kept if r.decode_passes > 1]
    shape = (len(kept), *s.clip_shape)
    size_gib = np.prod(shape) / 2**30
    empty_classes = [c for c in report.classes if c not in report.kept_classes]
    lines = [
        "Frame extraction summary",
        f"input: {report.input_path.resolve()}",
        f"output: {report.output_path.resolve()}",
        f"sequence length {s.sequence_length}, frame {s.frame_height}x{s.frame_width} (HxW), "
        f"short videos: {s.short_videos}, workers: {report.workers}",
        f"classes: {len(report.classes)} found, {len(report.kept_classes)} with clips",
        f"videos: {len(report.results)} found, {len(kept)} kept, {len(skipped)} skipped, "
        f"{sum(r.padded for r in kept)} padded",
        f"container frame count wrong: {len(miscounted)} kept videos "
        f"({len(second_pass)} needed a second decode pass)",
        f"frames.npy: shape {shape}, {size_gib:.3f} GiB",
        f"time: {report.wall_seconds:.2f} s wall, {sum(r.seconds for r in report.results):.2f} s decoding "
        "(summed over workers)",
        f"peak memory: main process {report.main_peak_mib:.1f} MiB, largest worker "
        f"{max(r.worker_peak_mib for r in report.results):.1f} MiB",
    ]
    if empty_classes:
        lines.append("classes left out of classes.txt (no usable video): " + ", ".join(empty_classes))
    lines.append(f"skipped videos: {len(skipped)}")
    lines += [f"  {report.videos[r.slot].relative_path}: {r.error}" for r in skipped]
    if report.unusable_names:
        lines.append(f"files skipped because their name is not valid UTF-8: {len(report.unusable_names)}")
        lines += [f"  {name}" for name in report.unusable_names]
    return "\n".join(lines) + "\n"
