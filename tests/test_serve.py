"""`muse serve` on a real JACK dummy server: waits for the server, runs, survives the server restarting, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jack_fixture import start_jackd, stop_jackd

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd2 is not installed (scripts/test.sh installs it)")]


def _status(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _wait(p: Path, pred, timeout: float) -> dict:
    end = time.monotonic() + timeout
    s = {}
    while time.monotonic() < end:
        s = _status(p)
        if s and pred(s):
            return s
        time.sleep(0.2)
    raise AssertionError(f"status never matched within {timeout} s; last: {s}")


def test_serve_waits_runs_restarts_and_stops(tmp_path):
    name = f"serve-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, MUSE_HOME=str(tmp_path / "home"), JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    status, logf = tmp_path / "status.json", tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "nomad_muse", "serve", "--status-file", str(status), "--log-file", str(logf),
                             "--retry-s", "0.5", "--midi-in", "none", "--midi-out", "none"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jack = None
    try:
        s = _wait(status, lambda s: s["state"] == "waiting for the audio server", 60)  # no server yet
        assert s["restarts"] == 0 and s["last_error"]
        jack = start_jackd(name)
        s = _wait(status, lambda s: s["state"] == "running" and s["engine"].get("seconds", 0) > 1.0, 90)
        assert s["engine"]["counters"]["xruns"] >= 0 and "classifier" in s["engine"]["backends"]
        first_pid = s["child_pid"]
        stop_jackd(jack)  # the server goes away mid-run
        jack = None
        s = _wait(status, lambda s: s["restarts"] == 1 and s["state"] == "waiting for the audio server", 60)
        jack = start_jackd(name)  # … and comes back
        s = _wait(status, lambda s: s["state"] == "running" and s["engine"].get("seconds", 0) > 0.5, 90)
        assert s["child_pid"] != first_pid and s["restarts"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        s = _status(status)
        assert s["state"] == "stopped" and s["child_pid"] is None
        text = logf.read_text()
        assert "engine running" in text and "restart 1" in text and "muse serve stopped" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if jack is not None:
            stop_jackd(jack)
