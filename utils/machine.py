"""This machine as the reports see it: usable cores, peak memory of this process, and the CPU's model
and instruction-set flags.

Machines of the same kind differ in CPU generation (some have AVX-512 bfloat16 and VNNI units, some
not), so every benchmark and reported time names the CPU it ran on.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import sys
from functools import lru_cache
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


# The flags that change TensorFlow's speed on a CPU (Linux /proc/cpuinfo spelling).
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                  "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    path = Path("/proc/cpuinfo")
    return path.read_text() if path.exists() else ""


def cpu_model() -> str:
    found = re.search(r"model name\s*:\s*(.+)", _cpuinfo())
    return found.group(1).strip() if found else (platform.processor() or platform.machine())


def cpu_flags() -> list[str]:
    """The RELEVANT_FLAGS this CPU has, in that order."""
    found = re.search(r"^flags\s*:\s*(.+)$", _cpuinfo(), re.MULTILINE)
    flags = set(found.group(1).split()) if found else set()
    return [flag for flag in RELEVANT_FLAGS if flag in flags]


def has_native_bfloat16() -> bool:
    """AVX-512 BF16 or AMX-BF16: matrix units that compute in bfloat16."""
    flags = set(cpu_flags())
    return "avx512_bf16" in flags or "amx_bf16" in flags


def describe_cpu() -> str:
    flags = ", ".join(cpu_flags()) or "none of " + ", ".join(RELEVANT_FLAGS)
    return f"{cpu_model()} ({platform.machine()}), {available_cores()} cores, flags: {flags}"


POOL_VARIABLES = {"intra-op": "TF_NUM_INTRAOP_THREADS", "inter-op": "TF_NUM_INTEROP_THREADS"}


def thread_pools(environment=os.environ) -> dict[str, str]:
    """TensorFlow's pool sizes as ``environment`` sets them ("one per core" where it does not): part of a
    model's arithmetic (how sums are split), so its sidecar and log record them."""
    return {kind: environment.get(variable, "one per core") for kind, variable in POOL_VARIABLES.items()}

