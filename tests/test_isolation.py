"""Tests never touch the user's real data: the session is isolated before any fixture runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def module_scoped_data_dir() -> Path:
    """A module-scoped fixture runs before the function-scoped MUSE_HOME fixture: it must already be isolated."""
    from nomad_muse.analyzer import fft
    from nomad_muse.paths import data_dir

    fft.get_plan(2048)
    fft.export_wisdom()  # what used to land in ~/.local/share/nomad-muse-edge from module fixtures
    return data_dir()


def _inside(p: Path, root: str) -> bool:
    try:
        Path(p).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def test_module_fixtures_see_an_isolated_data_dir(module_scoped_data_dir, real_user_dirs):
    assert not _inside(module_scoped_data_dir, real_user_dirs["data"])
    assert not _inside(module_scoped_data_dir, os.path.expanduser("~root"))
    assert "muse-test-session-" in str(module_scoped_data_dir)


def test_home_and_muse_home_are_throw_away(real_user_dirs):
    assert "muse-test-session-" in os.environ["HOME"]
    assert not _inside(Path(os.environ["MUSE_HOME"]), real_user_dirs["data"])
