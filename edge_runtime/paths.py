"""Where things live: shipped models and profiles (inside the installed
package), and the user's data and cache directories (platformdirs).

``MUSE_HOME`` overrides the user directories (tests and portable rigs).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP = "nomad-muse-edge"


def models_dir() -> Path:
    """The shipped ``models/`` directory (inside the wheel when installed)."""
    return Path(str(resources.files("nomad_muse.models")))


def profiles_dir() -> Path:
    """The shipped ``profiles/`` directory (genre targets, minimum spec)."""
    return Path(str(resources.files("nomad_muse.profiles")))


def data_dir() -> Path:
    """The user's data directory: machine profile, calibration history, FFTW wisdom."""
    home = os.environ.get("MUSE_HOME")
    if home:
        return Path(home) / "data"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The user's cache directory (compiled-model cache)."""
    home = os.environ.get("MUSE_HOME")
    if home:
        return Path(home) / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP, appauthor=False))


def ov_cache_dir() -> Path:
    """OpenVINO compiled-model cache (``CACHE_DIR``)."""
    return cache_dir() / "openvino"
