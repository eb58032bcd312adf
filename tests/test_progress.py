"""Progress on every long job (issue 14 item 8): a bar on a terminal, periodic plain lines in a log or a pipe."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent


def _muse(args, *, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "80", **(env or {})}, timeout=timeout)


def _plain(width=80) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=False, color_system=None), buf


# --- progress -----------------------------------------------------------------------------------------

def test_progress_prints_plain_lines_off_a_terminal(monkeypatch):
    from nomad_muse.app.progress import job

    monkeypatch.setenv("MUSE_PROGRESS_S", "0")
    con, buf = _plain()
    with job("certify", console=con) as j:
        j.update("running the pipeline paced for 120 s")
        j.update("system checks and cyclictest")
    with job("evaluate classifier", total=4, console=con) as j:
        for _ in range(4):
            j.advance("files classified")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "certify: running the pipeline paced for 120 s — 0 s"
    assert lines[1] == "certify: system checks and cyclictest — 0 s"
    assert lines[2] == "certify: done in 0 s"
    assert "evaluate classifier: files classified 2/4 (50 %) — 0 s" in lines
    assert lines[-1] == "evaluate classifier: done in 0 s"


def test_progress_lines_are_periodic_not_one_per_update(monkeypatch):
    from nomad_muse.app.progress import job

    monkeypatch.setenv("MUSE_PROGRESS_S", "3600")
    con, buf = _plain()
    with job("bundle", console=con) as j:
        for i in range(500):
            j.advance(f"wheel {i}")
    assert buf.getvalue().splitlines() == ["bundle: done in 0 s"]


def test_a_quiet_job_still_prints_a_line_every_interval(monkeypatch):
    """certify's paced run reports once, then runs for minutes: the heartbeat keeps the log alive."""
    import time

    from nomad_muse.app.progress import job

    monkeypatch.setenv("MUSE_PROGRESS_S", "1")
    con, buf = _plain()
    with job("certify", console=con) as j:
        j.update("running the pipeline paced for 120 s")
        time.sleep(3.2)
    lines = buf.getvalue().splitlines()
    beats = [x for x in lines if x.startswith("certify: running the pipeline paced for 120 s — ")]
    assert len(beats) >= 3, lines  # the update itself, then at least two heartbeats
    assert [int(x.rsplit("— ", 1)[1].split()[0]) for x in beats] == sorted(int(x.rsplit("— ", 1)[1].split()[0]) for x in beats)


def test_progress_says_stopped_when_the_job_fails(monkeypatch):
    from nomad_muse.app.progress import job

    con, buf = _plain()
    with pytest.raises(RuntimeError):
        with job("calibrate", total=1.0, console=con) as j:
            j.update("probing", completed=0.25)
            raise RuntimeError("boom")
    assert buf.getvalue().splitlines()[-1] == "calibrate: stopped in 0 s"


def test_a_user_error_leaves_only_the_error_line(monkeypatch):
    """Bad input gets one clear line: the progress display adds nothing before or after it."""
    from nomad_muse.app.progress import job
    from nomad_muse.errors import InputError

    monkeypatch.setenv("MUSE_PROGRESS_S", "10")
    con, buf = _plain()
    with pytest.raises(InputError):
        with job("demo", total=1.0, console=con) as j:
            j.update("reading the prompt", completed=0.0)
            raise InputError("prompt.mid: not a MIDI file")
    assert buf.getvalue() == ""


def test_progress_on_a_terminal_draws_a_bar_not_lines():
    from nomad_muse.app.progress import job

    buf = io.StringIO()
    con = Console(file=buf, width=80, force_terminal=True)
    with job("demo", total=10, console=con) as j:
        j.update("blocks", completed=5)
    assert "done in" not in buf.getvalue()  # transient bar, no log lines


def test_evaluate_generator_reports_progress_on_stderr_and_keeps_json_clean(tmp_path):
    for p in (ROOT / "models" / "prompts").glob("*.mid"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    r = _muse(["evaluate", "generator", str(tmp_path), "--json"], env={"MUSE_PROGRESS_S": "0"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files_used"] == 2
    err = r.stderr.splitlines()
    assert any(re.fullmatch(r"evaluate generator: files scored \(2 so far\) — \d+ s", x) for x in err), err
    assert re.fullmatch(r"evaluate generator: done in \d+ s", err[-1])


def test_install_script_says_each_step():
    from nomad_muse.hwbench.bundle import INSTALL_SH

    steps = [INSTALL_SH.index(f'echo "[{i}/4] ') for i in range(1, 5)]
    assert steps == sorted(steps) and steps[-1] > INSTALL_SH.index('echo "installation: OK')
