"""Which runtimes import here, what devices each sees, and loading with fallback.

Runtimes are imported lazily through :mod:`importlib` the first time they are
asked for, so ``import backends`` costs nothing and a broken runtime only
matters to the model that needs it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nomad_muse.backends.base import Backend, Candidate, CompiledModel, first_line
from nomad_muse.errors import BackendError

log = logging.getLogger(__name__)

#: runtime name -> module implementing ``create() -> Backend``; order is the default preference
RUNTIMES: dict[str, str] = {
    "onnxruntime": "nomad_muse.backends.onnxruntime_backend",
    "openvino": "nomad_muse.backends.openvino_backend",
}

_PIP_NAMES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
_cache: dict[str, Backend] = {}


@dataclass(frozen=True)
class RuntimeStatus:
    """One row of the registry: does the runtime import, which version, which devices."""

    name: str
    available: bool
    version: str = ""
    devices: tuple[str, ...] = ()
    error: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "available": self.available, "version": self.version, "devices": list(self.devices), "error": self.error}


def get_backend(name: str) -> Backend:
    """The backend for runtime ``name``; BackendError if unknown or it fails to import."""
    if name in _cache:
        return _cache[name]
    if name not in RUNTIMES:
        raise BackendError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
    try:
        module = importlib.import_module(RUNTIMES[name])
        backend = module.create()
    except ImportError as e:
        raise BackendError(f"runtime {name} is not importable here ({first_line(e)}); install it with `pip install {_PIP_NAMES[name]}`") from e
    except Exception as e:  # a runtime whose native library fails to initialise
        raise BackendError(f"runtime {name} failed to initialise: {first_line(e)}") from e
    _cache[name] = backend
    return backend


def runtimes() -> list[RuntimeStatus]:
    """Every known runtime with its import status and visible devices."""
    rows = []
    for name in RUNTIMES:
        try:
            b = get_backend(name)
            rows.append(RuntimeStatus(name, True, b.version(), tuple(b.devices())))
        except BackendError as e:
            rows.append(RuntimeStatus(name, False, error=str(e)))
    return rows


@dataclass
class LoadResult:
    """A compiled model plus how it was obtained (which candidate, which fell through)."""

    model: CompiledModel
    candidate: Candidate
    fallbacks: tuple[str, ...]


def load_first(
    candidates: Sequence[Candidate],
    path: Path | str | Callable[[Candidate], Path] | Mapping[Candidate, Path],
    *,
    threads: int = 1,
    state: Mapping[str, str] | None = None,
    cache_dir: Path | str | None = None,
) -> LoadResult:
    """Load with the first candidate that works; fall back down the list and say so.

    ``path`` is one model file for all candidates, a mapping, or a function
    giving the file for a candidate (an INT8 variant differs from FP32).
    Each failure is logged as a warning and recorded in ``fallbacks``; if all
    fail, one BackendError lists every attempt and the runtimes installed.
    """
    if not candidates:
        raise BackendError("no backend candidates to try; run `muse info` to see the runtimes available here")
    if isinstance(path, (str, Path)) and not Path(path).is_file():
        # one file for every candidate: no runtime can help, say it once
        raise BackendError(f"model file not found: {path} (check the path, or reinstall the package to restore shipped models)")
    failures: list[str] = []
    for cand in candidates:
        if callable(path):
            p = path(cand)
        elif isinstance(path, Mapping):
            p = path.get(cand)
            if p is None:
                failures.append(f"{cand}: no model file for this candidate")
                continue
        else:
            p = path
        try:
            model = get_backend(cand.runtime).load(
                p, device=cand.device, precision=cand.precision, threads=threads, state=state, cache_dir=cache_dir
            )
        except BackendError as e:
            failures.append(f"{cand}: {e}")
            log.warning("backend %s failed (%s); trying the next candidate", cand, e)
            continue
        return LoadResult(model, cand, tuple(failures))
    installed = ", ".join(r.name + " " + r.version for r in runtimes() if r.available) or "none"
    raise BackendError("no backend could load the model — " + " | ".join(failures) + f" (runtimes installed: {installed})")
