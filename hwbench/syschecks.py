"""Real-time readiness checks in the spirit of rtcqs, plus scheduling latency via cyclictest.

Split in two so the judgement is testable on recorded machines:

* :func:`read_system` reads the facts (files under ``/proc`` and ``/sys``,
  ``uname``, resource limits) into a plain dict — no judgement.
* :func:`evaluate_system` turns a facts dict into :class:`Check` results
  (PASS / WARN / FAIL, the measured value, the threshold and the fix) — a
  pure function.

Why each check matters for audio (rtcqs, the Linux audio wiki):

* CPU frequency governor ``performance``: ``powersave``/``ondemand`` ramp
  the clock after the load arrives, so the first blocks of a burst run slow.
* ``vm.swappiness`` ≤ 10: pages of the audio process swapped out cause
  page-fault stalls of milliseconds.
* Real-time priority: the audio thread needs SCHED_FIFO; a non-root user
  needs ``rtprio`` ≥ 80 in ``/etc/security/limits.d/`` (group ``audio``) and
  a generous ``memlock``.
* Kernel preemption: ``PREEMPT_RT`` best, ``PREEMPT``/``PREEMPT_DYNAMIC``
  (booted ``preempt=full``) good, ``voluntary``/none adds scheduling latency.
* High-resolution timers (``hres_active``) for sub-millisecond sleeps.
* ``threadirqs`` lets IRQ handlers be prioritised below the audio thread.
* Power management: deep C-states add wake-up latency (``cpuidle`` driver
  and its deepest state's exit latency, in µs).
* cyclictest (Debian ``rt-tests``): the measured worst wake-up latency (µs)
  of a SCHED_FIFO thread, the direct evidence.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


@dataclass(frozen=True)
class Check:
    """One criterion's result: ``status`` is PASS, WARN or FAIL; ``fix`` says what to do when not PASS."""

    name: str
    status: str
    value: str
    threshold: str
    evidence: str = ""
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip()
    except OSError:
        return None


