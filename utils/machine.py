"""What CPU this is: its model and the instruction-set flags that decide how fast TensorFlow runs.

Machines of the same kind differ in CPU generation (some have AVX-512 bfloat16 and VNNI units, some
not), so every benchmark and reported time names the CPU it ran on.
"""

from __future__ import annotations

import platform
import re
from functools import lru_cache
from pathlib import Path

from utils.resource_usage import available_cores

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
