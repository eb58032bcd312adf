"""The `muse` CLI as a user runs it: a subprocess, real output, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def muse(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nomad_muse", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_info_json():
    r = muse("info", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"onnxruntime", "openvino"} <= set(d["probe"]["runtime_versions"])
    assert len(d["probe"]["fingerprint"]) == 16
    assert set(d["modules"]) == {"generator", "classifier"}
    assert d["modules"]["generator"]["choice"] == d["modules"]["generator"]["candidates"][0]
    assert os.path.isdir(d["paths"]["models"]) and os.path.isdir(d["paths"]["profiles"])


def test_info_table():
    r = muse("info")
    assert r.returncode == 0, r.stderr
    for text in ("fingerprint", "onnxruntime", "openvino", "generator", "classifier"):
        assert text in r.stdout


def test_env_override_shows_in_info():
    r = muse("info", "--json", env={"MUSE_CLASSIFIER_BACKEND": "onnxruntime/CPU/fp32"})
    assert json.loads(r.stdout)["modules"]["classifier"]["choice"] == "onnxruntime/CPU/fp32"


def test_user_error_is_one_line_without_traceback():
    r = muse("info", env={"MUSE_BACKEND": "openvino/CPU/fp64"})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "precision='fp64' must be one of fp32, fp16, bf16, int8" in lines[0]


def test_usage_error_exit_code():
    r = muse("bench", "floor", "--calls", "5")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_version():
    r = muse("--version")
    assert r.returncode == 0 and r.stdout.strip() == "0.1.0"


def test_runtime_never_imports_torch():
    """Every runtime module (all `muse` commands' code; training and the bench's torch seam excepted) imports without torch."""
    code = (
        "import sys, pkgutil, importlib, nomad_muse\n"
        "skip = ('nomad_muse.training', 'nomad_muse.hwbench.torch_baseline', 'nomad_muse.__main__')\n"
        "names = [m.name for m in pkgutil.walk_packages(nomad_muse.__path__, 'nomad_muse.') if not m.name.startswith(skip)]\n"
        "for sub in ('backends', 'calibration', 'hwbench'):\n"
        "    p = importlib.import_module('nomad_muse.' + sub)\n"
        "    names += [m.name for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.') if not m.name.startswith(skip)]\n"
        "for n in names: importlib.import_module(n)\n"
        "import nomad_muse.probe; nomad_muse.probe.probe()\n"
        "assert 'nomad_muse.app.cli' in sys.modules and len(names) > 60, names\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'music21') or m.startswith('nomad_muse.training')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


def test_bench_commands_report_rows_for_both_runtimes():
    """Behaviour only (speed lives in the benchmark output, not in assertions)."""
    r = muse("bench", "floor", "--calls", "100", "--rounds", "1", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {x["runtime"] for x in rows} == {"onnxruntime", "openvino"}
    assert min(x["ratio_to_fastest"] for x in rows if not x["method"].startswith("muse")) == 1.0
    r = muse("bench", "generator", "--steps", "100", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["candidate"] for x in rows] == ["onnxruntime/CPU/fp32", "openvino/CPU/fp32", "openvino/CPU/bf16"]
    for x in rows:
        if "error" not in x:
            assert 0 < x["p50_us"] <= x["p95_us"] <= x["p99_us"] <= x["max_us"]


def test_every_command_help_renders():
    """Each command's --help renders (rich markup in a help string once broke `muse generate --help`)."""
    import typer.main
    from typer.testing import CliRunner

    from nomad_muse.app.cli import app

    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, path + [name])

    runner = CliRunner()
    paths = list(walk(root, []))
    assert len(paths) > 15
    for p in paths:
        r = runner.invoke(app, [*p, "--help"])
        assert r.exit_code == 0, (p, r.output, r.exception)


def test_help_shows_flags_as_flags():
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "classify", "--help"], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "COLUMNS": "100"})
    assert r.returncode == 0
    line = next(x for x in r.stdout.splitlines() if "--timeline" in x)
    assert "<bool>" not in line and "<bool>" not in r.stdout
    assert "<float>" in next(x for x in r.stdout.splitlines() if "--hop-ms" in x)  # options with values keep their type


def test_classify_timeline_has_a_header():
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "classify", "--example", "drums", "--timeline"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = next(k for k, x in enumerate(lines) if x.startswith("per-window timeline ("))
    assert lines[i + 1].split()[:3] == ["time", "s", "family"]
