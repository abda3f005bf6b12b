"""Turn a class-folder video collection into frames.npy and its companion files.

Outputs (all in the output folder):

    frames.npy               uint8 N×T×H×W×3 RGB clips, one per kept video, ordered by class then path
    labels.npy               int64 N, index into classes.txt
    video_file_paths.npy     str N, each video's path relative to the input folder
    classes.txt              one class name per line, line i = label i
    Format_Time.csv          per class folder: videos found / kept / skipped, seconds, peak memory
    Format_Time_Summary.txt  totals, peak memory, and every skipped file with its reason
    extraction.json          the manifest: file sizes, clip count and shape (see below)

Videos are decoded in worker processes; each writes its clip straight into the output file at the
slot of its position in the sorted video list, so memory stays flat and the result does not depend
on the number of workers or on which finishes first. A worker that dies (a decoder crash) costs
only the video it was decoding: the others are decoded again, the suspects one at a time, and the
one that kills its process alone is reported as skipped.

The set is replaced as a whole (utils/data/output_set.py). The run holds an exclusive lock on the
output folder (``OUTPUT.lock`` beside it) and writes everything into ``OUTPUT/.staging-PID/``. Then, with Ctrl-C held: extraction.json is
replaced by a "replacing" marker, the files are renamed in (frames.npy last), and extraction.json
is rewritten as "complete". open_frames refuses a folder whose manifest is not complete or does not
match its files, so a reader sees the old set or the new one, never a mix. A failed or interrupted
run removes its staging folder (a killed one leaves it for the next run to remove).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import io
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from utils import atomic_files
from utils.data.dataset_layout import VideoEntry, discover_videos
from utils.data.frame_sampler import VideoError, read_clip
from utils.data.frames_data import (
    CLASSES_FILE,
    FRAMES_FILE,
    LABELS_FILE,
    MANIFEST_COMPLETE,
    MANIFEST_FILE,
    PATHS_FILE,
)
from utils.data.npy_stream import ClipArrayWriter, write_clip
from utils.data.output_set import (
    STAGING_PREFIX,
    SUMMARY_FILE,
    TIMES_FILE,
    remove_stale_staging,
    write_companions,
    stage_manifests,
    swap_in,
)
from utils.errors import InputError
from utils.machine import available_cores, peak_rss_mib

CRASHED = "its decoding process crashed (e.g. a decoder segmentation fault)"


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


# --- worker side -------------------------------------------------------------------------------

_worker_fd: int | None = None
_started = None  # shared bytes, one per video: 1 once a worker began it (to find the one that killed a worker)


def _init_worker(frames_path: str, ignore_sigint: bool, started=None) -> None:
    global _worker_fd, _started
    if ignore_sigint:  # in a pool: the parent handles Ctrl-C and stops the pool
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent while it spawned us
        cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads only contend
    _worker_fd = os.open(frames_path, os.O_WRONLY)
    _started = started


def _extract_one(task: tuple[int, str, ClipSettings]) -> VideoResult:
    """Decode and write one video; ``_started[slot]`` is 1 while it runs, 2 once it returned."""
    slot = task[0]
    if _started is not None:
        _started[slot] = 1
    result = _decode_and_write(*task)
    if _started is not None:
        _started[slot] = 2
    return result


def _decode_and_write(slot: int, path: str, settings: ClipSettings) -> VideoResult:
    start = time.perf_counter()
    try:
        clip, info = read_clip(path, *settings.clip_shape[:3], short_videos=settings.short_videos)
    except VideoError as error:
        return VideoResult(slot, str(error), time.perf_counter() - start, peak_rss_mib())
    except Exception as error:  # noqa: BLE001  a decoder failure must skip the file, not stop the run
        message = " ".join(str(error).split()) or type(error).__name__
        return VideoResult(slot, f"decoder error: {message}", time.perf_counter() - start, peak_rss_mib())
    try:
        write_clip(_worker_fd, slot, clip)
    except OSError as error:  # the output's fault (disk full), not the video's
        return VideoResult(slot, "not written", time.perf_counter() - start, peak_rss_mib(), write_error=error)
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


def _start_pool(workers: int, frames_path: Path, started) -> ProcessPoolExecutor:
    """A pool whose workers leave Ctrl-C to this process, which then stops the pool.

    spawn, not fork: this process may hold OpenCV/FFmpeg threads, which fork does not copy safely.
    Workers start with SIGINT blocked (the signal mask of the thread that spawns them, which exec
    keeps) until their initializer ignores it, so a Ctrl-C while they boot does not stop them
    half-way. Not SIG_IGN here: a Ctrl-C meanwhile would be lost, taken and dropped by another
    thread (OpenBLAS's). The executor spawns its workers as tasks are submitted, so the caller
    submits under ``_sigint_blocked``. multiprocessing's resource tracker is started first:
    starting it unblocks SIGINT in the calling thread.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(str(frames_path), True, started))


@contextlib.contextmanager
def _sigint_blocked():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop at once: no waiting for the videos being decoded (after Ctrl-C, an error or a crash)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join()
    pool.shutdown(wait=True)


def _run_batch(slots, tasks, workers, frames_path, started, on_result) -> list[int]:
    """Decode ``slots`` in a pool of ``workers``; returns the slots left unfinished when a worker died."""
    pool = None
    try:
        with atomic_files.interrupts_deferred():  # a Ctrl-C meanwhile: once ``pool`` can be stopped
            pool = _start_pool(workers, frames_path, started)
            with _sigint_blocked():
                futures = {pool.submit(_extract_one, tasks[slot]): slot for slot in slots}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    continue
                on_result(result)
        unfinished = [futures[f] for f in futures if f.exception() is not None]
        _stop_pool(pool) if unfinished else pool.shutdown(wait=True)
        pool = None
        return sorted(unfinished)
    finally:
        if pool is not None:
            _stop_pool(pool)


