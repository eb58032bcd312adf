"""`--temperature auto` (seed §8.2): temperature follows the prompt's recent velocity and density."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.generator.intensity import AutoTemperature, auto_temperature, parse_temperature, playing_intensity
from nomad_muse.generator.midi_io import Note, Score
from nomad_muse.paths import models_dir

PROMPTS = models_dir() / "prompts"


def _score(n_per_beat: int, velocity: int, beats: int = 16) -> Score:
    step = 1.0 / n_per_beat
    return Score(tuple(Note(i * step, step, 60, velocity, 0) for i in range(beats * n_per_beat)), 120.0)


def test_quiet_sparse_is_low_and_loud_busy_is_high():
    cfg = AutoTemperature(0.6, 1.4)
    quiet, loud = _score(1, 30), _score(4, 120)
    assert playing_intensity(quiet, cfg) < 0.3 < 0.9 < playing_intensity(loud, cfg)
    tq, tl = auto_temperature(quiet, cfg), auto_temperature(loud, cfg)
    assert cfg.low <= tq < tl <= cfg.high
    # exact: quiet = 0.5*30/127 + 0.5*(1/4); loud = 0.5*120/127 + 0.5*1
    assert tq == pytest.approx(0.6 + 0.8 * (0.5 * 30 / 127 + 0.125))
    assert tl == pytest.approx(0.6 + 0.8 * (0.5 * 120 / 127 + 0.5))


def test_only_the_recent_window_counts_and_bounds_hold():
    cfg = AutoTemperature(0.5, 1.5, window_beats=8)
    loud_then_quiet = Score(_score(4, 127, 16).notes + tuple(Note(16 + i, 1, 60, 20, 0) for i in range(16)), 120.0)
    assert auto_temperature(loud_then_quiet, cfg) < auto_temperature(_score(4, 127), cfg)
    for s in (None, Score((), 120.0), _score(8, 127), _score(1, 1)):
        assert cfg.low <= auto_temperature(s, cfg) <= cfg.high
    assert auto_temperature(None, cfg) == pytest.approx(1.0)  # neutral midpoint with nothing to measure
    fixed = AutoTemperature(0.9, 0.9)
    assert auto_temperature(_score(4, 127), fixed) == auto_temperature(_score(1, 10), fixed) == 0.9


def test_parse_and_bad_bounds():
    assert parse_temperature("auto") is None and parse_temperature(" AUTO ") is None
    assert parse_temperature("1.3") == 1.3
    with pytest.raises(ParameterError, match="--temperature 'hot' must be a number or 'auto'"):
        parse_temperature("hot")
    with pytest.raises(ParameterError, match="temperature bounds 1.5–0.5"):
        AutoTemperature(1.5, 0.5)


def _muse(*args):
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not (models_dir() / "generator.onnx").is_file(), reason="generator model not built")
def test_cli_temperature_auto(tmp_path):
    r = _muse("generate", str(PROMPTS / "drums_rock.mid"), "--bars", "1", "--seed", "3", "--temperature", "auto",
              "--temp-min", "0.8", "--temp-max", "1.1", "-o", str(tmp_path / "a.mid"), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["temperature_auto"] and 0.8 <= s["temperature"] <= 1.1 and s["new_notes"] > 0
    r = _muse("generate", "--bundled", "tonal", "--temperature", "warm", "-o", str(tmp_path / "b.mid"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "must be a number or 'auto'" in r.stderr
    assert not (tmp_path / "b.mid").exists()
