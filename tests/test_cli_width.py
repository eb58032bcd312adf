"""Tables a musician reads in an 80-column terminal: they fit, or switch to a vertical layout; ids are never dropped."""

from __future__ import annotations

import os
import subprocess
import sys

import soundfile as sf

from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path


def _muse80(*args, env=None):
    e = {**os.environ, "COLUMNS": "80", "LINES": "40", **(env or {})}
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300, env=e)


def _fits(text: str) -> None:
    wide = [x for x in text.splitlines() if len(x) > 80]
    assert not wide, wide


def test_bench_history_keeps_the_run_id_at_80_columns(tmp_path, monkeypatch):
    from nomad_muse.machine_profile import RunStore

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "h"))
    store = RunStore()
    ids = [store.add("bench", {"x": i}, summary="generator onnxruntime/CPU/fp32 p99 46.6 µs; classifier openvino/CPU/bf16 "
                                                 "p99 80.1 µs; realtime block 128 cpu 9.1 % of one core, 0 misses") for i in range(3)]
    r = _muse80("bench", "history")
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    for i in ids:
        assert any(line.split("│")[1].strip() == str(i) for line in r.stdout.splitlines() if line.count("│") >= 4), r.stdout


def test_bench_generator_table_fits_80_columns():
    r = _muse80("bench", "generator", "--steps", "100")
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    assert "onnxruntime" in r.stdout and "openvino" in r.stdout


def test_confusion_matrix_fits_80_columns_with_readable_headers(tmp_path):
    (tmp_path / "piano").mkdir()
    (tmp_path / "drums").mkdir()
    y, sr = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    sf.write(tmp_path / "piano" / "a.wav", y[: sr * 2], sr)
    yd, srd = sf.read(str(example_path(CLASSIFY_EXAMPLES["drums"])), dtype="float32")
    sf.write(tmp_path / "drums" / "c.wav", yd, srd)
    r = _muse80("evaluate", "classifier", str(tmp_path))
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    assert "dru = drums" in r.stdout and "…" not in r.stdout


def test_a_table_too_wide_for_the_terminal_turns_vertical(capsys, monkeypatch):
    from nomad_muse.app import console as C

    monkeypatch.setattr(C.console, "_width", 40)
    rows = [{"id": 7, "name": "a-very-long-name-that-cannot-wrap", "value": "1234567890 1234567890"}]
    C.print_rows(rows, as_json=False, title="t", columns=("id", "name", "value"), cells=lambda r: (str(r["id"]), r["name"], r["value"]))
    out = capsys.readouterr().out
    assert "id     7" in out.replace("  id", "id") or "  id     7" in out
    assert "a-very-long-name-that-cannot-wrap" in out
