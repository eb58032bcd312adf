"""The one plotting module of the reports and the live page: axes, ticks and inline SVG.

Every chart in every report is drawn here or with these pieces, from plain
numbers and labels (no knowledge of analyzer, engine or bench objects), as
inline SVG returned as :class:`markupsafe.Markup` so a Jinja template places it
unescaped.  All text that reaches the SVG goes through :func:`markupsafe.escape`.

* :class:`LogAxis` is the one logarithmic axis (the tonal curve's 20 Hz–20 kHz
  frequency axis, the bench's µs latency axis); :class:`LinearAxis` the linear one
  (dB, beats, pitch).  Both map a value to a pixel coordinate and clamp to their range.
* :func:`db_range` chooses a dB axis that covers the data with round ticks.
* :class:`Svg` builds one ``<svg>`` element from primitives.
* :func:`piano_roll` draws notes over beats with a pitch axis (note names at every C),
  :func:`hbars` linear horizontal bars, :func:`log_marks` per-row marks on a log axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from html import escape

from markupsafe import Markup

__all__ = ["LinearAxis", "LogAxis", "Svg", "db_range", "finite", "fmt_hz", "fmt_us", "hbars", "log_marks", "note_name",
           "piano_roll", "pts", "runs"]

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def finite(x) -> bool:
    """True for a real, finite int/float (not bool, not None, not NaN)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_hz(f: float) -> str:
    """Frequency tick label: ``20``, ``500``, ``1k``, ``20k``."""
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def fmt_us(us: float) -> str:
    """Duration tick label: µs below 1 ms, ms below 1 s, then s."""
    return f"{us:g} µs" if us < 1e3 else f"{us / 1e3:g} ms" if us < 1e6 else f"{us / 1e6:g} s"


def note_name(pitch: int) -> str:
    """MIDI note number as scientific pitch name (60 = C4, the MIDI 1.0 / ASA convention)."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def pts(points: Iterable[tuple[float, float]]) -> str:
    """SVG ``points``/path coordinate list, 0.1 px resolution."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def runs(xs: Sequence, *series, lo: float = -math.inf, hi: float = math.inf) -> list[list[int]]:
    """Contiguous runs of indices where ``lo <= x <= hi`` and x and every series value are finite."""
    out, cur = [], []
    for i, x in enumerate(xs):
        if finite(x) and lo <= x <= hi and all(finite(s[i]) for s in series):
            cur.append(i)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def db_range(values, *, min_span: float = 30.0) -> tuple[float, float, float]:
    """(lo, hi, step) of a dB axis covering the finite ``values``: at least ``min_span`` dB, 5 or 10 dB ticks."""
    v = [x for x in values if finite(x)]
    if not v:
        return -60.0, 0.0, 10.0
    lo, hi = min(v), max(v)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    step = 10.0 if hi - lo > 25 else 5.0
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


@dataclass(frozen=True)
class LinearAxis:
    """Linear map of [lo, hi] onto pixels [p0, p1] (p1 < p0 for an upward y axis); values clamp to the range."""

    lo: float
    hi: float
    p0: float
    p1: float

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.p0 + (v - self.lo) / ((self.hi - self.lo) or 1.0) * (self.p1 - self.p0)

    def ticks(self, step: float) -> list[float]:
        out, v = [], math.ceil(self.lo / step - 1e-9) * step
        while v <= self.hi + 1e-9:
            out.append(v)
            v += step
        return out


@dataclass(frozen=True)
class LogAxis:
    """Base-10 logarithmic map of [lo, hi] (both > 0) onto pixels [p0, p1]; values clamp to the range."""

    lo: float
    hi: float
    p0: float
    p1: float

    def __call__(self, v: float) -> float:
        a0, a1 = math.log10(self.lo), math.log10(self.hi)
        a = (math.log10(min(max(v, self.lo), self.hi)) - a0) / ((a1 - a0) or 1.0)
        return self.p0 + a * (self.p1 - self.p0)

    def decades(self) -> list[float]:
        """Powers of ten inside the range."""
        return [10.0**d for d in range(math.ceil(math.log10(self.lo) - 1e-9), math.floor(math.log10(self.hi) + 1e-9) + 1)]


def _attrs(kw: dict) -> str:
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        k = k.rstrip("_").replace("_", "-")
        if isinstance(v, float):
            v = f"{v:.1f}"
        out.append(f' {k}="{escape(str(v))}"')
    return "".join(out)


