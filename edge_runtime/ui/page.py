"""The live page's HTML: ``live.html`` of the report kit (the reports' frame, stylesheet and chart classes), with
``live.js`` inlined under the response's CSP nonce.  Everything after the first paint arrives on the event stream."""

from __future__ import annotations

from markupsafe import Markup

from nomad_muse.ui.frames import LOUDNESS_METERS


def render_page(runner, *, nonce: str, title: str, rate_hz: float, target: str | None) -> str:
    from nomad_muse.analyzer.targets import list_targets
    from nomad_muse.engine.report import COUNTER_HELP
    from nomad_muse.report import asset, render

    cfg = runner.cfg
    counters = runner.engine.counters.as_dict()
    rows = [{"key": k, "label": k.replace("_", " "), "value": int(v), "explain": COUNTER_HELP.get(k, "")}
            for k, v in counters.items()]
    # the three the issue names first, then the rest in the engine's order
    first = ("xruns", "deadline_misses", "fallbacks")
    rows = sorted(rows, key=lambda r: (first.index(r["key"]) if r["key"] in first else len(first)))
    device = getattr(runner, "device", None) or {}
    ports = {"in": getattr(runner.midi_in, "port", None), "out": getattr(runner.midi_out, "port", None)}
    sub = (f"{device.get('name', 'audio device')} · {cfg.sample_rate} Hz · block {cfg.block_size} "
           f"({cfg.period_s * 1000:.2f} ms) · MIDI in {ports['in'] or 'off'} · MIDI out {ports['out'] or 'off'}")
    backends = " · ".join(f"{k} {v}" for k, v in getattr(runner.p, "backends", {}).items())
    return render("live.html", title=title, wide=True, sub=sub, backends=backends, counters=rows,
                  targets=[n for n, _, _ in list_targets()], target=target or "",
                  meters=[{"key": k, "label": label} for k, label, *_ in LOUDNESS_METERS],
                  rate=f"{rate_hz:g}", window=f"{cfg.analyzer_window_s:g}", nonce=nonce, js=Markup(asset("live.js")))
