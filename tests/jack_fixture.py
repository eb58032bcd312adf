"""A named JACK server with the dummy driver, for the real-time tests.

``jackd -n <unique> -d dummy -r 48000 -p 256`` with ``JACK_DEFAULT_SERVER``
set (PortAudio, python-rtmidi and the jack_* tools all honour it), waited for
with ``jack_wait``.  Teardown order matters: PortAudio is terminated before
jackd stops (otherwise Python aborts at exit in pa_jack.c), then jackd gets
SIGTERM, then SIGKILL after 5 s.  Tests skip when jackd is not installed
(`.ci/run` → scripts/test.sh installs jackd2 and libportaudio2).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

import pytest

SR, PERIOD = 48000, 256


@dataclass
class JackServer:
    name: str
    proc: subprocess.Popen
    sr: int = SR
    period: int = PERIOD

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A jack_* tool against this server (10 s timeout)."""
        return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=10,
                              env={**os.environ, "JACK_DEFAULT_SERVER": self.name})

    def ports(self) -> list[str]:
        return self.run("jack_lsp").stdout.split()


def start_jackd(name: str, *, sr: int = SR, period: int = PERIOD) -> subprocess.Popen:
    log = tempfile.TemporaryFile()  # a file, not a pipe: jackd's xrun messages must never block it
    proc = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", str(sr), "-p", str(period)],
                            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"})
    proc.log = log
    try:
        subprocess.run(["jack_wait", "-w", "-t", "10"], check=True, capture_output=True, timeout=15,
                       env={**os.environ, "JACK_DEFAULT_SERVER": name})
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        stop_jackd(proc)
        log.seek(0)
        err = log.read().decode(errors="replace")[-500:]
        raise RuntimeError(f"jackd -n {name} did not come up: {err}") from None
    return proc


def stop_jackd(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def jack_server():
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        pytest.skip("jackd2 is not installed (scripts/test.sh installs it)")
    name = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    proc = start_jackd(name)
    try:
        yield JackServer(name, proc)
    finally:
        from nomad_muse.engine.live import terminate_portaudio

        terminate_portaudio()  # before jackd goes
        stop_jackd(proc)
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
