"""What an extraction found and did, and the files that report it beside frames.npy: labels.npy,
video_file_paths.npy, classes.txt, Format_Time.csv (per class) and Format_Time_Summary.txt."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.data.dataset_layout import VideoEntry
from utils.data.frames_data import CLASSES_FILE, LABELS_FILE, PATHS_FILE

TIMES_FILE = "Format_Time.csv"
SUMMARY_FILE = "Format_Time_Summary.txt"


@dataclass(frozen=True)
class ClipSettings:
    sequence_length: int
    frame_height: int
    frame_width: int
    short_videos: str = "drop"

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        return (self.sequence_length, self.frame_height, self.frame_width, 3)


@dataclass
class VideoResult:
    slot: int
    error: str | None  # None when the clip was written
    seconds: float
    worker_peak_mib: float
    decoded_frames: int = 0
    reported_frames: int = 0
    decode_passes: int = 0
    padded: bool = False
    write_error: OSError | None = None  # the clip could not be written: stops the run


@dataclass
class ExtractionReport:
    input_path: Path
    output_path: Path
    settings: ClipSettings
    workers: int
    classes: list[str]
    videos: list[VideoEntry]
    results: list[VideoResult]
    kept_classes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    main_peak_mib: float = 0.0
    unusable_names: list[str] = field(default_factory=list)  # bytes reprs of files skipped for their name

    @property
    def kept(self) -> list[VideoResult]:
        return [r for r in self.results if r.error is None]

    @property
    def skipped(self) -> list[VideoResult]:
        return [r for r in self.results if r.error is not None]


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