class Svg:
    """One inline ``<svg>``: ``Svg("band-chart", 760, 300, title=...)``, add primitives, :meth:`markup`.

    Attribute names take ``_`` for ``-`` (``text_anchor``) and a trailing ``_`` for Python keywords (``class_``);
    floats are written to 0.1 px.  Text content and attribute values are escaped.
    """

    def __init__(self, svg_id: str, w: int, h: int, *, title: str | None = None, cls: str | None = None, **attrs):
        self.w, self.h = w, h
        head = _attrs({"id": svg_id, "class_": cls, "xmlns": "http://www.w3.org/2000/svg", "viewBox": f"0 0 {w} {h}",
                       "width": w, "height": h, "role": "img", **attrs})
        if title is not None:
            head += f' aria-labelledby="{escape(svg_id)}-title"'
        self.parts = [f"<svg{head}>"]
        if title is not None:
            self.parts.append(f'<title id="{escape(svg_id)}-title">{escape(title)}</title>')

    def el(self, tag: str, text: str | None = None, *, tip: str | None = None, **attrs) -> "Svg":
        """Any element; ``text`` is its escaped content, ``tip`` a hover ``<title>``."""
        inner = (escape(text) if text is not None else "") + (f"<title>{escape(tip)}</title>" if tip else "")
        self.parts.append(f"<{tag}{_attrs(attrs)}>{inner}</{tag}>" if inner else f"<{tag}{_attrs(attrs)}/>")
        return self

    def line(self, x1, y1, x2, y2, **a):
        return self.el("line", x1=x1, y1=y1, x2=x2, y2=y2, **a)

    def rect(self, x, y, w, h, **a):
        return self.el("rect", x=x, y=y, width=w, height=h, **a)

    def text(self, x, y, s, **a):
        return self.el("text", str(s), x=x, y=y, **a)

    def polyline(self, points, **a):
        return self.el("polyline", points=pts(points), **a)

    def raw(self, markup: str) -> "Svg":
        """Already-safe SVG (built by this module)."""
        self.parts.append(str(markup))
        return self

    def group(self, **a) -> "Svg":
        self.parts.append(f"<g{_attrs(a)}>")
        return self

    def end(self) -> "Svg":
        self.parts.append("</g>")
        return self

    def y_label(self, x: float, y_mid: float, s: str, cls: str = "lbl") -> "Svg":
        """A vertical axis title, rotated about its anchor."""
        return self.text(x, f"{y_mid:.0f}", s, class_=cls, text_anchor="middle", transform=f"rotate(-90 {x} {y_mid:.0f})")

    def markup(self) -> Markup:
        return Markup("\n".join(self.parts + ["</svg>"]))


@dataclass(frozen=True)
class Note:
    """A note to draw: start and duration in beats, MIDI pitch, CSS class, drum (own lane at the bottom)."""

    start: float
    duration: float
    pitch: int
    cls: str
    drum: bool = False


