"""`pip install .` gives a real wheel whose `muse` finds its shipped models and profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("nomad_muse_edge-*.whl")
    return whl


def test_wheel_carries_packages_models_and_profiles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "nomad_muse/app/cli.py",
        "nomad_muse/backends/onnxruntime_backend.py",
        "nomad_muse/backends/openvino_backend.py",
        "nomad_muse/models/__init__.py",
        "nomad_muse/profiles/__init__.py",
        "nomad_muse/hwbench/floor_relu_128.onnx",
        "nomad_muse/examples/example_mix.flac",
        "nomad_muse/ui/server.py",  # the live view (muse live --ui): its page and script ship in the wheel
        "nomad_muse/report/templates/live.html",
        "nomad_muse/report/live.js",
        "nomad_muse/models/prompts/tonal_c_major.mid",
        "nomad_muse/models/prompts/drums_rock.mid",
    ):
        assert required in names, required
    shipped = [n for n in names if n.startswith(("nomad_muse/models/", "nomad_muse/profiles/")) and not n.endswith(".py")]
    for path in (ROOT / "models").glob("*"):
        if path.suffix in (".onnx", ".json", ".xml", ".bin", ".gz"):
            assert f"nomad_muse/models/{path.name}" in shipped
    for path in (ROOT / "profiles").rglob("*.toml"):
        assert f"nomad_muse/profiles/{path.relative_to(ROOT / 'profiles').as_posix()}" in shipped
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "muse = nomad_muse.app.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()


def test_wheel_has_exactly_one_top_level_import_package(wheel):
    """Everything installs under `nomad_muse`: no `models`, `backends`, … in site-packages."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith((".dist-info", ".data"))}
    assert tops == {"nomad_muse"}, sorted(tops)
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    if top_level:
        assert zipfile.ZipFile(wheel).read(top_level[0]).decode().split() == ["nomad_muse"]


def test_installed_wheel_runs_from_anywhere(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run(
        [sys.executable, "-m", "nomad_muse", "info", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert Path(d["paths"]["models"]).resolve() == (target / "nomad_muse" / "models").resolve()
    assert Path(d["paths"]["profiles"]).resolve() == (target / "nomad_muse" / "profiles").resolve()
    script = target / "bin" / "muse"
    assert script.is_file()
    r = subprocess.run([str(script), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "0.1.0", r.stderr
