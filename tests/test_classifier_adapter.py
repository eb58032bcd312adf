"""`muse adapt classifier` on real recordings: fitted on one half of a labelled folder (split by sample),
it must raise clip accuracy on the other half (tests/data/adapt_real: Hydrogen drum-kit samples and
Sonic Pi bass/guitar/piano samples, reserved sources used here for evaluation only, never for tuning)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nomad_muse.backends import get_backend
from nomad_muse.classifier import adapter
from nomad_muse.paths import models_dir

MODEL = models_dir() / "classifier.onnx"
DATA = Path(__file__).parent / "data" / "adapt_real"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="classifier model not built yet")
# measured with the issue-17 model (sha256 5bcb37a4…, the only run on this reserved data, no tuning): the
# adapter fitted on half A (23 fitted / 11 held out; held-out 0.545 -> 0.636, so kept) raises half B's clip
# accuracy 0.8125 -> 0.84375 (26/32 -> 27/32; balanced 0.404 -> 0.558; drums-vs-tonal 0.9375 -> 0.906).
# Measured gain +1/32: the test asserts that gain (one clip is the smallest possible gain).
# (With the previous, FluidR3-only model the gain was 0.000: 0.8125 -> 0.8125.)
GAIN_FLOOR = 1 / 32


def _halves(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for fam_dir in sorted(p for p in DATA.iterdir() if p.is_dir()):
        for i, f in enumerate(sorted(fam_dir.glob("*.flac"))):
            dst = (a if i % 2 == 0 else b) / fam_dir.name
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst / f.name)
    return a, b


def _muse(*args, home):
    env = {**__import__("os").environ, "MUSE_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, timeout=300, env=env)
    return r


@needs_model
def test_adapting_on_half_a_real_folder_raises_accuracy_on_the_other_half(tmp_path):
    a, b = _halves(tmp_path)
    home = tmp_path / "home"
    r = _muse("adapt", "classifier", str(a), "--json", home=home)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["kept"] and Path(rep["adapter_file"]).is_file()
    assert rep["held_out_accuracy_adapted"] > rep["held_out_accuracy_shipped"]
    ev = {}
    for flag in ([], ["--no-adapter"]):
        r = _muse("evaluate", "classifier", str(b), "--json", *flag, home=home)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        ev[bool(flag)] = res
    assert ev[False]["adapter"] and not ev[True]["adapter"]
    gain = ev[False]["accuracy"] - ev[True]["accuracy"]
    print(f"half B accuracy shipped {ev[True]['accuracy']:.3f} adapted {ev[False]['accuracy']:.3f} gain {gain:+.3f}")
    assert gain >= GAIN_FLOOR - 1e-9
    r = _muse("adapt", "classifier", "--reset", home=home)
    assert r.returncode == 0 and not Path(rep["adapter_file"]).exists()


@needs_model
def test_shipped_head_is_recovered_exactly_and_adapter_replaces_logits():
    m = get_backend("onnxruntime").load(MODEL)
    x = np.random.default_rng(0).standard_normal((80, 1, 1, 128, 8)).astype(np.float32)
    outs = [m.run({"mel": xi}) for xi in x]
    E = np.array([o["embedding"][0] for o in outs], np.float64)
    L = np.array([o["logits"][0] for o in outs], np.float64)
    W0, b0 = adapter.shipped_head(E, L)
    np.testing.assert_allclose(E @ W0.T + b0, L, atol=1e-3)
    ad = adapter.Adapter(W0 * 0 + 1.0, b0 * 0, {})
    got = adapter.AdaptedModel(m, ad).run({"mel": x[0]})["logits"]
    np.testing.assert_allclose(got[0], np.full(len(b0), E[0].sum()), rtol=1e-5)


def test_bad_folder_and_bad_map_are_one_line_errors(tmp_path):
    r = _muse("adapt", "classifier", str(tmp_path / "nope"), home=tmp_path / "h")
    assert r.returncode == 2 and "not a directory" in (r.stderr + r.stdout) and "Traceback" not in r.stderr
    (tmp_path / "Kicks").mkdir()
    r = _muse("adapt", "classifier", str(tmp_path), "--map", "Kicks=kazoo", home=tmp_path / "h")
    assert r.returncode == 2 and "kazoo" in (r.stderr + r.stdout)


@needs_model
def test_calibration_gate_timing_and_variants_run_the_adapter(tmp_path, monkeypatch):
    """The INT8 gate scores logits through the adapter of the shipped file; the timings' and the replay's
    model and a profile variant (another file made from the shipped one) carry it too."""
    from nomad_muse import adapters, runtime
    from nomad_muse.backends.base import Candidate
    from nomad_muse.calibration import calibrate, data
    from nomad_muse.classifier.stream import SPEC

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "home"))
    m = get_backend("onnxruntime").load(MODEL)
    x = data.classifier_sets().val_x[:40]
    outs = [m.run({"mel": xi[None]}) for xi in x]
    W0, b0 = adapter.shipped_head(np.array([o["embedding"][0] for o in outs], np.float64), np.array([o["logits"][0] for o in outs], np.float64))
    shift = np.zeros_like(b0)
    shift[3] = 4.0  # a head that differs from the shipped one in one known way
    adapters.save("classifier", MODEL, W0, b0 + shift, {"created": "x"})

    class Small(calibrate.ClassifierCalibration):
        def load_sets(self):
            s = data.classifier_sets()
            return data.ClassifierSets(s.calib_x[:4], s.val_x[:40], s.val_y[:40])

    cal = Small(MODEL)
    adapted, _ = cal.outputs(m)
    monkeypatch.setenv("MUSE_NO_ADAPTER", "1")
    raw, _ = cal.outputs(m)
    monkeypatch.delenv("MUSE_NO_ADAPTER")
    assert np.allclose(adapted - raw, shift[None, :].astype(np.float32), atol=2e-3)
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(MODEL))
    proto.doc_string = "a variant: the same graph, another file hash"
    variant = tmp_path / "variant.onnx"
    onnx.save(proto, str(variant))
    assert adapters.model_sha256(variant) != adapters.model_sha256(MODEL)
    vm = get_backend("onnxruntime").load(variant)
    assert isinstance(adapter.with_source_adapter(vm, MODEL), adapter.AdaptedModel)
    assert adapter.with_source_adapter(vm, None) is vm
    cand = (Candidate("onnxruntime", "CPU", "fp32"),)
    assert isinstance(runtime.load(runtime.Choice(SPEC, cand, variant, "profile", (), None, MODEL)).model, adapter.AdaptedModel)
    assert not isinstance(runtime.load(runtime.Choice(SPEC, cand, variant, "profile")).model, adapter.AdaptedModel)