def piano_roll(svg_id: str, notes: Sequence[Note], *, beats: tuple[float, float], marker: float | None = None,
               marker_label: str = "", w: int = 940, h: int = 320, title: str = "piano roll",
               marker_cls: str = "split", pitch_range: tuple[int, int] | None = None) -> Markup:
    """Notes over beats ``[beats[0], beats[1]]`` with a pitch axis (a label at every C, a grid line per octave),
    a beat axis below (ticks every bar of 4 beats, chosen so labels never overlap, its title at the right end
    beside, not on, the last label) and drums in a lane at the bottom.  ``marker`` draws a dashed vertical line
    (the continuation point; ``marker_cls="now"`` makes it the live page's solid "now" line).  ``pitch_range``
    (lowest, highest MIDI pitch) fixes the pitch axis, so a scrolling view does not rescale at every frame;
    by default it fits the notes in the window.  Notes outside the window are not drawn; ones crossing its
    edges are clipped."""
    b0, b1 = beats
    b1 = max(b1, b0 + 1.0)
    if pitch_range is not None:
        lo, hi = int(pitch_range[0]) - 2, max(int(pitch_range[1]), int(pitch_range[0]) + 1) + 2
    else:
        pitched = [n.pitch for n in notes if not n.drum and n.start + n.duration >= b0 and n.start <= b1] or [60]
        lo, hi = min(pitched) - 2, max(pitched) + 2
    has_drums = any(n.drum for n in notes)
    left, right, top, bottom = 48, 12, 10, 34
    drum_h = 44 if has_drums else 0
    roll_bottom = h - bottom - drum_h - (6 if has_drums else 0)
    x = LinearAxis(b0, b1, left, w - right)
    y = LinearAxis(lo, hi, roll_bottom, top)
    row = (roll_bottom - top) / (hi - lo)
    s = Svg(svg_id, w, h, title=title)
    s.group(class_="pitch-axis")
    for p in range(lo, hi + 1):
        if p % 12 == 0:
            s.line(left, y(p), w - right, y(p), class_="grid")
            s.text(left - 5, y(p) - row / 2 + 4, note_name(p), class_="tick", text_anchor="end")
    s.end()
    # beat ticks: every bar, or every 2^k bars so labels stay >= 36 px apart
    bar = 4.0
    while (x(b0 + bar) - x(b0)) < 36:
        bar *= 2
    s.group(class_="beat-axis")
    t = math.ceil(b0 / bar) * bar
    label_y = h - bottom + 15
    while t <= b1 + 1e-9:
        s.line(x(t), top, x(t), h - bottom, class_="grid")
        if x(t) < w - right - 60:  # leave the axis title room at the right end
            s.text(x(t), label_y, f"{t:g}", class_="tick", text_anchor="middle")
        t += bar
    s.text(w - right, label_y, "beats", class_="lbl", text_anchor="end")
    s.end()
    s.line(left, h - bottom, w - right, h - bottom, class_="axis")
    s.line(left, top, left, h - bottom, class_="axis")
    if has_drums:
        s.text(left - 5, h - bottom - drum_h / 2 + 4, "drums", class_="tick", text_anchor="end")
        s.line(left, roll_bottom + 3, w - right, roll_bottom + 3, class_="grid")
    if marker is not None and b0 <= marker <= b1:
        s.line(x(marker), top, x(marker), h - bottom, class_=marker_cls)
        if marker_label:
            s.text(x(marker) + 4, top + 10, marker_label, class_="tick")
    for n in notes:
        if n.start > b1 or n.start + n.duration < b0:
            continue
        x0, x1 = x(n.start), x(n.start + n.duration)
        if n.drum:
            yy, hh = h - bottom - drum_h + (n.pitch % 12) * (drum_h - 4) / 12, 3.0
        elif lo <= n.pitch <= hi:
            yy, hh = y(n.pitch) - row / 2, max(row, 2.0)
        else:
            continue  # outside a fixed pitch range
        s.rect(x0, yy, max(x1 - x0, 1.5), hh, class_=n.cls, data_pitch=n.pitch)
    return s.markup()


def hbars(svg_id: str, items: Sequence[tuple[str, float]], unit: str, ref: float | None = None, *,
          w: int = 1000, left: int = 330) -> Markup:
    """Horizontal bars on a linear axis from 0, each labelled with its value; ``ref`` draws a dashed reference line."""
    if not items:
        return Markup("<p>nothing measured</p>")
    row_h = 20
    h = 30 + row_h * len(items)
    top = max(max(v for _, v in items), ref or 0) * 1.1 or 1.0
    x = LinearAxis(0.0, top, left, w - 80)
    s = Svg(svg_id, w, h, cls="chart")
    for i, (label, v) in enumerate(items):
        yy = 15 + i * row_h
        s.text(4, yy + 12, label, class_="tick")
        s.rect(left, yy, x(v) - left, 14, class_="bar")
        s.text(x(v) + 4, yy + 12, f"{v:.2f} {unit}", class_="tick")
    if ref is not None:
        s.line(x(ref), 8, x(ref), h - 5, class_="ref")
    return s.markup()


def log_marks(svg_id: str, rows: Sequence[tuple[str, dict[str, float], float | None]], *, marks: Sequence[str],
              fmt=fmt_us, unit: str = "µs", w: int = 1000, left: int = 330) -> Markup:
    """One line per row on a shared log axis: a range line from the first to the last mark, a dot per mark
    (``circle.mark-<name>``, coloured by CSS) and the row's budget as a short vertical bar (``line.budget``)."""
    lo = min(r[1][marks[0]] for r in rows) / 2
    hi = max(max(r[1][marks[-1]], r[2] or 0) for r in rows) * 2
    row_h = 18
    h = 40 + row_h * len(rows)
    x = LogAxis(lo, hi, left, w - 20)
    s = Svg(svg_id, w, h, cls="chart")
    for d in x.decades():
        s.line(x(d), 20, x(d), h - 10, class_="grid")
        s.text(x(d), 14, fmt(d), class_="tick", text_anchor="middle")
    for i, (label, vals, budget) in enumerate(rows):
        yy = 30 + i * row_h
        s.text(4, yy + 4, label, class_="tick")
        s.line(x(vals[marks[0]]), yy, x(vals[marks[-1]]), yy, class_="range")
        for k in marks:
            s.el("circle", cx=x(vals[k]), cy=yy, r=3.5, class_=f"mark-{k}", tip=f"{k} {vals[k]:.1f} {unit}")
        if budget:
            s.line(x(budget), yy - 7, x(budget), yy + 7, class_="budget", tip=f"budget {budget:.0f} {unit}")
    return s.markup()
