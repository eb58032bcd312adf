"""Inference backends: one interface (:mod:`backends.base`), one file per runtime.

``load_first`` tries candidates in order and falls back with a warning;
``runtimes()`` lists which runtimes import here and the devices each sees.
"""

from nomad_muse.backends.base import Backend, BackendInfo, Candidate, CompiledModel, TensorSpec
from nomad_muse.backends.registry import LoadResult, RuntimeStatus, get_backend, load_first, runtimes

__all__ = [
    "Backend",
    "BackendInfo",
    "Candidate",
    "CompiledModel",
    "LoadResult",
    "RuntimeStatus",
    "TensorSpec",
    "get_backend",
    "load_first",
    "runtimes",
]
