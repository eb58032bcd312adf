"""The dependency rules of docs/ARCHITECTURE.md, checked by import-linter (.importlinter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import lint_imports  # noqa: E402


def _lint(tree: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), str(ROOT / ".importlinter"), "--no-cache"], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, timeout=300)


def test_layer_contracts_are_kept(tmp_path):
    r = _lint(lint_imports.lay_out(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout


def test_a_violating_import_breaks_the_contracts(tmp_path):
    """The check can fail: a backend that imports the engine, and a module that imports training, are caught."""
    tree = lint_imports.lay_out(tmp_path)
    (tree / "nomad_muse" / "backends" / "_violation.py").write_text("import nomad_muse.engine.core\n")
    (tree / "nomad_muse" / "analyzer" / "_violation.py").write_text("from nomad_muse.training import generator_data\n")
    r = _lint(tree)
    assert r.returncode != 0
    assert "nomad_muse.backends._violation -> nomad_muse.engine.core" in r.stdout
    assert "nomad_muse.analyzer._violation -> nomad_muse.training.generator_data" in r.stdout


def test_lay_out_mirrors_the_wheel_mapping(tmp_path):
    tree = lint_imports.lay_out(tmp_path)
    for name in lint_imports.package_dirs():
        assert (tree.joinpath(*name.split(".")) / "__init__.py").is_file(), name
