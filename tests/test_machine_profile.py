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
    from nomad_muse.machine_profile import module_backend
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
