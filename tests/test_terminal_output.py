"""What a musician sees in a terminal or a log (issue 14 items 8-10): progress lines when output is not
a terminal, tables that fit 80 columns without dropping ids, flags shown as flags, headers, unbroken paths."""

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
    assert lines[0] == "certify — 0 s"
    assert lines[1] == "certify: running the pipeline paced for 120 s — 0 s"
    assert lines[2] == "certify: system checks and cyclictest — 0 s"
    assert lines[3] == "certify: done in 0 s"
    assert "evaluate classifier: files classified 2/4 (50 %) — 0 s" in lines
    assert lines[-1] == "evaluate classifier: done in 0 s"


def test_progress_lines_are_periodic_not_one_per_update(monkeypatch):
    from nomad_muse.app.progress import job

    monkeypatch.setenv("MUSE_PROGRESS_S", "3600")
    con, buf = _plain()
    with job("bundle", console=con) as j:
        for i in range(500):
            j.advance(f"wheel {i}")
    assert buf.getvalue().splitlines() == ["bundle — 0 s", "bundle: done in 0 s"]


def test_progress_says_stopped_when_the_job_fails(monkeypatch):
    from nomad_muse.app.progress import job

    con, buf = _plain()
    with pytest.raises(RuntimeError):
        with job("calibrate", total=1.0, console=con) as j:
            j.update("probing", completed=0.25)
            raise RuntimeError("boom")
    assert buf.getvalue().splitlines()[-1] == "calibrate: stopped in 0 s"


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


# --- tables at 80 columns -----------------------------------------------------------------------------

def _fits(text: str, width=80) -> bool:
    return all(len(line.rstrip()) <= width for line in text.splitlines())


def test_bench_history_keeps_the_run_id_at_80_columns():
    from nomad_muse.machine_profile import RunStore

    with RunStore() as store:
        ids = [store.add("bench", {"x": i}, summary="generator openvino/CPU/int8 p99 212.4 µs; classifier onnxruntime/CPU/fp32 "
                         f"frame p99 801.2 µs; run {i} on this machine", fingerprint="f") for i in range(3)]
    r = _muse(["bench", "history"])
    assert r.returncode == 0, r.stderr
    assert _fits(r.stdout), r.stdout
    for i in ids:
        assert re.search(rf"^id {i}$", r.stdout, re.M), r.stdout


def test_wide_rows_switch_to_a_vertical_layout_and_narrow_ones_stay_a_table():
    from nomad_muse.app.console import print_rows

    cols = ("backend", "p50 µs", "p95 µs", "p99 µs", "max µs", "p50/floor", "token µs", "p99/20ms")
    rows = [{"c": "openvino/CPU/int8"}, {"c": "onnxruntime/CPU/fp32"}]
    con, buf = _plain()
    print_rows(rows, as_json=False, title="Generator", columns=cols,
               cells=lambda r: (r["c"], "123.4", "150.2", "180.9", "1203", "3.4×", "12.5", "0.90 %"), con=con)
    out = buf.getvalue()
    assert _fits(out) and "…" not in out
    assert "backend openvino/CPU/int8" in out and "backend onnxruntime/CPU/fp32" in out
    assert re.search(r"^\s+p50/floor\s+3\.4×$", out, re.M)
    con, buf = _plain()
    print_rows(rows, as_json=False, title="small", columns=("backend", "ms"), cells=lambda r: (r["c"], "1.0"), con=con)
    assert "┃ backend" in buf.getvalue() and "onnxruntime/CPU/fp32" in buf.getvalue()


def test_confusion_matrix_never_cuts_family_names_at_80_columns():
    from nomad_muse.app.cli_classify import confusion_table
    from nomad_muse.gm import FAMILIES

    n = len(FAMILIES)
    rows = [[int(i == j) * 5 + (j == 0) for j in range(n)] for i in range(n)]
    con, buf = _plain(80)
    con.print(confusion_table(list(FAMILIES), rows, con))
    out = buf.getvalue()
    assert _fits(out) and "…" not in out, out
    for i, fam in enumerate(FAMILIES, 1):
        assert f"{i} {fam}" in out or f" {fam} " in out
    con, buf = _plain(200)  # wide enough: the names are the headers
    con.print(confusion_table(list(FAMILIES), rows, con))
    assert all(f"┃ {fam}" in buf.getvalue() or f"{fam} ┃" in buf.getvalue() for fam in FAMILIES)


# --- help, headers, paths -----------------------------------------------------------------------------

def test_help_shows_flags_as_flags_and_values_with_their_type():
    r = _muse(["classify", "--help"])
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "--timeline" in x)
    assert "<bool>" not in line and "bool" not in line
    assert "<float>" in next(x for x in r.stdout.splitlines() if "--hop-ms" in x)


def test_classify_timeline_has_a_header():
    r = _muse(["classify", "--example", "piano", "--timeline"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    h = next(i for i, x in enumerate(lines) if x.split() == ["time", "s", "family", "conf", "track", "type"])
    assert re.match(r"^\s*\d+\.\d{3}\s+\w+\s+\d\.\d\d", lines[h + 1])
    assert "timeline: one row per 20 ms window" in lines[h - 1]


def test_long_paths_are_not_broken_in_a_log(capsys):
    from nomad_muse.app.console import make_console

    path = "/home/someone/" + "a-very-long-folder-name/" * 8 + "take.wav"
    make_console().print(f"wrote {path} and {path}.html")
    out = capsys.readouterr().out
    assert out == f"wrote {path} and {path}.html\n"
