"""The report kit: one stylesheet, one plotting module, Jinja2 templates shipped as package data.

Every HTML page Nomad Muse Edge writes — the analysis report (``muse analyze
--report``), the demo report (``muse demo``), the bench report (``muse bench``),
the certificate (``muse certify``) and the live page (``muse live --ui``) — is a
template here extending ``base.html``, with the stylesheet ``style.css`` inlined
and charts from :mod:`nomad_muse.report.plot` as inline SVG.  Each report module
supplies only its content (a context of plain values).  Pages are self-contained:
no external stylesheet, font, script or image, so they open offline.

Why Jinja2: autoescaping by default (every outside string — file names, target
descriptions, suggestion text — is escaped without a call at each site), template
inheritance for the one page frame, and it is the standard, well-kept choice.

This is a common-layer module (beside ``audio_io`` and ``gm``): it knows HTML
and SVG, nothing about analyzer, engine or bench objects.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import html
import jinja2
from markupsafe import Markup

from nomad_muse.errors import ParameterError

__all__ = ["Markup", "asset", "render", "stylesheet", "write_page"]


def _finalize(value):
    # plain strings are escaped with the standard library's html.escape (``&quot;``, ``&#x27;``), the same
    # entities the hand-written reports used; Markup (charts, the stylesheet) passes through
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(html.escape(value))
    return value


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("nomad_muse.report", "templates"),
                              autoescape=True, finalize=_finalize, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """Text of a file shipped in this package (``style.css``, ``live.js``)."""
    return resources.files("nomad_muse.report").joinpath(name).read_text(encoding="utf-8")


def stylesheet() -> Markup:
    """The one stylesheet, for inlining."""
    return Markup(asset("style.css"))


def render(template: str, **context) -> str:
    """Render ``templates/<template>`` with the stylesheet as ``css`` (pages extend ``base.html``)."""
    context.setdefault("css", stylesheet())
    context.setdefault("wide", False)
    return _env().get_template(template).render(**context)


def write_page(path: str | Path, text: str, *, what: str = "report") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temp file in the same folder, then rename, so a failed
    write leaves an old file intact.  ParameterError naming the path when it cannot be written."""
    from nomad_muse.paths import atomic_output

    p = Path(path)
    with atomic_output(p, what=what) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:  # by path, so the local-only audit sees where it writes
            f.write(text)
    return p
