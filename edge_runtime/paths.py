"""Where things live: shipped models and profiles (inside the installed
package), and the user's data and cache directories (platformdirs).

``MUSE_HOME`` overrides the user directories (tests and portable rigs).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

APP = "nomad-muse-edge"


def sha256_file(*paths: str | Path) -> str:
    """One SHA-256 (hex) over the files' bytes in order, read in 1 MiB chunks (bounded memory)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def models_dir() -> Path:
    """The shipped ``models/`` directory (inside the wheel when installed)."""
    return Path(str(resources.files("nomad_muse.models")))


def profiles_dir() -> Path:
    """The shipped ``profiles/`` directory (genre targets, minimum spec)."""
    return Path(str(resources.files("nomad_muse.profiles")))


def _muse_home() -> Path | None:
    """``MUSE_HOME`` as a Path (None if unset); ParameterError if it names something that is not a folder."""
    home = os.environ.get("MUSE_HOME")
    if not home:
        return None
    h = Path(home)
    if h.exists() and not h.is_dir():
        from nomad_muse.errors import ParameterError

        raise ParameterError(f"MUSE_HOME={home} is a file, not a folder; point MUSE_HOME at a folder "
                             "(it holds the profile, the history and the caches) or unset it")
    return h


def data_dir() -> Path:
    """The user's data directory: machine profile, calibration history, FFTW wisdom."""
    home = _muse_home()
    if home:
        return home / "data"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The user's cache directory (compiled-model cache)."""
    home = _muse_home()
    if home:
        return home / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP, appauthor=False))


def ov_cache_dir() -> Path:
    """OpenVINO compiled-model cache (``CACHE_DIR``)."""
    return cache_dir() / "openvino"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_path(raw: str | Path, default_name: str, *, what: str = "output") -> Path:
    """Where ``-o RAW`` writes: ``RAW`` ending in ``/`` names a folder (created if missing) and the file is
    ``RAW/default_name``; otherwise ``RAW`` itself (a folder without the ``/`` is refused by
    :func:`atomic_output`).  ParameterError if the folder cannot be created."""
    from nomad_muse.errors import ParameterError

    s = os.fspath(raw)
    if s.endswith(("/", os.sep)):
        d = Path(s)
        if d.exists() and not d.is_dir():
            raise ParameterError(f"{what} {s}: exists and is not a directory")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ParameterError(f"{what} {s}: cannot create the directory ({err.strerror or err})") from None
        return d / default_name
    return Path(s)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, what: str = "output"):
    """Yield a temporary path in ``path``'s folder; on success it is renamed onto ``path`` (``os.replace``).

    A crash, kill or full disk while writing leaves an existing ``path``
    intact and no half-written file under its name (the temp file is removed
    on any exception).  A folder given as ``path`` or an unwritable folder
    raises :class:`~nomad_muse.errors.ParameterError` naming the path,
    before anything is written.  An existing device or pipe (``/dev/null``,
    ``/dev/full``, a FIFO) is written in place, never replaced.
    """
    from nomad_muse.errors import ParameterError

    p = Path(path)
    if p.is_dir():
        raise ParameterError(f"{what} {p} is a directory; give a file name")
    if p.exists() and not p.is_file():
        # a device or pipe (-o /dev/null, /dev/full, a FIFO): written straight through, never replaced
        try:
            yield p
        except OSError as err:
            raise ParameterError(f"{what} {p}: cannot write ({err.strerror or err})") from None
        return
    parent = p.parent if str(p.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        # mkstemp makes 0600; the output gets the mode an ordinary open() would give (the old file's, else umask's)
        os.chmod(tmp, (p.stat().st_mode & 0o7777) if p.is_file() else (0o666 & ~_umask()))
    except OSError as err:
        raise ParameterError(f"{what} {p}: cannot write there ({err.strerror or err})") from None
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ParameterError(f"{what} {p}: cannot write ({err.strerror or err})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
