"""scripts/common.sh: waiting for apt's lock instead of failing at once (fresh Ubuntu + unattended upgrades)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wait(locks: list[Path], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUSE_APT_LOCKS": " ".join(map(str, locks)), "MUSE_APT_LOCK_TIMEOUT": str(timeout)}
    return subprocess.run(["bash", "-c", f". {ROOT / 'scripts' / 'common.sh'}; wait_for_apt_lock"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_free_locks_pass_silently(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    r = _wait([lock, tmp_path / "absent"], 5)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


def test_a_held_lock_is_waited_for_and_then_reported(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    holder = subprocess.Popen(["python3", "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(lock)!r}, os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(float(sys.argv[1]))", "2.5"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    r = _wait([lock], 30)
    holder.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "waiting for another package manager" in r.stdout and "lock free after" in r.stdout
    assert time.monotonic() - t0 >= 1.0


def test_a_lock_held_past_the_timeout_fails_with_one_line(tmp_path):
    lock = tmp_path / "lock"
    lock.write_text("")
    holder = subprocess.Popen(["python3", "-c", "import fcntl, os, time\n"
                               f"fd = os.open({str(lock)!r}, os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX)\n"
                               "print('held', flush=True); time.sleep(20)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = _wait([lock], 1)
    finally:
        holder.kill()
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "still locked after 1 s" in r.stderr


def test_command_one_installs_jackd2_for_the_readme_line():
    assert "jackd2" in (ROOT / "scripts" / "setup.sh").read_text().split("apt_install", 1)[1].splitlines()[0]
