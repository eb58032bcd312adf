from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import nomad_muse  # noqa: F401,E402  (first: turns the libraries' telemetry off before anything imports them)

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))

from onnx_fixtures import BUILDERS  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own user data/cache directory and no backend override."""
    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "muse-home"))
    for var in ("MUSE_BACKEND", "MUSE_GENERATOR_BACKEND", "MUSE_CLASSIFIER_BACKEND"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    """The small real ONNX models of tests/onnx_fixtures.py, built once per session."""
    d = tmp_path_factory.mktemp("onnx")
    return {name: build(d / f"{name}.onnx") for name, build in BUILDERS.items()}


def load_probe(name: str):
    from nomad_muse.probe import ProbeRecord

    return ProbeRecord.from_dict(json.loads((TESTS / "data" / "probes" / f"{name}.json").read_text()))
