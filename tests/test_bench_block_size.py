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
