"""Machine profile and run history: defaults, refusal of foreign/stale profiles, corrupt files."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.machine_profile import (
    MachineProfile,
    ModuleChoice,
    ProfileError,
    RunStore,
    TunedConfig,
    model_file_sha256,
    resolve,
    sha256_file,
)

FP = "abc123"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _profile(tmp_path, fingerprint=FP, tuned=None):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model-bytes")
    choice = ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", str(model), sha256_file(model), 0.3, "fastest")
    return MachineProfile(fingerprint, "2026-11-24T00:00:00", {"classifier": choice}, tuned or TunedConfig(block_size=128)), model


def test_no_profile_gives_defaults_and_says_so(home):
    a = resolve(fingerprint=FP)
    assert a.source == "defaults" and a.tuned == TunedConfig()
    assert "muse calibrate" in a.notes[0]
    assert a.backend_for("classifier") == (None, None)


def test_valid_profile_is_used_automatically(home, tmp_path):
    prof, model = _profile(tmp_path)
    prof.save(home / "data" / "profile.json")
    a = resolve(fingerprint=FP)
    assert a.tuned.block_size == 128
    cands, path = a.backend_for("classifier")
    assert str(cands[0]) == "onnxruntime/CPU/fp32" and path == model
    assert [str(c) for c in cands[1:]] == ["openvino/CPU/fp32"]  # the same file's other taker, as fallback


def test_backend_fallbacks_only_name_candidates_that_can_run_the_same_file(home, tmp_path):
    ir = tmp_path / "m.int8.xml"
    ir.write_bytes(b"<net/>")
    qdq = tmp_path / "m.int8.onnx"
    qdq.write_bytes(b"qdq")
    for path, runtime, want in ((ir, "openvino", []), (qdq, "onnxruntime", ["openvino/CPU/int8"])):
        choice = ModuleChoice("classifier", runtime, "CPU", "int8", str(path), model_file_sha256(path), 0.1, "fastest")
        MachineProfile(FP, "2026-11-24T00:00:00", {"classifier": choice}).save(home / "data" / "profile.json")
        cands, p = resolve(fingerprint=FP).backend_for("classifier")
        assert str(cands[0]) == f"{runtime}/CPU/int8" and [str(c) for c in cands[1:]] == want and p == path
    # an IR's hash covers its weights: changing the .bin makes the profile stale
    ir.with_suffix(".bin").write_bytes(b"weights")
    before = model_file_sha256(ir)
    ir.with_suffix(".bin").write_bytes(b"weightz")
    assert model_file_sha256(ir) != before


def test_round_trip(tmp_path):
    prof, _ = _profile(tmp_path)
    assert MachineProfile.from_dict(json.loads(json.dumps(prof.to_dict()))) == prof


def test_foreign_profile_refused_explicitly_and_skipped_automatically(home, tmp_path):
    prof, _ = _profile(tmp_path, fingerprint="other-machine")
    p = prof.save(home / "data" / "profile.json")
    with pytest.raises(ProfileError, match="another machine.*muse calibrate"):
        resolve(p, fingerprint=FP)
    a = resolve(fingerprint=FP)
    assert a.source == "defaults" and "another machine" in a.notes[0]


def test_stale_model_refused(home, tmp_path):
    prof, model = _profile(tmp_path)
    p = prof.save(tmp_path / "p.json")
    model.write_bytes(b"retrained")
    with pytest.raises(ProfileError, match="changed since calibration"):
        resolve(p, fingerprint=FP)
    model.unlink()
    with pytest.raises(ProfileError, match="missing"):
        resolve(p, fingerprint=FP)


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"version": 1}', b'{"version": 99}'])
def test_corrupt_profile_falls_back_to_defaults(home, content):
    p = home / "data" / "profile.json"
    p.parent.mkdir(parents=True)
    p.write_bytes(content)
    a = resolve(fingerprint=FP)
    assert a.source == "defaults" and a.notes and "muse calibrate" in a.notes[0]
    with pytest.raises(ProfileError):
        resolve(p, fingerprint=FP)


def test_tuned_config_validates_and_replaces():
    with pytest.raises(ParameterError, match="block_size=2048"):
        TunedConfig(block_size=2048)
    with pytest.raises(ParameterError, match="analyzer_fft_size=1000"):
        TunedConfig(analyzer_fft_size=1000)
    t = TunedConfig().replace(block_size=512, classifier_hop_ms=None)
    assert t.block_size == 512 and t.classifier_hop_ms == 20.0
    assert t.block_ms == pytest.approx(512 / 48)


def test_run_store_keeps_history(tmp_path):
    with RunStore(tmp_path / "h.sqlite") as s:
        a = s.add("bench", {"x": 1}, summary="first", fingerprint=FP)
        b = s.add("calibrate", {"y": 2}, summary="second")
        assert [r["id"] for r in s.list()] == [b, a]
        assert [r["id"] for r in s.list("bench")] == [a]
        assert s.get(a)["payload"] == {"x": 1}
        with pytest.raises(ParameterError, match="run 999"):
            s.get(999)
    with RunStore(tmp_path / "h.sqlite") as s:
        assert len(s.list()) == 2


def test_corrupt_history_is_moved_aside_not_lost(tmp_path):
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    with RunStore(db) as s:
        assert "moved to" in s.notes[0]
        s.add("bench", {})
        assert len(s.list()) == 1
    kept = list(tmp_path.glob("h.sqlite.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not")
    sqlite3.connect(db).execute("SELECT * FROM runs").fetchall()


def test_one_shot_commands_follow_the_profile_unless_forced(home, tmp_path):
    from nomad_muse.runtime import module_backend
    from nomad_muse.probe import probe

    prof, model = _profile(tmp_path, fingerprint=probe().fingerprint)
    p = prof.save(home / "data" / "profile.json")
    cands, path, notes = module_backend("classifier")
    assert str(cands[0]) == "onnxruntime/CPU/fp32" and path == model and not notes
    cands, path, _ = module_backend("classifier", backend="openvino")
    assert str(cands[0]) == "openvino/CPU/fp32" and path is None  # forced: the shipped model on the policy's order
    assert module_backend("classifier", model=tmp_path / "mine.onnx")[:2] == (None, tmp_path / "mine.onnx")
    assert module_backend("generator")[:2] == (None, None)  # the profile has no generator choice: defaults
    p.unlink()
    assert "muse calibrate" in module_backend("classifier")[2][0]


def test_environment_override_beats_the_profile(home, tmp_path, monkeypatch):
    """MUSE_<MODULE>_BACKEND beats MUSE_BACKEND beats the profile; --backend beats both."""
    from nomad_muse.runtime import module_backend
    from nomad_muse.probe import probe

    prof, model = _profile(tmp_path, fingerprint=probe().fingerprint)
    prof.save(home / "data" / "profile.json")
    monkeypatch.setenv("MUSE_BACKEND", "openvino/CPU/fp32")
    cands, path, _ = module_backend("classifier")
    assert str(cands[0]) == "openvino/CPU/fp32" and path is None  # the shipped model, not the profile's file
    a = resolve()
    assert a.explain("classifier")[2] == "env MUSE_BACKEND"
    monkeypatch.setenv("MUSE_CLASSIFIER_BACKEND", "onnxruntime/CPU/fp32")
    assert str(module_backend("classifier")[0][0]) == "onnxruntime/CPU/fp32"
    assert resolve().explain("classifier")[2] == "env MUSE_CLASSIFIER_BACKEND"
    assert str(module_backend("classifier", backend="openvino")[0][0]) == "openvino/CPU/fp32"  # the flag wins
    monkeypatch.delenv("MUSE_BACKEND")
    monkeypatch.delenv("MUSE_CLASSIFIER_BACKEND")
    assert module_backend("classifier")[1] == model  # back to the profile


def test_an_impossible_override_is_refused_naming_what_the_machine_supports():
    from conftest import load_probe

    from nomad_muse.policy import check_override

    avx2 = load_probe("avx2_minipc")
    with pytest.raises(ParameterError) as e:
        check_override("classifier", avx2, "openvino/CPU/bf16", field="MUSE_BACKEND")
    msg = str(e.value)
    assert msg.startswith("MUSE_BACKEND=openvino/CPU/bf16: not possible") and "supported here: " in msg
    assert "onnxruntime/CPU/fp32" in msg and "bf16" not in msg.split("supported here: ")[1]
    with pytest.raises(ParameterError, match="MUSE_BACKEND=.*GPU.*not possible"):
        check_override("generator", avx2, "openvino/GPU/fp16", field="MUSE_BACKEND")
    with pytest.raises(ParameterError, match="--backend='tensorflow/a/b/c'"):
        check_override("generator", avx2, "tensorflow/a/b/c", field="--backend")
    assert str(check_override("classifier", load_probe("xeon_amx_2core"), "openvino/CPU/bf16")) == "openvino/CPU/bf16"


def test_info_shows_what_the_commands_use(home, tmp_path):
    import os
    import subprocess
    import sys

    from nomad_muse.probe import probe

    prof, model = _profile(tmp_path, fingerprint=probe().fingerprint)
    prof.save(home / "data" / "profile.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_") or k == "MUSE_HOME"}

    def info(**extra):
        return subprocess.run([sys.executable, "-m", "nomad_muse", "info", "--json"], capture_output=True, text=True,
                              env={**env, **extra}, timeout=120)

    d = json.loads(info().stdout)
    assert d["modules"]["classifier"]["choice"] == "onnxruntime/CPU/fp32"
    assert d["modules"]["classifier"]["source"].startswith("profile ") and d["modules"]["classifier"]["model"] == str(model)
    assert d["modules"]["generator"]["source"] == "defaults"
    d = json.loads(info(MUSE_CLASSIFIER_BACKEND="openvino/CPU/fp32").stdout)
    assert d["modules"]["classifier"]["choice"] == "openvino/CPU/fp32"
    assert d["modules"]["classifier"]["source"] == "env MUSE_CLASSIFIER_BACKEND"
    r = info(MUSE_BACKEND="openvino/GPU.7/fp16")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not possible" in r.stderr and "supported here" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_an_unproven_profile_says_so_everywhere(home, tmp_path):
    """calibrate that could not prove a block size keeps defaults and marks them unproven; resolve, show,
    certify and bundle carry the mark."""
    prof, _ = _profile(tmp_path)
    prof = MachineProfile(prof.fingerprint, prof.created, prof.modules, TunedConfig(),
                          unproven={"tuned": "kept defaults because does not meet the budget: block 256 work × 1.5 > period"})
    p = prof.save(home / "data" / "profile.json")
    back = MachineProfile.from_dict(json.loads(p.read_text()))
    assert back.unproven == prof.unproven
    a = resolve(fingerprint=FP)
    assert any(n.startswith("unproven: tuned sizes: kept defaults because does not meet the budget") for n in a.notes)
    old = json.loads(p.read_text())
    del old["unproven"]  # a profile written before the field existed reads as fully proven
    assert MachineProfile.from_dict(old).unproven == {}


def test_certificate_html_shows_profile_notes():
    from nomad_muse.hwbench.certify import certificate_html as render_html

    cert = {"machine": {"cpu": "c", "cores": 2, "ram_gb": 4, "os": "l", "fingerprint": "f"}, "software": {},
            "result": "PASS", "spec": {"name": "s", "version": "1", "path": "p"}, "profile": "x", "date": "d",
            "profile_notes": ["unproven: tuned sizes: kept defaults because …"], "checks": []}
    assert "unproven: tuned sizes" in render_html(cert)
