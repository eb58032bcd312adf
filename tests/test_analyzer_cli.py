"""`muse analyze` and `muse profiles` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from analyzer_signals import peaking_eq, pink_noise
from nomad_muse.app.cli import app

SR = 44100


def muse(*args):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def _write(path, y):
    sf.write(path, y, SR, subtype="PCM_24")
    return path


def test_analyze_json_has_units_and_suggestions(tmp_path):
    y = pink_noise(n=SR * 3, rng=np.random.default_rng(0), channels=2) * 0.05
    f = _write(tmp_path / "mix.wav", y)
    r = CliRunner().invoke(app, ["analyze", str(f), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    L = d["loudness"]
    for k in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu", "true_peak_dbtp", "plr_lu"):
        assert isinstance(L[k], float)
    assert d["tonal"]["target_name"] == "all-styles" and len(d["tonal"]["bands"]) == 7  # the no-genre default
    assert all({"kind", "severity", "action", "why", "measured", "target", "unit"} <= set(s) for s in d["suggestions"])
    assert "too_quiet" in {s["kind"] for s in d["suggestions"]}
    assert d["target_lufs"] == -14.0


def test_analyze_human_report(tmp_path):
    y = pink_noise(n=SR * 3, rng=np.random.default_rng(1), channels=2) * 0.05
    f = _write(tmp_path / "mix.wav", y)
    r = CliRunner().invoke(app, ["analyze", str(f), "--delivery", "broadcast"])
    assert r.exit_code == 0, r.output
    for word in ("integrated", "true peak", "Tonal balance", "correlation", "LUFS"):
        assert word in r.output


def test_analyze_errors_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    r = muse("analyze", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "not a readable audio file" in r.stderr
    r = muse("analyze", str(bad), "--genre", "pop", "--target", "x")
    assert r.returncode == 2 and "exclusive" in r.stderr


def test_profiles_build_list_show_and_reference(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for i in range(3):
        _write(refs / f"r{i}.wav", pink_noise(n=SR * 2, rng=np.random.default_rng(10 + i), channels=2) * 0.05)
    runner = CliRunner()
    r = runner.invoke(app, ["profiles", "build", "mine", str(refs), "--description", "pink refs"])
    assert r.exit_code == 0, r.output
    assert "from 3 track(s)" in r.output
    r = runner.invoke(app, ["profiles", "list", "--json"])
    rows = {x["name"]: x for x in json.loads(r.output)}
    assert rows["mine"]["origin"] == "user" and rows["mine"]["n_tracks"] == 3
    r = runner.invoke(app, ["profiles", "show", "mine", "--json"])
    assert json.loads(r.output)["bands_db"]["mid"][0] <= json.loads(r.output)["bands_db"]["mid"][2]
    y = peaking_eq(pink_noise(n=SR * 3, rng=np.random.default_rng(20), channels=2) * 0.05, sr=SR, f0=300,
                   gain_db=10, q=1.4)
    mix = _write(tmp_path / "mix.wav", y)
    r = runner.invoke(app, ["analyze", str(mix), "--target", "mine", "--json"])
    kinds = {s["kind"] for s in json.loads(r.output)["suggestions"]}
    assert "mud" in kinds
    r2 = runner.invoke(app, ["analyze", str(mix), "--reference", str(refs), "--json"])
    assert "mud" in {s["kind"] for s in json.loads(r2.output)["suggestions"]}


def test_analyze_with_shipped_genre(tmp_path):
    y = pink_noise(n=SR * 3, rng=np.random.default_rng(0), channels=2) * 0.05
    f = _write(tmp_path / "mix.wav", y)
    r = CliRunner().invoke(app, ["analyze", str(f), "--json", "--genre", "pop"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["tonal"]["target_name"] == "pop"
    assert all(b["target_p10_db"] <= b["target_p50_db"] <= b["target_p90_db"] for b in d["tonal"]["bands"])
    r = CliRunner().invoke(app, ["profiles", "list", "--json"])
    assert {"pop", "jazz", "classical"} <= {x["name"] for x in json.loads(r.output) if x["origin"] == "shipped"}
