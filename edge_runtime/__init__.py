"""Nomad Muse Edge: the runtime side (pipeline, modules at inference time, CLI)."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _local_only() -> None:
    """Turn off the telemetry of every library the runtime imports, before they are imported.

    Local-first means local-only (docs/ARCHITECTURE.md): no socket but AF_UNIX
    and no file outside the data directory. Measured on a fresh HOME (strace
    and audit hooks, tests/test_local_only.py):

    * ONNX Runtime 1.2x+ on Linux starts Microsoft's 1DS telemetry when it is
      loaded and writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``
      (``deviceid``, ``onnxruntime.db``). ``ORT_DISABLE_TELEMETRY=1``, read when
      the library initialises, turns it off.
    * ``import openvino`` imports ``openvino.tools.ovc``, which starts
      ``openvino_telemetry`` (no consent file counts as consent): it writes
      ``~/intel/openvino_ga_cid`` and ``~/intel/stats``; NNCF then forks a
      sender that resolves www.google-analytics.com. Both import it inside
      ``try/except ImportError`` and fall back to a stub, so marking the
      module absent (``sys.modules[name] = None``) turns both off without
      writing a consent file into the user's home.

    Set ``MUSE_ALLOW_TELEMETRY=1`` to leave the libraries' own behaviour alone.
    """
    if _os.environ.get("MUSE_ALLOW_TELEMETRY") == "1":
        return
    _os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if "openvino_telemetry" not in _sys.modules:
        _sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import raises ImportError → stubs


_local_only()
