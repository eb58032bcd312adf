"""`muse calibrate --quick` end to end on this machine, once per module, and what uses its profile.

Real NNCF, real ORT/OpenVINO sessions, real measurements; timings are never
asserted (they go to the output), behaviour is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nomad_muse.backends.base import Candidate
from nomad_muse.backends.registry import get_backend, load_first
from nomad_muse.calibration import data, gate
from nomad_muse.calibration.select import choose
from nomad_muse.machine_profile import TunedConfig, ProfileError, RunStore, read_profile, resolve
from nomad_muse.paths import models_dir
from nomad_muse.probe import probe

STATE = {"h": "h_out"}


def muse(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, MUSE_HOME=str(home))
    for k in ("MUSE_BACKEND", "MUSE_GENERATOR_BACKEND", "MUSE_CLASSIFIER_BACKEND"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """One `muse calibrate --quick --json` run into a fresh MUSE_HOME, shared by the tests below."""
    home = tmp_path_factory.mktemp("calibrated-home")
    r = muse(home, "calibrate", "--quick", "--json", timeout=600)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    if r.returncode == 1:  # a loaded CI box may miss deadlines everywhere: then it must say so
        assert "does not meet the budget" in r.stderr
    out = json.loads(r.stdout)
    return {"home": home, "out": out, "rc": r.returncode, "profile": Path(out["profile_path"])}


def shipped_modules() -> list[str]:
    return [m for m in ("classifier", "generator") if (models_dir() / f"{m}.onnx").is_file()]


def test_quick_calibration_writes_a_profile_the_runtime_uses(calibrated, monkeypatch):
    monkeypatch.setenv("MUSE_HOME", str(calibrated["home"]))
    prof_path = calibrated["profile"]
    assert prof_path == calibrated["home"] / "data" / "profile.json" and prof_path.is_file()
    prof = read_profile(prof_path)
    active = resolve()  # automatic: the data dir's profile, checked against this machine
    assert active.source == str(prof_path) and active.profile == prof and active.tuned == prof.tuned
    assert set(prof.modules) == set(shipped_modules()) and prof.modules
    # only what was proven is recorded as such: a failed tune keeps defaults and says so
    assert bool(prof.unproven) == (not prof.measurements["tune"]["ok"])
    if prof.unproven:
        assert prof.tuned == TunedConfig() and prof.unproven["tuned"].startswith("kept defaults because ")
        assert any(n.startswith("unproven: tuned sizes") for n in active.notes)
    for m, choice in prof.modules.items():
        cands, path = active.backend_for(m)
        assert cands[0] == choice.candidate and path.is_file()
        res = load_first(cands, path, state=STATE if m == "generator" else None)
        assert res.candidate == choice.candidate and not res.fallbacks
        feed = {"token": np.array([[1]], np.int64)} if m == "generator" else {"mel": np.zeros((1, 1, 128, 8), np.float32)}
        assert np.all(np.isfinite(next(iter(res.model.run(feed).values()))))
        row = next(r for r in prof.measurements["modules"][m]["rows"] if r["candidate"] == str(choice.candidate))
        assert row["gate"]["passed"] and row["latency"]["p99_ms"] == pytest.approx(choice.p99_ms)
    tune = prof.measurements["tune"]
    if calibrated["rc"] == 0:
        last = tune["attempts"][-1]
        assert tune["ok"] and last["replay"]["misses"] == 0 and last["replay"]["blocks"] == 2000
        assert last["config"] == tune["config"] and prof.tuned.block_size == tune["config"]["block_size"]
        assert any(r["part"] == "replay" and r["chosen"] for r in tune["table"])
    with RunStore() as store:
        runs = store.list("calibrate")
    assert len(runs) == 1 and runs[0]["fingerprint"] == probe().fingerprint


def test_int8_speedup_per_module_and_backend_is_reported(calibrated):
    mods = calibrated["out"]["measurements"]["modules"]
    for m in shipped_modules():
        sp = {r["candidate"]: r for r in mods[m]["int8_speedup"]}
        for rt in ("onnxruntime", "openvino"):
            r = sp[f"{rt}/CPU/int8"]
            assert r["vs"] == f"{rt}/CPU/fp32" and r["median_speedup"] > 0 and r["p99_speedup"] > 0
    gen_notes = " ".join(calibrated["out"]["measurements"]["notes"])
    assert "weight-only INT8" in gen_notes and "GRUSequence" in gen_notes


def test_fftw_wisdom_is_planned_and_stored(calibrated):
    fftw = calibrated["out"]["measurements"]["fftw"]
    assert fftw["flag"] == "FFTW_MEASURE" and 8192 in fftw["sizes"]
    d = Path(calibrated["out"]["fftw_wisdom"])
    assert d == calibrated["home"] / "data"
    from nomad_muse.machine_profile import sha256_file

    for name, digest in fftw["files"].items():
        assert sha256_file(d / name) == digest and (d / name).stat().st_size > 0


def test_shipped_calibration_and_validation_sets_are_disjoint():
    c = data.classifier_sets()
    calib = {x.tobytes() for x in c.calib_x}
    assert len(c.calib_x) >= 300 and len(c.val_x) >= 500
    assert not any(x.tobytes() in calib for x in c.val_x)
    g = data.generator_sets()
    assert not {s.tobytes() for s in g.calib} & {s.tobytes() for s in g.val}
    card = data.card()
    assert card["classifier"]["calib"]["split"] == "train" and card["classifier"]["val"]["split"] == "validation"
    assert "timgm6mb" not in card["classifier"]["source"].replace("timgm6mb (held-out", "")


def test_int8_variants_that_passed_really_pass_on_validation_data(calibrated):
    """Re-run every INT8 variant the calibration accepted, independently, on the validation split."""
    prof = read_profile(calibrated["profile"])
    checked = 0
    for m in shipped_modules():
        src = models_dir() / f"{m}.onnx"
        state = STATE if m == "generator" else None
        ref_model = get_backend("onnxruntime").load(src, state=state)
        for row in prof.measurements["modules"][m]["rows"]:
            if not row["candidate"].endswith("/int8") or not row.get("gate", {}).get("passed"):
                continue
            c = Candidate.parse(row["candidate"])
            model = get_backend(c.runtime).load(row["path"], device=c.device, precision="int8", state=state)
            if m == "classifier":
                s = data.classifier_sets()
                v = gate.classifier_gate(gate.classifier_logits(ref_model, s.val_x), gate.classifier_logits(model, s.val_x), s.val_y)
                assert v.metrics["drop_pts"] == pytest.approx(row["gate"]["drop_pts"], abs=0.2)
            else:
                s = data.generator_sets()
                ref, tg = gate.generator_logits(ref_model, s.val)
                out, _ = gate.generator_logits(model, s.val)
                v = gate.generator_gate(ref, out, tg)
                assert v.metrics["top1_agreement"] == pytest.approx(row["gate"]["top1_agreement"], abs=0.003)
            assert v.passed, (row["candidate"], v.reason)
            checked += 1
    assert checked >= 2  # at least both runtimes' generator variants


def test_a_deliberately_broken_variant_is_rejected(tmp_path):
    """INT4 weights on every layer of the generator (too aggressive) must fail the gate and never be chosen."""
    import contextlib
    import io

    import nncf
    import openvino as ov

    from nomad_muse.backends.openvino_backend import _core

    src = models_dir() / "generator.onnx"
    with contextlib.redirect_stdout(io.StringIO()):
        q = nncf.compress_weights(_core().read_model(str(src)), mode=nncf.CompressWeightsMode.INT4_SYM, group_size=-1,
                                  ratio=1.0, all_layers=True, backup_mode=nncf.BackupMode.NONE)
    broken = tmp_path / "generator.int4.xml"
    ov.save_model(q, str(broken), compress_to_fp16=False)
    s = data.generator_sets()
    ref, tg = gate.generator_logits(get_backend("onnxruntime").load(src, state=STATE), s.val)
    out, _ = gate.generator_logits(get_backend("openvino").load(broken, precision="int8", state=STATE), s.val)
    v = gate.generator_gate(ref, out, tg)
    assert not v.passed and "top-1 agreement" in v.reason
    rows = [
        {"candidate": "onnxruntime/CPU/fp32", "gate": {"passed": True}, "latency": {"median_ms": 0.03, "p99_ms": 0.06}},
        {"candidate": "openvino/CPU/int8", "gate": {"passed": v.passed, "reason": v.reason}, "latency": {"median_ms": 0.01, "p99_ms": 0.02}},
    ]
    sel = choose("generator", probe(), rows)
    assert sel.chosen["candidate"] == "onnxruntime/CPU/fp32"
    assert dict(sel.rejected)["openvino/CPU/int8"].startswith("rejected by the accuracy gate: top-1 agreement")


def test_profile_show_explains_the_choices(calibrated):
    r = muse(calibrated["home"], "profile", "show")
    assert r.returncode == 0, r.stderr
    prof = read_profile(calibrated["profile"])
    for m, c in prof.modules.items():
        assert str(c.candidate) in r.stdout
    assert "fastest p99" in r.stdout and "tuned sizes" in r.stdout and "auto-tuner" in r.stdout and "FFTW wisdom" in r.stdout
    j = json.loads(muse(calibrated["home"], "profile", "show", "--json").stdout)
    assert j["source"] == str(calibrated["profile"]) and j["tuned"] == prof.tuned.__dict__


def _copy_home(calibrated, tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(calibrated["home"], home)
    return home


def test_corrupt_profile_falls_back_to_defaults_and_an_explicit_one_is_refused(calibrated, tmp_path, monkeypatch):
    home = _copy_home(calibrated, tmp_path)
    p = home / "data" / "profile.json"
    p.write_text('{"version": 1, "fingerprint": ')
    monkeypatch.setenv("MUSE_HOME", str(home))
    active = resolve()
    assert active.source == "defaults" and active.profile is None and "corrupt" in active.notes[0]
    r = muse(home, "profile", "show")
    assert r.returncode == 0 and "no machine profile in use" in r.stdout and "corrupt" in r.stdout
    r = muse(home, "profile", "show", "--profile", str(p))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "muse calibrate" in r.stderr
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1


def test_foreign_profile_is_refused_with_a_hint(calibrated, tmp_path, monkeypatch):
    home = _copy_home(calibrated, tmp_path)
    d = json.loads(calibrated["profile"].read_text())
    d["fingerprint"] = "0123456789abcdef"
    foreign = tmp_path / "other-machine.json"
    foreign.write_text(json.dumps(d))
    r = muse(home, "profile", "import", str(foreign))
    assert r.returncode == 2 and "another machine" in r.stderr and "muse calibrate" in r.stderr
    monkeypatch.setenv("MUSE_HOME", str(home))
    with pytest.raises(ProfileError, match="another machine"):
        resolve(foreign)
    assert resolve().source == str(home / "data" / "profile.json")  # the valid one stays in use


def test_stale_profile_is_refused_when_a_variant_or_its_source_model_changed(calibrated, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSE_HOME", str(calibrated["home"]))
    d = json.loads(calibrated["profile"].read_text())
    m = next(iter(d["modules"]))
    model = Path(d["modules"][m]["model"])
    model = model if model.is_absolute() else models_dir() / model
    copy = tmp_path / model.name
    shutil.copy(model, copy)
    if model.suffix == ".xml":
        shutil.copy(model.with_suffix(".bin"), copy.with_suffix(".bin"))
    d["modules"][m]["model"] = str(copy)
    p = tmp_path / "profile.json"
    p.write_text(json.dumps(d))
    assert resolve(p).profile is not None  # an identical copy of the model is fine
    with open(copy, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ProfileError, match="changed since calibration"):
        resolve(p)
    d2 = json.loads(calibrated["profile"].read_text())
    d2["modules"][m]["source_sha256"] = "0" * 64
    if Path(d2["modules"][m]["model"]).name != d2["modules"][m]["source_model"]:  # an INT8 variant: its source changed
        p.write_text(json.dumps(d2))
        with pytest.raises(ProfileError, match="which changed since calibration"):
            resolve(p)


def test_export_reset_import_round_trip(calibrated, tmp_path, monkeypatch):
    home = _copy_home(calibrated, tmp_path)
    monkeypatch.setenv("MUSE_HOME", str(home))
    out = tmp_path / "backup.json"
    assert muse(home, "profile", "export", str(out)).returncode == 0
    assert read_profile(out) == read_profile(home / "data" / "profile.json")
    r = muse(home, "profile", "reset")
    assert r.returncode == 0 and not (home / "data" / "profile.json").exists() and not (home / "data" / "models").exists()
    assert resolve().source == "defaults"
    # the INT8 files referenced by the backup live in the original home, so the import is valid again
    r = muse(home, "profile", "import", str(out))
    assert r.returncode == 0, r.stderr
    assert resolve().source == str(home / "data" / "profile.json")
    kinds = [x["kind"] for x in RunStore(home / "data" / "history.sqlite").list()]
    assert kinds[:3] == ["profile-import", "profile-reset", "calibrate"]


def test_a_corrupt_history_database_is_reported_and_moved_aside(calibrated, tmp_path):
    home = _copy_home(calibrated, tmp_path)
    db = home / "data" / "history.sqlite"
    db.write_bytes(b"this is not an sqlite database" * 100)
    r = muse(home, "profile", "reset")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "history database" in r.stdout and "moved to" in r.stdout
    assert list((home / "data").glob("history.sqlite.corrupt-*"))
    assert [x["kind"] for x in RunStore(db).list()] == ["profile-reset"]


WISDOM_PROBE = """
import sys, pyfftw
from nomad_muse.analyzer import fft
fft.import_wisdom()
a = pyfftw.empty_aligned((fft.DEFAULT_BATCH, int(sys.argv[1])), dtype="float64")
b = pyfftw.empty_aligned((fft.DEFAULT_BATCH, int(sys.argv[1]) // 2 + 1), dtype="complex128")
try:
    pyfftw.FFTW(a, b, axes=(-1,), flags=("FFTW_MEASURE", "FFTW_WISDOM_ONLY"), threads=1)
except RuntimeError:
    print("no-wisdom")
else:
    print("planned-from-wisdom")
"""


def test_the_analyzer_plans_from_the_stored_wisdom(calibrated, tmp_path):
    """FFTW_WISDOM_ONLY succeeds only when the calibration's wisdom covers the analyzer's plan."""
    def probe_plan(home: Path, n: int) -> str:
        env = dict(os.environ, MUSE_HOME=str(home))
        return subprocess.run([sys.executable, "-c", WISDOM_PROBE, str(n)], capture_output=True, text=True, env=env, timeout=120).stdout.strip()

    assert probe_plan(calibrated["home"], 8192) == "planned-from-wisdom"
    assert probe_plan(tmp_path / "empty-home", 8192) == "no-wisdom"


def test_replay_does_the_work_due_per_block():
    from nomad_muse.calibration.replay import replay
    from nomad_muse.machine_profile import TunedConfig

    cfg = TunedConfig(block_size=1024, classifier_hop_ms=40.0, analyzer_fft_size=4096)
    cls = (models_dir() / "classifier.onnx", Candidate("onnxruntime")) if (models_dir() / "classifier.onnx").is_file() else None
    r = replay(cfg, classifier=cls, generator=(models_dir() / "generator.onnx", Candidate("onnxruntime")),
               tokens_per_beat=10.0, tempo_bpm=120.0, blocks=300)
    seconds = 300 * 1024 / 48000
    assert r.blocks == 300 and r.period_ms == pytest.approx(1000 * 1024 / 48000)
    assert abs(r.generator_steps - 10.0 * 2.0 * seconds) <= 1  # 20 tokens/s, accumulated per block
    if cls is not None:
        assert abs(r.classifier_calls - seconds / 0.040) <= 2  # one classification per 40 ms hop
    assert 0 <= r.misses <= r.blocks and r.median_ms <= r.p99_ms <= r.max_ms and r.wall_s >= 0.9 * seconds  # paced


def test_calibrate_flags_are_checked():
    r = muse(Path("/nonexistent-home-never-written"), "calibrate", "--quick", "--thorough")
    assert r.returncode == 2 and "give --quick or --thorough, not both" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not (models_dir() / "classifier.onnx").is_file(), reason="classifier model not shipped in this checkout")
def test_a_classifier_variant_calibrated_on_the_wrong_scale_is_rejected(tmp_path):
    """PTQ on inputs scaled ×1e-3 (activation ranges that miss the real data): the gate must reject it."""
    from nomad_muse.calibration.quantize import ptq_onnx

    s = data.classifier_sets()
    src = models_dir() / "classifier.onnx"
    broken = ptq_onnx(src, [{"mel": f["mel"] * 1e-3} for f in s.calib_feeds(300)], tmp_path / "classifier.broken.onnx")
    ref = gate.classifier_logits(get_backend("onnxruntime").load(src), s.val_x)
    out = gate.classifier_logits(get_backend("onnxruntime").load(broken, precision="int8"), s.val_x)
    v = gate.classifier_gate(ref, out, s.val_y)
    assert not v.passed and v.metrics["drop_pts"] > 1.0 and "pts > 1" in v.reason