def read_system(root: str = "/") -> dict:
    """Facts about this machine that bear on real-time audio (no judgement; see :func:`evaluate_system`)."""
    import resource

    r = Path(root)
    cpu_dir = r / "sys/devices/system/cpu"
    governors = sorted({g for p in cpu_dir.glob("cpu[0-9]*/cpufreq/scaling_governor") if (g := _read(p))})
    soft, hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    ml_soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    timer_list = _read(r / "proc/timer_list") or ""
    idle_states = []
    for st in sorted(cpu_dir.glob("cpu0/cpuidle/state[0-9]*")):
        if _read(st / "disable") == "1":
            continue
        lat = _read(st / "latency")
        idle_states.append({"name": _read(st / "name"), "latency_us": int(lat) if lat and lat.isdigit() else None})
    return {
        "kernel_release": platform.release(),
        "kernel_version": platform.version(),
        "cmdline": _read(r / "proc/cmdline") or "",
        "realtime_flag": _read(r / "sys/kernel/realtime"),
        "preempt_mode": _read(r / "sys/kernel/debug/sched/preempt"),
        "governors": governors,
        "swappiness": int(s) if (s := _read(r / "proc/sys/vm/swappiness")) and s.isdigit() else None,
        "rtprio_soft": None if soft == resource.RLIM_INFINITY else int(soft),
        "rtprio_hard": None if hard == resource.RLIM_INFINITY else int(hard),
        "memlock_bytes": None if ml_soft == resource.RLIM_INFINITY else int(ml_soft),
        "is_root": hasattr(os, "geteuid") and os.geteuid() == 0,
        "hres_active": ("hres_active" in timer_list and bool(re.search(r"hres_active\s*:\s*1", timer_list))) if timer_list else None,
        "clocksource": _read(r / "sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "cpuidle_driver": _read(cpu_dir / "cpuidle/current_driver"),
        "idle_states": idle_states,
        "cyclictest": shutil.which("cyclictest"),
    }


def _preempt_kind(f: dict) -> str:
    v = f.get("kernel_version", "") or ""
    mode = (f.get("preempt_mode") or "").strip()
    if f.get("realtime_flag") == "1" or "PREEMPT_RT" in v:
        return "PREEMPT_RT"
    if mode:  # e.g. "none voluntary (full)"
        m = re.search(r"\((\w+)\)", mode)
        if m:
            return {"full": "PREEMPT", "voluntary": "voluntary", "none": "none"}.get(m.group(1), m.group(1))
    cmd = f.get("cmdline", "") or ""
    if "PREEMPT_DYNAMIC" in v:
        m = re.search(r"\bpreempt=(\w+)", cmd)
        return {"full": "PREEMPT", "voluntary": "voluntary", "none": "none"}.get(m.group(1), m.group(1)) if m else "PREEMPT_DYNAMIC (default mode unknown)"
    if "PREEMPT" in v:
        return "PREEMPT"
    return "voluntary or none"


def evaluate_system(f: dict) -> list[Check]:
    """Judge the facts from :func:`read_system` (pure; tested on recorded machines)."""
    out: list[Check] = []
    g = f.get("governors") or []
    if not g:
        out.append(Check("cpu governor", WARN, "not exposed", "performance", "no cpufreq in /sys (VM or fixed clock)",
                         "nothing to do on a VM; on bare metal enable cpufreq and set the performance governor"))
    elif set(g) == {"performance"}:
        out.append(Check("cpu governor", PASS, "performance", "performance"))
    else:
        out.append(Check("cpu governor", WARN, ",".join(g), "performance", "clock ramps after load arrives",
                         "sudo cpupower frequency-set -g performance"))

    s = f.get("swappiness")
    if s is None:
        out.append(Check("swappiness", WARN, "unknown", "≤ 10", "/proc/sys/vm/swappiness unreadable"))
    else:
        out.append(Check("swappiness", PASS if s <= 10 else WARN, str(s), "≤ 10", "",
                         "" if s <= 10 else "echo 'vm.swappiness = 10' | sudo tee /etc/sysctl.d/90-audio.conf && sudo sysctl --system"))

    hard = f.get("rtprio_hard")
    if f.get("is_root"):
        out.append(Check("real-time priority", PASS, "root (SCHED_FIFO allowed)", "rtprio ≥ 80", "running as root"))
    elif hard is None or hard >= 80:
        out.append(Check("real-time priority", PASS, "unlimited" if hard is None else str(hard), "rtprio ≥ 80"))
    else:
        out.append(Check("real-time priority", WARN, str(hard), "rtprio ≥ 80", "audio threads cannot get SCHED_FIFO",
                         "add '@audio - rtprio 95' and '@audio - memlock unlimited' to /etc/security/limits.d/audio.conf; "
                         "add yourself to group audio; log in again"))

    kind = _preempt_kind(f)
    status = PASS if kind in ("PREEMPT_RT", "PREEMPT") else WARN
    out.append(Check("kernel preemption", status, kind, "PREEMPT or PREEMPT_RT", f.get("kernel_version", ""),
                     "" if status == PASS else "boot with preempt=full (PREEMPT_DYNAMIC kernels) or install a -rt kernel"))

    hres = f.get("hres_active")
    out.append(Check("high-resolution timers", PASS if hres else WARN, {True: "active", False: "inactive", None: "unknown"}[hres],
                     "active", f"clocksource {f.get('clocksource')}", "" if hres else "enable CONFIG_HIGH_RES_TIMERS / check /proc/timer_list"))

    cmd = f.get("cmdline", "") or ""
    thr = "threadirqs" in cmd.split() or kind == "PREEMPT_RT"
    out.append(Check("threaded IRQs", PASS if thr else WARN, "yes" if thr else "no", "threadirqs (or PREEMPT_RT)", "",
                     "" if thr else "add threadirqs to the kernel command line (GRUB_CMDLINE_LINUX)"))

    states = [s for s in f.get("idle_states") or [] if s.get("latency_us") is not None]
    deepest = max((s["latency_us"] for s in states), default=None)
    if deepest is None:
        out.append(Check("power management", PASS if f.get("cpuidle_driver") in (None, "none", "haltpoll") else WARN,
                         f"cpuidle {f.get('cpuidle_driver') or 'none'}", "deepest C-state exit ≤ 100 µs", "no C-state latencies exposed"))
    else:
        ok = deepest <= 100
        out.append(Check("power management", PASS if ok else WARN, f"deepest C-state exit {deepest} µs", "≤ 100 µs",
                         f"cpuidle {f.get('cpuidle_driver')}", "" if ok else "limit C-states: kernel parameter processor.max_cstate=1 "
                         "(or intel_idle.max_cstate=1), or hold /dev/cpu_dma_latency at 0 while playing"))
    return out


@dataclass(frozen=True)
class CyclictestResult:
    max_us: int
    avg_us: float
    loops: int
    command: str


def parse_cyclictest(text: str) -> CyclictestResult | None:
    """Parse ``cyclictest -q`` summary lines (``T: 0 ... Avg: 5 Max: 31``); the worst thread wins."""
    rows = re.findall(r"C:\s*(\d+).*?Avg:\s*(\d+).*?Max:\s*(\d+)", text)
    if not rows:
        return None
    loops = sum(int(r[0]) for r in rows)
    avg = sum(int(r[1]) for r in rows) / len(rows)
    return CyclictestResult(max(int(r[2]) for r in rows), avg, loops, "")


def run_cyclictest(seconds: float, max_us: float, warn_us: float | None = None, binary: str | None = None) -> Check:
    """Scheduling latency (µs) of a SCHED_FIFO 80 thread per CPU, 1 ms interval, for ``seconds``.

    Worst wake-up above ``max_us`` → FAIL, above ``warn_us`` → WARN; a missing
    or failing cyclictest → WARN with the fix, never a crash.
    """
    exe = binary or shutil.which("cyclictest")
    name = "scheduling latency (cyclictest)"
    if not exe:
        return Check(name, WARN, "not measured", f"≤ {max_us:g} µs", "cyclictest is not installed",
                     "sudo apt install rt-tests, then run muse certify again")
    loops = max(100, int(seconds * 1000))
    cmd = [exe, "-q", "-m", "-S", "-p", "80", "-i", "1000", "-l", str(loops)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check(name, WARN, "not measured", f"≤ {max_us:g} µs", f"cyclictest failed: {type(e).__name__}: {e}",
                     "run cyclictest by hand to see why")
    res = parse_cyclictest(p.stdout)
    if p.returncode != 0 or res is None:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [""]
        return Check(name, WARN, "not measured", f"≤ {max_us:g} µs", f"cyclictest exit {p.returncode}: {tail[0]}",
                     "cyclictest needs permission for SCHED_FIFO and memory locking (root, or rtprio/memlock limits)")
    warn = max_us if warn_us is None else warn_us
    status = FAIL if res.max_us > max_us else WARN if res.max_us > warn else PASS
    return Check(name, status, f"max {res.max_us} µs, avg {res.avg_us:.0f} µs", f"≤ {warn:g} µs (FAIL above {max_us:g})",
                 f"{res.loops} wake-ups: {' '.join(cmd)}", "" if status == PASS else "see the kernel preemption, governor and power checks above")
