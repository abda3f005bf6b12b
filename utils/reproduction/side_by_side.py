"""A reproduction's steps two at a time, each in a process of its own, as CPU time allows.

The networks of the synthetic reproduction (width 0.25, 16×32×32 clips, batch 8) keep 2 CPU cores only
partly busy (a student's step is hardly faster on two threads than on one), so two steps side by side,
each with its share of the cores as TensorFlow's thread pools, get through more steps per second than one
after the other (docs/reproduction.md has the measurements; with every process keeping a pool per core,
the two would mostly wait for each other). The thread count is part of a model's arithmetic (how sums are
split), like the core count of the machine: the same command on the same machine trains the same models,
and ``--parallel_steps 1`` those of one step at a time. Each step's log records its pools.

Each step's time in timings.json is its share of the wall time: while two steps run, each is
charged half of it, so the times still add up to the wall time the reproduction took.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from utils import atomic_files
from utils.machine import POOL_VARIABLES, available_cores
from utils.reproduction.protocol import ROOT, Step, end_on_failure, is_done, script_in_new_process

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Job:
    """One step of one seed: the line that names it and the timings file its time goes to."""

    label: str
    step: Step
    timings: Path


@dataclass
class Running:
    job: Job
    process: subprocess.Popen
    reader: threading.Thread
    seconds: float = 0.0  # its share of the wall time so far


@dataclass
class Schedule:
    """Which jobs wait, run and are finished; a job waits for the job that trains its teacher."""

    pending: list[Job]
    running: list[Running] = field(default_factory=list)

    def ready(self) -> list[Job]:
        unfinished = {output for job in self.pending for output in job.step.outputs}
        unfinished |= {output for run in self.running for output in run.job.step.outputs}
        return [job for job in self.pending if job.step.teacher not in unfinished]


def default_side_by_side() -> int:
    """2 on a machine without an NVIDIA GPU; 1 with one, where each TensorFlow process would claim all of its
    memory."""
    return 1 if Path("/dev/nvidiactl").exists() else 2


def thread_share(at_once: int) -> dict[str, str]:
    """The environment of a step that runs beside ``at_once - 1`` others: TensorFlow's intra- and inter-op pools
    at this machine's cores divided among them (TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS; variables
    the user set win)."""
    share = str(max(1, available_cores() // at_once))
    return {**{variable: share for variable in POOL_VARIABLES.values()}, **os.environ}


def add_time(timings: Path, key: str, seconds: float) -> None:
    spent = json.loads(timings.read_text()) if timings.is_file() else {}
    spent[key] = spent.get(key, 0.0) + seconds
    timings.parent.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(timings, json.dumps(spent, indent=2) + "\n")


def take_jobs(jobs: list[Job], frames_digest: str, at_once: int = 1) -> None:
    """Run the jobs not yet done, ``at_once`` at a time (1: in order, in this process's way of running scripts,
    which tests replace), adding each one's share of the wall time to its timings file."""
    if at_once <= 1:
        for job in jobs:
            if not _skipped(job, frames_digest):
                start = time.perf_counter()
                try:
                    script_in_new_process(job.step.script, job.step.arguments)
                finally:
                    add_time(job.timings, job.step.title, time.perf_counter() - start)
        return
    schedule = Schedule(list(jobs))
    try:
        while schedule.pending or schedule.running:
            _start_ready(schedule, frames_digest, at_once)
            if schedule.running:
                _wait_a_moment(schedule)
    except KeyboardInterrupt:  # Ctrl-C reached the steps too (same process group): they stop cleanly, as alone
        _stop(schedule, interrupt=False)
        raise
    except BaseException:  # a refused output or a failed step: the other step keeps its backup and its time
        _stop(schedule, interrupt=True)
        raise


def _skipped(job: Job, frames_digest: str) -> bool:
    if is_done(job.step, frames_digest):
        print(f"{job.label}: done, skipping", flush=True)
        return True
    print(f"{job.label}: python {job.step.script} {' '.join(job.step.arguments)}", flush=True)
    return False


def _start_ready(schedule: Schedule, frames_digest: str, at_once: int) -> None:
    """Start jobs whose teacher is trained, while there is room; a job already done is skipped (which may make
    another ready)."""
    while len(schedule.running) < at_once and (ready := schedule.ready()):
        job = ready[0]
        schedule.pending.remove(job)
        if _skipped(job, frames_digest):
            continue
        process = start_step_process(job.step.script, job.step.arguments, thread_share(at_once))
        tag = job.label.split("]")[0] + "]" if job.label.startswith("[") else f"[{job.step.title}]"
        reader = threading.Thread(target=_copy_lines, args=(process.stdout, tag), daemon=True)
        reader.start()
        schedule.running.append(Running(job, process, reader))
    if not schedule.running and schedule.pending:
        raise RuntimeError(f"no step can start: {[job.label for job in schedule.pending]} wait for a teacher")


def start_step_process(script: str, arguments: list[str], env: dict[str, str]) -> subprocess.Popen:
    """The step's own Python, its output read back line by line."""
    return subprocess.Popen([sys.executable, str(ROOT / script), *arguments], stdout=subprocess.PIPE, text=True,
                            bufsize=1, env=env)


def _copy_lines(stream, tag: str) -> None:
    """The step's output, each line tagged with its step: two steps' epochs interleave."""
    for line in stream:
        sys.stdout.write(f"{tag} {line}")
        sys.stdout.flush()


def _wait_a_moment(schedule: Schedule) -> None:
    """Sleep until a step ends (at most POLL_SECONDS), charge the time to the running steps in equal shares,
    and record the ones that ended; a failed step stops the others (as Ctrl-C would) and ends the run."""
    start = time.perf_counter()
    try:
        schedule.running[0].process.wait(timeout=POLL_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _charge(schedule, time.perf_counter() - start)
    for run in [run for run in schedule.running if run.process.poll() is not None]:
        _record(schedule, run)
        if run.process.returncode != 0:  # the other step stops too: as at Ctrl-C, or with a SIGINT of its own
            _stop(schedule, interrupt=run.process.returncode != 130)
            end_on_failure(run.job.step.script, run.process.returncode)


def _charge(schedule: Schedule, seconds: float) -> None:
    for run in schedule.running:
        run.seconds += seconds / len(schedule.running)


def _record(schedule: Schedule, run: Running) -> None:
    run.reader.join()
    schedule.running.remove(run)
    add_time(run.job.timings, run.job.step.title, run.seconds)


def _stop(schedule: Schedule, interrupt: bool) -> None:
    """Wait for the running steps to end (after a SIGINT of their own where ``interrupt``), keeping their times."""
    if interrupt:
        for run in schedule.running:
            run.process.send_signal(signal.SIGINT)
    while schedule.running:
        start = time.perf_counter()
        try:
            schedule.running[0].process.wait()
        except KeyboardInterrupt:
            continue
        _charge(schedule, time.perf_counter() - start)
        for run in [run for run in schedule.running if run.process.poll() is not None]:
            _record(schedule, run)
