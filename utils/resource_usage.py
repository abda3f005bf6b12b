"""Peak memory and usable cores of this process, as the reports and worker pools use them."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path


def peak_rss_mib() -> float:
    """Largest resident set size this process has had so far, in MiB.

    Linux's VmHWM belongs to the current program image; ru_maxrss is not used there because it
    survives fork and exec, so a child started by a large parent would report the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup CPU affinity, unlike cpu_count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