def _decode_all(
    videos: list[VideoEntry],
    input_path: Path,
    settings: ClipSettings,
    frames_path: Path,
    workers: int,
    progress: bool,
    warn: Callable[[str], None],
) -> list[VideoResult]:
    """Decode every video in worker processes; a worker's death costs only the video that caused it.

    When a pool breaks, the videos it had begun and not finished are the suspects: they are decoded
    again one at a time, in a one-worker pool, where a death names its video exactly; the videos
    not begun go back to the full pool.
    """
    tasks = [(slot, str(input_path / v.relative_path), settings) for slot, v in enumerate(videos)]
    results: list[VideoResult | None] = [None] * len(tasks)
    started = multiprocessing.get_context("spawn").RawArray(ctypes.c_int8, len(tasks))
    bar = tqdm(total=len(tasks), unit="video", disable=not progress, dynamic_ncols=True)

    def on_result(result: VideoResult) -> None:
        if result.write_error is not None:
            raise result.write_error
        results[result.slot] = result
        bar.set_description(videos[result.slot].class_name, refresh=False)
        bar.update()

    pending, suspects = list(range(len(tasks))), []
    deaths_outside_videos = 0
    try:
        while pending or suspects:
            alone = bool(suspects)
            batch = suspects if alone else pending
            for slot in batch:
                started[slot] = 0
            unfinished = _run_batch(batch, tasks, 1 if alone else workers, frames_path, started, on_result)
            if not unfinished:
                suspects, pending = ([], pending) if alone else (suspects, [])
                continue
            begun = [slot for slot in unfinished if started[slot] == 1]
            if begun and (alone or workers == 1):  # one worker: the video it had begun killed it
                culprit = begun[0]
                warn(f"{videos[culprit].relative_path}: {CRASHED}; skipped")
                results[culprit] = VideoResult(culprit, CRASHED, 0.0, 0.0)
                bar.update()
                rest = [slot for slot in unfinished if slot != culprit]
                suspects, pending = (rest, pending) if alone else (suspects, rest)
            elif begun:
                suspects, pending = begun, [slot for slot in unfinished if slot not in begun]
            else:
                deaths_outside_videos += 1
                if deaths_outside_videos >= 2:
                    raise InputError(f"{frames_path.parent}: decoding processes keep dying before decoding any "
                                     "video (out of memory? killed?)")
                if alone:
                    suspects = unfinished
                else:
                    pending = unfinished
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def extract_frames(
    input_path: Path,
    output_path: Path,
    settings: ClipSettings,
    workers: int | None = None,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
) -> ExtractionReport:
    """Extract one clip per video of ``input_path`` into ``output_path``; see the module docstring.

    Raises InputError when the input folder is missing or holds no class or no video, when the
    output folder cannot be written, lacks space, fills up or is being written by another run, and
    when no video gives a clip. ``warn`` receives one line per file skipped for its name or for
    crashing its decoder (default: printed to stderr).
    """
    start = time.perf_counter()
    warn = warn or (lambda line: print(f"warning: {line}", file=sys.stderr))
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_dir():
        raise InputError(f"{input_path}: input folder does not exist or is not a folder")
    unusable: list[str] = []
    classes, videos = discover_videos(input_path, unusable)
    for name in unusable:
        warn(f"{input_path}: skipped {name}: its name is not valid UTF-8 (rename it to include it)")
    if not classes:
        raise InputError(f"{input_path}: no class folders (expected one sub-folder per class)")
    if not videos:
        raise InputError(f"{input_path}: no video files in any class folder")
    atomic_files.require_writable_folder(output_path, "--output_path")
    with atomic_files.output_lock(output_path, "--output_path"):
        remove_stale_staging(output_path)
        clip_bytes = int(np.prod(settings.clip_shape))
        atomic_files.check_free_space(output_path, len(videos) * clip_bytes, str(output_path / FRAMES_FILE))
        workers = max(1, min(workers or available_cores(), len(videos)))
        staging = output_path / f"{STAGING_PREFIX}{os.getpid()}"
        swapping = False
        try:
            # A Ctrl-C while the file is being made is held until the writer exists to remove it.
            with atomic_files.interrupts_deferred():
                staging.mkdir()
                writer = ClipArrayWriter(staging / FRAMES_FILE, len(videos), settings.clip_shape)
            results = _decode_all(videos, input_path, settings, writer.temporary_path, workers, progress, warn)
            report = ExtractionReport(input_path, output_path, settings, workers, classes, videos, results,
                                      unusable_names=unusable)
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
            write_companions(report, staging)
            writer.finish([r.slot for r in report.kept])
            stage_manifests(staging, len(report.kept), settings.clip_shape)
            # Once begun, the swap is finished: a Ctrl-C meanwhile is dropped, the run having ended.
            with contextlib.suppress(KeyboardInterrupt), atomic_files.interrupts_deferred():
                swapping = True
                swap_in(staging, output_path)
        except OSError as error:  # the output's file system failed us: one line, saying what is left
            where = error.filename or staging
            outcome = ("its files are now a mix, which readers refuse: fix that and run again" if swapping else
                       "the partial extraction was removed and the folder's earlier files are unchanged")
            if atomic_files.disk_full_error(error):
                raise InputError(f"{output_path}: the disk is full (no space left writing {where}); {outcome}") from None
            raise InputError(f"{output_path}: cannot write {where} ({error.strerror or error}); {outcome}") from None
        finally:
            with atomic_files.interrupts_deferred():
                shutil.rmtree(staging, ignore_errors=True)
    return report
