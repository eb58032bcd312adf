"""The host CPU as the operating system describes it: ``/proc/cpuinfo`` and ``sysctl``.

The bottom layer owns this (a backend names its device in ``describe()``);
``nomad_muse.probe`` builds the full hardware record on top of it.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from pathlib import Path


def read_cpuinfo() -> list[dict[str, str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    blocks = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                entry[k.strip()] = v.strip()
        blocks.append(entry)
    return blocks


def sysctl(key: str) -> str:
    try:
        return subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.lru_cache(maxsize=1)
def cpu_model_name() -> str:
    """The CPU's marketing name (cheap; cached)."""
    for entry in read_cpuinfo():
        for key in ("model name", "Model", "Hardware", "cpu model"):
            if entry.get(key):
                return entry[key]
    if sys.platform == "darwin":
        name = sysctl("machdep.cpu.brand_string")
        if name:
            return name
    return platform.processor() or platform.machine() or "unknown CPU"
