"""The live view of ``muse live --ui`` / ``muse serve --ui``: a local web page (docs/ui.md).

* :mod:`.frames` — what the page shows, as plain dicts built from the engine's public state (no web code);
* :mod:`.server` — the aiohttp server on 127.0.0.1 with its token and Host checks, the poll thread and the
  event stream;
* :mod:`.page` — the page, rendered with the report kit (``nomad_muse.report``: ``live.html``, ``live.js``).

Layer: just under the app (beside the bench); it reads the engine, analyzer and report kit, and nothing but the
app imports it.  Importing this package imports no web library: aiohttp loads when a server starts.
"""

from __future__ import annotations

__all__ = ["UiServer"]


def __getattr__(name):
    if name == "UiServer":
        from nomad_muse.ui.server import UiServer

        return UiServer
    raise AttributeError(name)
