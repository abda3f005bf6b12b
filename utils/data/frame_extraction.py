"""Turn a class-folder video collection into frames.npy and its companion files.

Outputs (all in the output folder, each written under a temporary name and renamed when whole;
frames.npy is renamed last):

    frames.npy               uint8 N×T×H×W×3 RGB clips, one per kept video, ordered by class then path
    labels.npy               int64 N, index into classes.txt
    video_file_paths.npy     str N, each video's path relative to the input folder
    classes.txt              one class name per line, line i = label i
    Format_Time.csv          per class folder: videos found / kept / skipped, seconds, peak memory
    Format_Time_Summary.txt  totals, peak memory, and every skipped file with its reason

Videos are decoded in worker processes; each writes its clip straight into the output file at the
slot of its position in the sorted video list, so memory stays flat and the result does not depend
on the number of workers or on which finishes first.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from utils import atomic_files
from utils.data.dataset_layout import VideoEntry, discover_videos
from utils.data.frame_sampler import VideoError, read_clip
from utils.data.frames_data import CLASSES_FILE, FRAMES_FILE, LABELS_FILE, PATHS_FILE
from utils.data.npy_stream import ClipArrayWriter, write_clip
from utils.errors import InputError
from utils.machine import available_cores, peak_rss_mib

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

    @property
    def kept(self) -> list[VideoResult]:
        return [r for r in self.results if r.error is None]

    @property
    def skipped(self) -> list[VideoResult]:
        return [r for r in self.results if r.error is not None]


# --- worker side -------------------------------------------------------------------------------

_worker_fd: int | None = None


def _init_worker(frames_path: str, ignore_sigint: bool) -> None:
    global _worker_fd
    if ignore_sigint:  # in a pool: the parent handles Ctrl-C and stops the pool
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent while it spawned us
        cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads only contend
    _worker_fd = os.open(frames_path, os.O_WRONLY)


def _close_worker() -> None:
    global _worker_fd
    if _worker_fd is not None:
        os.close(_worker_fd)
        _worker_fd = None


def _extract_one(task: tuple[int, str, ClipSettings]) -> VideoResult:
    slot, path, settings = task
    start = time.perf_counter()
    try:
        clip, info = read_clip(path, *settings.clip_shape[:3], short_videos=settings.short_videos)
        write_clip(_worker_fd, slot, clip)
    except VideoError as error:
        return VideoResult(slot, str(error), time.perf_counter() - start, peak_rss_mib())
    except Exception as error:  # noqa: BLE001  a decoder failure must skip the file, not stop the run
        message = " ".join(str(error).split()) or type(error).__name__
        return VideoResult(slot, f"decoder error: {message}", time.perf_counter() - start, peak_rss_mib())
    return VideoResult(
        slot,
        None,
        time.perf_counter() - start,
        peak_rss_mib(),
        info.decoded_frames,
        info.reported_frames,
        info.decode_passes,
        info.padded,
    )


# --- main side ---------------------------------------------------------------------------------


def _check_free_space(output_path: Path, needed_bytes: int) -> None:
    free = shutil.disk_usage(output_path).free
    if needed_bytes > free:
        raise InputError(
            f"{output_path}: frames.npy needs up to {needed_bytes / 2**30:.2f} GiB "
            f"but only {free / 2**30:.2f} GiB is free"
        )


def _start_pool(workers: int, frames_path: Path) -> multiprocessing.pool.Pool:
    """A pool whose workers leave Ctrl-C to this process, which then stops the pool.

    spawn, not fork: this process may hold OpenCV/FFmpeg threads, which fork does not copy safely.
    Workers start with SIGINT blocked (this thread's signal mask, which exec keeps) until their
    initializer ignores it, so a Ctrl-C while they boot does not stop them half-way. Not SIG_IGN
    here: a Ctrl-C meanwhile would be lost, taken and dropped by another thread (OpenBLAS's).
    multiprocessing's resource tracker is started first: starting it unblocks SIGINT in the
    calling thread, and workers spawned after that would take the Ctrl-C mid-import.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return multiprocessing.get_context("spawn").Pool(
            workers, initializer=_init_worker, initargs=(str(frames_path), True)
        )
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _decode_all(
    videos: list[VideoEntry],
    input_path: Path,
    settings: ClipSettings,
    frames_path: Path,
    workers: int,
    progress: bool,
) -> list[VideoResult]:
    tasks = [(slot, str(input_path / v.relative_path), settings) for slot, v in enumerate(videos)]
    results: list[VideoResult | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), unit="video", disable=not progress, dynamic_ncols=True)
    pool = None
    try:
        if workers == 1:
            _init_worker(str(frames_path), ignore_sigint=False)
            finished = map(_extract_one, tasks)
        else:
            with atomic_files.interrupts_deferred():  # a Ctrl-C meanwhile: once ``pool`` can be stopped
                pool = _start_pool(workers, frames_path)
            finished = pool.imap_unordered(_extract_one, tasks, chunksize=1)
        for result in finished:
            results[result.slot] = result
            bar.set_description(videos[result.slot].class_name, refresh=False)
            bar.update()
        if pool is not None:
            pool.close()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        else:
            _close_worker()
    return results  # type: ignore[return-value]


def extract_frames(
    input_path: Path,
    output_path: Path,
    settings: ClipSettings,
    workers: int | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Extract one clip per video of ``input_path`` into ``output_path``; see the module docstring.

    Raises InputError when the input folder is missing or holds no class or no video, when the
    output folder cannot be written or lacks space, and when no video gives a clip.
    """
    start = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_dir():
        raise InputError(f"{input_path}: input folder does not exist or is not a folder")
    classes, videos = discover_videos(input_path)
    if not classes:
        raise InputError(f"{input_path}: no class folders (expected one sub-folder per class)")
    if not videos:
        raise InputError(f"{input_path}: no video files in any class folder")
    atomic_files.require_writable_folder(output_path, "--output_path")
    clip_bytes = int(np.prod(settings.clip_shape))
    _check_free_space(output_path, len(videos) * clip_bytes)

    workers = max(1, min(workers or available_cores(), len(videos)))
    writer = None
    try:
        # A Ctrl-C while the file is being made is held until the writer exists to remove it.
        with atomic_files.interrupts_deferred():
            writer = ClipArrayWriter(output_path / FRAMES_FILE, len(videos), settings.clip_shape)
        results = _decode_all(videos, input_path, settings, writer.temporary_path, workers, progress)
        report = ExtractionReport(input_path, output_path, settings, workers, classes, videos, results)
        if not report.kept:
            first = report.skipped[0]
            raise InputError(
                f"{input_path}: none of the {len(videos)} videos gave a clip "
                f"(e.g. {videos[first.slot].relative_path}: {first.error})"
            )
        kept_labels = {videos[r.slot].label for r in report.kept}
        report.kept_classes = [name for label, name in enumerate(classes) if label in kept_labels]
        report.wall_seconds = time.perf_counter() - start
        report.main_peak_mib = peak_rss_mib()
        _write_companions(report)
        writer.finish([r.slot for r in report.kept])
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return report


def _write_companions(report: ExtractionReport) -> None:
    out = report.output_path
    new_label = {name: i for i, name in enumerate(report.kept_classes)}
    kept_videos = [report.videos[r.slot] for r in report.kept]
    labels = np.array([new_label[v.class_name] for v in kept_videos], dtype=np.int64)
    paths = np.array([v.relative_path for v in kept_videos], dtype=np.str_)
    atomic_files.save_npy(out / LABELS_FILE, labels)
    atomic_files.save_npy(out / PATHS_FILE, paths)
    atomic_files.write_text(out / CLASSES_FILE, "".join(f"{name}\n" for name in report.kept_classes))
    atomic_files.write_text(out / TIMES_FILE, format_time_csv(report))
    atomic_files.write_text(out / SUMMARY_FILE, format_summary(report))


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
    return "\n".join(lines) + "\n"
