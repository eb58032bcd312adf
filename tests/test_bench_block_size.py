"""`muse bench --block-size N` sets the real-time run's block; its JSON keeps realtime.block_size, cpu_percent, cpu_misses."""

import subprocess
import sys
from dataclasses import replace

from nomad_muse.hwbench.rtsim import simulate
from nomad_muse.machine_profile import resolve


def test_realtime_run_uses_the_given_block_size():
    active = resolve()
    n = 128 if active.tuned.block_size != 128 else 256
    rt = simulate(0.3, active=active, tuned=replace(active.tuned, block_size=n)).as_dict()
    assert rt["block_size"] == n == rt["tuned"]["block_size"]
    assert abs(rt["period_ms"] - 1000.0 * n / active.tuned.sample_rate) < 1e-6
    assert rt["blocks"] >= int(0.3 * active.tuned.sample_rate / n)
    assert rt["cpu_percent"] > 0 and isinstance(rt["cpu_misses"], int)


def test_bench_refuses_a_block_size_out_of_range():
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "bench", "--block-size", "32", "--quick"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "block-size" in r.stderr and "Traceback" not in r.stderr


def test_realtime_run_reports_module_cpu_peak_rss_and_startup():
    """Per-module thread CPU shares exist, lie in [0, 100·cores] and sum to the run's total CPU % (±10 % relative + 1 pp:
    the total charges the analyzer's ingest by its wall time, the modules by its thread CPU time; the timers differ)."""
    import os

    from nomad_muse.hwbench.html import render_bench_html

    rt = simulate(0.5).as_dict()
    mods = rt["module_cpu_percent"]
    assert set(mods) == {"callback", "classifier", "generator", "analyzer", "other"}
    cores = os.cpu_count() or 1
    assert all(0.0 <= v <= 100.0 * cores for v in mods.values()), mods
    assert mods["classifier"] > 0 and mods["analyzer"] > 0
    total = sum(mods.values())
    assert abs(total - rt["cpu_percent"]) <= 0.10 * rt["cpu_percent"] + 1.0, (total, rt["cpu_percent"])
    assert rt["rss_peak_mb"] >= rt["rss_after_mb"] * 0.99 and rt["rss_peak_scope"] in ("this run", "process since launch")
    assert rt["startup_s"] > 0
    res = {"machine": {}, "date": "d", "summary": [], "software": {}, "profile": None, "matrix": [],
           "baselines": {"fft": []}, "realtime": rt}
    html = render_bench_html(res)
    assert "module-cpu-chart" in html and "peak RSS" in html
