from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import nomad_muse  # noqa: F401,E402  (first: turns the libraries' telemetry off before anything imports them)

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))

from onnx_fixtures import BUILDERS  # noqa: E402


_REAL_DIRS: dict[str, str] = {}


def pytest_configure(config):
    """Before any fixture (session- and module-scoped ones too) runs: the whole session gets a
    throw-away MUSE_HOME and HOME, so no test can write into the user's real data directory
    (``~/.local/share/nomad-muse-edge``: profile, FFTW wisdom, history) or home."""
    import tempfile

    from platformdirs import user_cache_dir, user_data_dir

    _REAL_DIRS.update(data=user_data_dir("nomad-muse-edge"), cache=user_cache_dir("nomad-muse-edge"))
    root = Path(tempfile.mkdtemp(prefix="muse-test-session-"))
    (root / "home").mkdir()
    os.environ["MUSE_HOME"] = str(root / "muse-home")
    os.environ["HOME"] = str(root / "home")
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def real_user_dirs() -> dict[str, str]:
    """The user's real data/cache directories as they were before the session isolated them."""
    return dict(_REAL_DIRS)


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
