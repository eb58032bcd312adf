"""Local-first means local-only: the main commands open no socket but AF_UNIX and write nothing
outside MUSE_HOME and the outputs asked for (issue: OpenVINO/NNCF/ONNX Runtime telemetry)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

AUDIT = Path(__file__).parent / "data" / "audit"
# OpenVINO's telemetry stays silent when it believes it runs in CI (CI=true, TF_BUILD, JENKINS_URL):
# these tests run the commands as on a musician's machine, where none of those is set.
CI_MARKERS = ("CI", "TF_BUILD", "JENKINS_URL")


def _user_env(drop_prefixes: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes) and k not in CI_MARKERS}


def _run(args, *, home: Path, muse_home: Path, log: Path, cwd: Path, extra_env=None):
    env = _user_env(("MUSE_", "ORT_", "XDG_"))
    env.update({"HOME": str(home), "MUSE_HOME": str(muse_home), "MUSE_AUDIT_LOG": str(log),
                "PYTHONPATH": os.pathsep.join([str(AUDIT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "nomad_muse", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _events(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


COMMANDS = [
    ("info",),
    ("generate", "--bundled", "tonal", "--bars", "2", "--seed", "1", "-o", "{out}/c.mid"),
    ("classify", "--example", "piano"),
    ("analyze", "--example", "--report", "{out}/a.html"),
    ("demo", "--out", "{out}/demo"),
    ("profile", "show"),
]


@pytest.mark.slow
def test_main_commands_stay_local(tmp_path):
    home, muse_home, out, cwd = (tmp_path / d for d in ("home", "muse-home", "out", "cwd"))
    for d in (home, out, cwd):
        d.mkdir()
    log = tmp_path / "audit.log"
    for cmd in COMMANDS:
        r = _run([a.format(out=out) for a in cmd], home=home, muse_home=muse_home, log=log, cwd=cwd)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    events = _events(log)
    assert any(e.startswith("write ") for e in events), "the audit hook did not run"
    sockets = [e for e in events if e.startswith("socket ") and int(e.split()[1]) != socket.AF_UNIX]
    lookups = [e for e in events if e.startswith(("getaddrinfo", "connect", "sendto"))
               and not e.split(" ", 1)[1].startswith(("'/", "b'/", "'\\x00", "b'\\x00"))]
    assert not sockets and not lookups, sockets + lookups
    assert _files(home) == set(), sorted(_files(home))  # nothing in the user's home: no ~/intel, no ~/.cache
    assert _files(cwd) == set(), sorted(_files(cwd))
    allowed = (str(muse_home), str(out), str(tmp_path / "audit.log"), "/tmp", "/dev/", "/proc/")
    stray = sorted({e[6:] for e in events if e.startswith("write ")
                    and not os.path.abspath(e[6:]).startswith(allowed)})
    assert not stray, stray


def test_the_audit_sees_the_telemetry_it_guards_against(tmp_path):
    """The test above can fail: with the opt-out lifted, importing OpenVINO writes into HOME."""
    home, log = tmp_path / "home", tmp_path / "audit.log"
    home.mkdir()
    env = _user_env(("MUSE_", "ORT_"))
    env.update({"HOME": str(home), "MUSE_AUDIT_LOG": str(log), "MUSE_ALLOW_TELEMETRY": "1",
                "PYTHONPATH": str(AUDIT)})
    code = "import nomad_muse, onnxruntime, openvino, onnxruntime as o; o.InferenceSession(%r)" % str(
        Path(__file__).resolve().parent.parent / "hwbench" / "floor_relu_128.onnx")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _files(home), "expected the libraries' own telemetry files without the opt-out"
