"""Seen from outside: a pytest run (module-scoped fixtures that plan FFTs and export FFTW wisdom, the
analyzer's target and suggestion tests) leaves the user's real home and data directory untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_a_test_run_leaves_the_real_user_dirs_untouched(tmp_path):
    home = tmp_path / "real-home"
    (home / ".local" / "share").mkdir(parents=True)
    (home / "music.txt").write_text("the user's own file\n")
    before = _tree(home)
    env = {k: v for k, v in os.environ.items() if k not in ("MUSE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)  # the "real" home of this nested run
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_isolation.py"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert _tree(home) == before
    assert not (home / ".local" / "share" / "nomad-muse-edge").exists()
    assert not (home / ".cache").exists()
