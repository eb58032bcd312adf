"""Check the layer contracts (.importlinter) on the installed layout.

The repository keeps the product layout (edge_runtime/, backends/, …) and
setuptools' package-dir maps it under one import root, ``nomad_muse``.  Grimp,
import-linter's graph builder, walks one directory per root package, so it
cannot see subpackages that live in sibling folders.  This script lays the
sources out as the wheel does (a copy of the ``.py`` files, read from
pyproject's package-dir) in a temporary directory and runs ``lint-imports``
there.  Exit code: import-linter's (0 = contracts kept).

    python scripts/lint_imports.py
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def package_dirs() -> dict[str, Path]:
    """``{"nomad_muse.backends": ROOT/"backends", ...}`` from pyproject.toml."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {name: ROOT / d for name, d in cfg["tool"]["setuptools"]["package-dir"].items()}


def lay_out(dest: Path) -> Path:
    """Copy every mapped package's ``.py`` files to ``dest/<dotted path>``; return ``dest``."""
    for name, src in sorted(package_dirs().items(), key=lambda kv: kv[0].count(".")):
        target = dest.joinpath(*name.split("."))
        for py in src.rglob("*.py"):
            rel = py.relative_to(src)
            if any(part in ("build", "__pycache__") for part in rel.parts):
                continue
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(py, out)
    return dest


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="muse-layers-") as tmp:
        lay_out(Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        exe = Path(sys.executable).with_name("lint-imports")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "importlinter.cli"]
        return subprocess.run([*cmd, str(ROOT / ".importlinter"), "--no-cache"],
                              cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
