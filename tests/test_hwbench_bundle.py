"""`muse bundle`: a rig bundle made here installs offline into a fresh venv and runs; profiles travel with their variants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from nomad_muse.errors import ParameterError
from nomad_muse.machine_profile import MachineProfile, ModuleChoice, TunedConfig, read_profile, sha256_file
from nomad_muse.hwbench.bundle import apply_bundle, make_bundle
from nomad_muse.hwbench.wheelhouse import canonical, dependency_closure

ROOT = Path(__file__).parents[1]


def test_dependency_closure_covers_the_runtime():
    names = {canonical(d.metadata["Name"]) for d in dependency_closure()}
    assert {"nomad-muse-edge", "numpy", "onnxruntime", "openvino", "mido", "soundfile", "pyfftw"} <= names
    assert "torch" not in names and "pytest" not in names  # extras stay out
    assert "openvino-telemetry" not in names  # the rig gets no telemetry sender


def test_bundle_refuses_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="tar.gz"):
        make_bundle(tmp_path / "rig.zip")
    with pytest.raises(ParameterError, match="--wheels index"):
        make_bundle(tmp_path / "rig.tar.gz", target_python="3.9")
    with pytest.raises(ParameterError, match="does not exist"):
        make_bundle(tmp_path / "nope" / "rig.tar.gz")


def test_apply_relocates_variant_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "rig-home"))
    b = tmp_path / "muse-rig" / "data"
    (b / "models").mkdir(parents=True)
    (b / "models" / "classifier_int8.onnx").write_bytes(b"int8 model")
    choice = ModuleChoice("classifier", "onnxruntime", "CPU", "int8", "@DATA@/models/classifier_int8.onnx",
                          sha256_file(b / "models" / "classifier_int8.onnx"))
    prof = MachineProfile("fp-of-the-calibrated-machine", "2026-11-24", {"classifier": choice}, TunedConfig(block_size=512))
    (b / "profile.json").write_text(json.dumps(prof.to_dict()))
    msgs = apply_bundle(tmp_path / "muse-rig")
    got = read_profile(tmp_path / "rig-home" / "data" / "profile.json")
    path = got.modules["classifier"].model_path()
    assert path == tmp_path / "rig-home" / "data" / "models" / "classifier_int8.onnx" and path.read_bytes() == b"int8 model"
    assert any("differs from the calibrated machine" in m for m in msgs)


@pytest.mark.slow
def test_bundle_installs_offline_in_a_fresh_venv_and_runs(tmp_path):
    env = dict(os.environ, MUSE_HOME=str(tmp_path / "home"))
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "bundle", "-o", str(tmp_path / "rig.tar.gz")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    with tarfile.open(tmp_path / "rig.tar.gz") as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    rig = tmp_path / "unpacked" / "muse-rig"
    man = json.loads((rig / "manifest.json").read_text())
    assert any(w.startswith("nomad_muse_edge-") for w in man["wheels"]) and any(w.startswith("onnxruntime-") for w in man["wheels"])
    assert not any(w.startswith("openvino_telemetry") for w in man["wheels"])
    assert "@PREFIX@/bin/muse serve" in (rig / "muse-serve.service.in").read_text()
    rig_env = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    rig_env.update(MUSE_HOME=str(tmp_path / "rig-home"), MUSE_PREFIX=str(tmp_path / "rig venv & co | test"), MUSE_SKIP_CERTIFY="1",
                   PYTHON=getattr(sys, "_base_executable", sys.executable), PIP_NO_INDEX="1")
    r = subprocess.run(["sh", str(rig / "install.sh")], capture_output=True, text=True, env=rig_env, cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "installation: OK" in r.stdout
    venv = tmp_path / "rig venv & co | test"  # spaces, & and | in the install path
    muse = venv / "bin" / "muse"
    unit = (rig / "muse-serve.service").read_text()
    assert f'ExecStart="{muse}" serve' in unit and "systemd *user* unit" in unit
    out = tmp_path / "rig-out"
    r = subprocess.run([str(muse), "demo", "--out", str(out)], capture_output=True, text=True, env=rig_env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p.name for p in out.iterdir()} >= {"continuation.mid", "render.wav", "report.html"}
    # the installed package is the venv's, not this checkout's
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import nomad_muse; print(nomad_muse.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert str(venv) in where.stdout


def test_unit_words_are_quoted_for_systemd(tmp_path):
    """systemd.service command-line quoting: one literal word whatever the path holds."""
    from nomad_muse.hwbench.bundle import SERVICE, systemd_quote, write_unit

    assert systemd_quote("/opt/muse/bin/muse") == '"/opt/muse/bin/muse"'
    assert systemd_quote('/a b/&|"q\\%h$HOME') == '"/a b/&|\\"q\\\\%%h$$HOME"'
    with pytest.raises(ParameterError, match="newline"):
        systemd_quote("/a\nExecStartPre=/bin/rm")
    t = tmp_path / "unit.in"
    t.write_text(SERVICE)
    out = write_unit(t, tmp_path / "pre fix&|x", tmp_path / "unit")
    line = next(x for x in out.read_text().splitlines() if x.startswith("ExecStart="))
    assert line.startswith(f'ExecStart="{tmp_path / "pre fix&|x" / "bin" / "muse"}" serve ')


def test_install_script_reports_install_and_certification_separately():
    from nomad_muse.hwbench.bundle import INSTALL_SH

    tail = INSTALL_SH.split('echo "installation: OK', 1)[1]
    assert "exec " not in tail and tail.rstrip().endswith("exit 0")
    assert "certification: FAIL — the rig is installed" in tail


def test_bundle_carries_no_hostname_or_build_machine_path(tmp_path, monkeypatch):
    """Only what the product wrote, with data-dir paths as @DATA@ (issue 15): the wheel repack is
    covered by the offline-install test above, so here the wheelhouse is left empty."""
    import platform
    import socket

    from nomad_muse.hwbench import bundle, wheelhouse
    from nomad_muse.machine_profile import MachineProfile, ModuleChoice, TunedConfig, default_profile_path
    from nomad_muse.paths import data_dir
    from nomad_muse.probe import probe

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "build-home"))
    monkeypatch.setattr(wheelhouse, "wheelhouse_from_env", lambda wh, progress=None: wh.mkdir(parents=True, exist_ok=True))
    var = data_dir() / "models" / "classifier.int8.onnx"
    var.parent.mkdir(parents=True)
    var.write_bytes(b"variant")
    (data_dir() / "fftw_wisdom.double").write_text("(fftw-3.3.10 fftw_wisdom)")
    choice = ModuleChoice("classifier", "onnxruntime", "CPU", "int8", str(var), "0" * 64,
                          source_model="classifier.onnx", source_sha256="1" * 64)
    MachineProfile(probe().fingerprint, "2026-01-01", {"classifier": choice}, TunedConfig(),
                   fftw_wisdom=str(data_dir())).save(default_profile_path())
    bundle.make_bundle(tmp_path / "rig.tar.gz")
    with tarfile.open(tmp_path / "rig.tar.gz") as tf:
        texts = {m.name: tf.extractfile(m).read().decode("utf-8", "replace") for m in tf.getmembers() if m.isfile()}
    import re

    # a whole-word match, and only for names unlikely to be ordinary words in the files
    hosts = {h for h in (platform.node(), socket.gethostname()) if len(h) >= 5 and h not in ("localhost",)}
    for name, text in texts.items():
        assert str(tmp_path) not in text, f"{name} carries a build-machine path"
        for h in hosts:
            assert not re.search(rf"\b{re.escape(h)}\b", text), f"{name} carries the hostname {h}"
    prof = json.loads(texts["muse-rig/data/profile.json"])
    assert prof["modules"]["classifier"]["model"] == "@DATA@/models/classifier.int8.onnx"
    assert prof["fftw_wisdom"] == "@DATA@"


def test_bundle_refuses_a_profile_naming_files_outside_the_data_dir(tmp_path, monkeypatch):
    from nomad_muse.hwbench import bundle
    from nomad_muse.machine_profile import ProfileError

    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "build-home"))
    secret = tmp_path / "id_rsa"
    secret.write_text("key")
    choice = ModuleChoice("classifier", "onnxruntime", "CPU", "fp32", "classifier.onnx", "0" * 64)
    p = MachineProfile("fp", "2026-01-01", {"classifier": choice}, TunedConfig(), fftw_wisdom=str(secret)).save(tmp_path / "p.json")
    with pytest.raises(ProfileError, match="fftw_wisdom"):
        bundle.make_bundle(tmp_path / "rig.tar.gz", profile=p)
    assert not (tmp_path / "rig.tar.gz").exists()
