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
import ctypes
import math
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import cv2
from tqdm import tqdm

from utils import atomic_files
from utils.data.dataset_layout import VideoEntry, discover_videos
from utils.data.extraction_report import ClipSettings, ExtractionReport, VideoResult, write_companions
from utils.data.frame_sampler import VideoError, read_clip
from utils.data.frames_data import (
    FRAMES_FILE,
    MANIFEST_FILE,
    npy_header,
)
from utils.data.npy_stream import ClipArrayWriter, write_clip
from utils.data.output_set import SET_FILES, STAGING_PREFIX, remove_stale_staging, stage_manifests, swap_in
from utils.errors import InputError
from utils.machine import available_cores, peak_rss_mib

CRASHED = "its decoding process crashed (e.g. a decoder segmentation fault)"


# --- worker side -------------------------------------------------------------------------------

_worker_fd: int | None = None
_started = None  # shared bytes, one per video: 1 once a worker began it (to find the one that killed a worker)


def _die_with_parent(parent: int) -> None:
    """A worker ends when the extraction that started it ends, however it ends (a SIGKILL too): the kernel
    signals it when its parent dies (Linux), and a parent already gone is noticed here. Once the workers
    are gone, multiprocessing's resource tracker reads the end of its pipe and exits as well."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(frames_path: str, ignore_sigint: bool, started=None, parent: int | None = None) -> None:
    global _worker_fd, _started
    if parent is not None:
        _die_with_parent(parent)
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
                               initargs=(str(frames_path), True, started, os.getpid()))


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


def _retry(unfinished: list[int], begun: list[int], alone: bool, pending: list[int]) -> tuple[list[int], list[int]]:
    """(suspects, pending) after a pool broke without naming its video: the videos it had begun are suspects,
    decoded again one at a time; when none had begun, the same videos are tried again as they were."""
    if begun:
        return begun, [slot for slot in unfinished if slot not in begun]
    return (unfinished, pending) if alone else ([], unfinished)


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
                on_result(VideoResult(culprit, CRASHED, 0.0, 0.0))
                rest = [slot for slot in unfinished if slot != culprit]
                suspects, pending = (rest, pending) if alone else (suspects, rest)
                continue
            deaths_outside_videos += 0 if begun else 1
            if deaths_outside_videos >= 2:
                raise InputError(f"{frames_path.parent}: decoding processes keep dying before decoding any "
                                 "video (out of memory? killed?)")
            suspects, pending = _retry(unfinished, begun, alone, pending)
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def find_videos(input_path: Path, warn: Callable[[str], None]) -> tuple[list[str], list[VideoEntry], list[str]]:
    """(classes, videos, names skipped for not being UTF-8) of ``input_path``; InputError when there is nothing."""
    if not input_path.is_dir():
        raise InputError(f"{input_path}: input folder does not exist or is not a folder")
    from utils.data.synthetic_dataset import VIDEO_SET

    VIDEO_SET.verified_manifest(input_path)  # a synthetic video set: every video it lists is there, whole
    unusable: list[str] = []
    classes, videos = discover_videos(input_path, unusable)
    for name in unusable:
        warn(f"{input_path}: skipped {name}: its name is not valid UTF-8 (rename it to include it)")
    if not classes:
        raise InputError(f"{input_path}: no class folders (expected one sub-folder per class)")
    if not videos:
        raise InputError(f"{input_path}: no video files in any class folder")
    return classes, videos, unusable


def claim_output(output_path: Path) -> None:
    """The names the set takes in ``output_path`` must be free or an earlier extraction's (its manifest says so):
    a user's own labels.npy or classes.txt there is refused, never replaced."""
    from utils.ownership import Target, claim, json_object

    def ours(path: Path) -> bool:
        manifest = json_object(output_path / MANIFEST_FILE)
        if manifest is None and not (output_path / MANIFEST_FILE).exists():
            return earlier_extraction(output_path)
        return (manifest or {}).get("written_by") == "video_to_frames.py"

    claim([Target(output_path / name, "--output_path", ours=ours) for name in (*SET_FILES, MANIFEST_FILE)],
          overwrite=False, aside=None)


def earlier_extraction(folder: Path) -> bool:
    """A frames folder written before extractions had a manifest: its frames.npy holds uint8 clips N×T×H×W×3."""
    try:
        shape, _, dtype = npy_header(folder / FRAMES_FILE)
    except InputError:
        return False
    return dtype == "uint8" and len(shape) == 5 and shape[-1] == 3


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
    output folder cannot be written, holds files of the user's at the set's names, lacks space, fills
    up or is being written by another run, and when no video gives a clip. ``warn`` receives one line
    per file skipped for its name or for crashing its decoder (default: printed to stderr).
    """
    start = time.perf_counter()
    warn = warn or (lambda line: print(f"warning: {line}", file=sys.stderr))
    input_path, output_path = Path(input_path), Path(output_path)
    classes, videos, unusable = find_videos(input_path, warn)
    atomic_files.require_writable_folder(output_path, "--output_path")
    with atomic_files.output_lock(output_path, "--output_path"):
        remove_stale_staging(output_path)
        claim_output(output_path)
        atomic_files.check_free_space(output_path, len(videos) * math.prod(settings.clip_shape),
                                      str(output_path / FRAMES_FILE))
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
            _stage_set(report, writer, staging, start)
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


def _stage_set(report: ExtractionReport, writer: ClipArrayWriter, staging: Path, start: float) -> None:
    """Complete the staged set: the kept clips, the companions and both manifests; InputError if no video
    gave a clip."""
    if not report.kept:
        first = report.skipped[0]
        raise InputError(f"{report.input_path}: none of the {len(report.videos)} videos gave a clip "
                         f"(e.g. {report.videos[first.slot].relative_path}: {first.error})")
    kept_labels = {report.videos[r.slot].label for r in report.kept}
    report.kept_classes = [name for label, name in enumerate(report.classes) if label in kept_labels]
    report.wall_seconds = time.perf_counter() - start
    report.main_peak_mib = peak_rss_mib()
    write_companions(report, staging)
    writer.finish([r.slot for r in report.kept])
    stage_manifests(staging, len(report.kept), report.settings.clip_shape)
