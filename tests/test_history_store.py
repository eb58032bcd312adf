"""history.sqlite under contention: wait on a lock, refuse after the timeout, move aside only a corrupt file."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from nomad_muse.machine_profile import HistoryBusyError, RunStore


def _hold_lock(path, seconds):
    con = sqlite3.connect(path)
    con.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    con.rollback()
    con.close()


def test_a_locked_history_is_waited_for_then_written(tmp_path):
    p = tmp_path / "history.sqlite"
    RunStore(p).close()
    t = threading.Thread(target=_hold_lock, args=(p, 0.5))
    t.start()
    time.sleep(0.1)
    with RunStore(p, timeout=10) as s:
        s.add("calibrate", {"x": 1})
        assert [r["kind"] for r in s.list()] == ["calibrate"]
    t.join()
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_lock_held_past_the_timeout_is_refused_and_the_file_kept(tmp_path):
    p = tmp_path / "history.sqlite"
    with RunStore(p) as s:
        s.add("bench", {"x": 1})
    t = threading.Thread(target=_hold_lock, args=(p, 1.5))
    t.start()
    time.sleep(0.1)
    with pytest.raises(HistoryBusyError, match="locked by another process"):
        RunStore(p, timeout=0.2)
    t.join()
    assert not list(tmp_path.glob("*.corrupt-*"))
    with RunStore(p) as s:
        assert len(s.list()) == 1  # nothing lost


def test_only_a_file_failing_the_integrity_check_is_moved_aside(tmp_path):
    p = tmp_path / "history.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with RunStore(p) as s:
        assert s.notes and "moved to" in s.notes[0]
    assert len(list(tmp_path.glob("history.sqlite.corrupt-*"))) == 1


def test_concurrent_writers_all_land(tmp_path):
    p = tmp_path / "history.sqlite"
    RunStore(p).close()

    def writer(i):
        with RunStore(p) as s:
            for j in range(20):
                s.add("bench", {"w": i, "j": j})

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with RunStore(p) as s:
        assert len(s.list(limit=1000)) == 80
        assert s._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_concurrent_profile_saves_leave_one_whole_profile(tmp_path):
    from nomad_muse.machine_profile import MachineProfile, TunedConfig, read_profile

    p = tmp_path / "profile.json"
    profs = [MachineProfile(f"fp{i}", "2026-01-01", {}, TunedConfig(), measurements={"pad": "x" * 200_000}) for i in range(4)]

    def writer(prof):
        for _ in range(10):
            prof.save(p)

    ts = [threading.Thread(target=writer, args=(pr,)) for pr in profs]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert read_profile(p).fingerprint in {f"fp{i}" for i in range(4)}  # parses: never a mix of two writers
    assert not list(tmp_path.glob("*.tmp"))


def test_an_imported_profile_pointing_outside_the_data_dir_is_refused_unless_hash_checked(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nomad_muse.app.cli import app
    from nomad_muse.machine_profile import MachineProfile, ModuleChoice, ProfileError, TunedConfig, adopt_files, default_profile_path
    from nomad_muse.probe import probe

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "home"))
    outside = tmp_path / "elsewhere" / "evil.onnx"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    fp = probe().fingerprint
    ok = ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", "classifier.onnx", "0" * 64)
    for prof, field in (
        (MachineProfile(fp, "2026-01-01", {"classifier": ModuleChoice("classifier", "onnxruntime", "CPU", "int8", str(outside), "0" * 64)}, TunedConfig()), "modules.classifier.model"),
        (MachineProfile(fp, "2026-01-01", {"classifier": ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", "../../../etc/passwd", "0" * 64)}, TunedConfig()), "modules.classifier.model"),
    ):
        f = prof.save(tmp_path / "import.json")
        r = CliRunner().invoke(app, ["profile", "import", str(f)])
        assert isinstance(r.exception, ProfileError), r.output  # main() prints it as one line, exit 2
        assert not default_profile_path().exists()
        with pytest.raises(ProfileError, match=field.replace(".", r"\.")):
            adopt_files(prof)

    # a variant outside whose hash matches the recorded one is copied into the data directory
    from nomad_muse.machine_profile import model_file_sha256, read_profile

    good = ModuleChoice("classifier", "onnxruntime", "CPU", "int8", str(outside), model_file_sha256(outside))
    prof = MachineProfile(fp, "2026-01-01", {"classifier": good}, TunedConfig())
    adopted = adopt_files(prof)
    dest = adopted.modules["classifier"].model_path()
    assert dest.read_bytes() == b"x" and dest.is_relative_to(tmp_path / "home")
    # a wisdom reference elsewhere is dropped, never read
    ok = ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", "classifier.onnx", "0" * 64)
    assert adopt_files(MachineProfile(fp, "2026-01-01", {"classifier": ok}, TunedConfig(), fftw_wisdom=str(outside))).fftw_wisdom is None


def test_a_malformed_field_is_refused_on_read_and_load_falls_back_naming_it(tmp_path, monkeypatch):
    import json as _json

    from nomad_muse.machine_profile import MachineProfile, ModuleChoice, ProfileError, TunedConfig, default_profile_path, read_profile, resolve

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "home"))
    choice = ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", "classifier.onnx", "0" * 64)
    d = MachineProfile("fp", "2026-01-01", {"classifier": choice}, TunedConfig()).to_dict()
    d["modules"]["classifier"]["precision"] = "fp64"
    p = default_profile_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(_json.dumps(d))
    with pytest.raises(ProfileError, match=r"modules\.classifier\.precision='fp64'"):
        read_profile(p)
    a = resolve(fingerprint="fp")
    assert a.source == "defaults" and "modules.classifier.precision" in a.notes[0]
