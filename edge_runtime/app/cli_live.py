"""CLI: ``muse demo`` (the pipeline on bundled or given files, no sound card) and ``muse live``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nomad_muse.settings import BLOCK_SIZES

_BLOCKS = ", ".join(map(str, BLOCK_SIZES))


def _flags(block_size, lookahead, chunk, mode, key, renderer, genre, tempo=None, seed=None, style=None) -> dict:
    return {"block_size": block_size, "lookahead_beats": lookahead, "chunk": chunk, "mode": mode, "key": key,
            "renderer": renderer, "genre": genre, "tempo_bpm": tempo, "seed": seed, "style": style}


def _timings_table(rows, title):
    from rich.table import Table

    t = Table(title=title)
    for col in ("module", "calls", "p50 ms", "p99 ms", "max ms", "budget ms", "over budget"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(r["module"], str(r["calls"]), f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['max_ms']:.3f}",
                  f"{r['budget_ms']:.1f}", str(r["misses"]))
    return t


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        input: Path | None = typer.Option(None, "--input", help="Audio clip (WAV/FLAC/…); default: the bundled example mix."),
        prompt: Path | None = typer.Option(None, "--prompt", help="MIDI prompt; default: the bundled tonal prompt."),
        out: Path = typer.Option(Path("out"), "--out", help="Directory for continuation.mid, render.wav, report.html."),
        profile: Path | None = typer.Option(None, "--profile", help="Machine profile (default: this machine's, else defaults)."),
        block_size: int | None = typer.Option(None, "--block-size", help=f"Samples per block: one of {_BLOCKS}; default: the profile's."),
        lookahead: float | None = typer.Option(None, "--lookahead", help="Generator lookahead (beats); default: the profile's."),
        chunk: str | None = typer.Option(None, "--chunk", help="Generator chunk: beat or bar; default: the profile's."),
        mode: str | None = typer.Option(None, "--mode", help="auto (the prompt's), drums or tonal."),
        key: str | None = typer.Option(None, "--key", help="Key for tonal mode, e.g. A:minor."),
        style: str | None = typer.Option(None, "--style", help="Generator style context: auto (inferred from the prompt), any, classical, folk, popular or electronic."),
        renderer: str | None = typer.Option(None, "--renderer", help="auto (default: FluidSynth when installed, else builtin), builtin or fluidsynth."),
        genre: str | None = typer.Option(None, "--genre", help="Analyzer target genre (default pop)."),
        seed: int = typer.Option(1, "--seed", help="Sampling seed (the run is reproducible)."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Ignore your adapters (muse adapt classifier / generator)."),
    ) -> None:
        """Run the whole pipeline (classifier, generator, renderer, analyzer) block by block on a clip and a
        prompt: writes OUT/continuation.mid, OUT/render.wav and OUT/report.html."""
        if no_adapter:
            import os

            from nomad_muse.adapters import NO_ADAPTER_ENV

            os.environ[NO_ADAPTER_ENV] = "1"  # read where the pipeline loads the classifier and the generator
        from rich.console import Console

        from nomad_muse.app.progress import job
        from nomad_muse.engine.offline import run_demo
        from nomad_muse.machine_profile import resolve

        active = resolve(profile)
        con = Console(stderr=as_json, soft_wrap=True)
        flags = _flags(block_size, lookahead, chunk, mode, key, renderer, genre, style=style)
        with job("demo") as j:
            res = run_demo(input_path=input, prompt_path=prompt, out_dir=out, active=active, seed=seed, flags=flags,
                           progress=lambda done, total: j.update("samples processed", completed=done, total=total))
        s = res.summary
        if as_json:
            typer.echo(json.dumps(s, indent=2, default=str))
            return
        for n in s["notes"]:
            con.print(f"note: {n}", highlight=False)
        con.print(f"{Path(s['input']).name} ({s['seconds']:.1f} s) + {Path(s['prompt']).name}: "
                  f"{s['generated_notes']} notes generated in {s['mode']} mode; backends "
                  + ", ".join(f"{k} {v}" for k, v in s["backends"].items()), highlight=False)
        if "classifier" in s and s["classifier"]["family"]:
            c = s["classifier"]
            con.print(f"classifier: {c['family']} ({c['family_share'] * 100:.0f} % of windows), track type {c['track_type']}")
        con.print(f"mix bus: {s['integrated_lufs']:.1f} LUFS integrated; suggestions: "
                  + ("; ".join(s["suggestions"][:3]) or "none"), highlight=False)
        con.print(_timings_table(s["timings"], f"per-module timings (block {s['block_size']} = {s['block_ms']:.2f} ms)"))
        c = s["counters"]
        con.print(f"deadline misses {c['deadline_misses']}, fallbacks {c['fallbacks']}; {s['seconds'] / s['wall_s']:.1f}× real time")
        con.print(f"wrote {res.midi}, {res.wav}, {res.html}")

    @app.command()
    def live(
        audio_device: str | None = typer.Option(None, "--audio-device", help="Device index or name part (default: the JACK device)."),
        midi_in: str | None = typer.Option(None, "--midi-in", help="MIDI port to read (name part); default a virtual port muse-in:in; 'none' for off."),
        midi_out: str | None = typer.Option(None, "--midi-out", help="MIDI port to write (name part); default a virtual port muse-out:out; 'none' for off."),
        block_size: int | None = typer.Option(None, "--block-size", help=f"Samples per callback: one of {_BLOCKS}; default: the profile's."),
        profile: Path | None = typer.Option(None, "--profile", help="Machine profile (default: this machine's, else defaults)."),
        lookahead: float | None = typer.Option(None, "--lookahead", help="Generator lookahead (beats)."),
        chunk: str | None = typer.Option(None, "--chunk", help="Generator chunk: beat or bar."),
        mode: str | None = typer.Option(None, "--mode", help="auto (prompt, else the classifier's track type), drums or tonal."),
        key: str | None = typer.Option(None, "--key", help="Key for tonal mode, e.g. A:minor."),
        style: str | None = typer.Option(None, "--style", help="Generator style context: auto (inferred from the prompt), any, classical, folk, popular or electronic."),
        tempo: float | None = typer.Option(None, "--tempo", help="Internal clock tempo (BPM), default 120."),
        follow_clock: bool = typer.Option(False, "--follow-clock", help="Follow incoming MIDI clock instead of the internal tempo."),
        renderer: str | None = typer.Option(None, "--renderer", help="auto (default: FluidSynth when installed, else builtin), builtin or fluidsynth."),
        genre: str | None = typer.Option(None, "--genre", help="Analyzer target genre (default pop)."),
        duration: float | None = typer.Option(None, "--duration", min=1.0, help="Stop after this many seconds (default: until Ctrl-C)."),
        no_dashboard: bool = typer.Option(False, "--no-dashboard", help="No live dashboard; print the summary at the end."),
        list_devices: bool = typer.Option(False, "--list-devices", help="List audio devices and MIDI ports, then exit."),
        as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON."),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Ignore your adapters (muse adapt classifier / generator)."),
        ui: bool = typer.Option(False, "--ui", help="Also serve the live view in the browser on 127.0.0.1 (prints the URL; docs/ui.md)."),
        port: int | None = typer.Option(None, "--port", help="Port of the live view (with --ui; default: a free port)."),
    ) -> None:
        """Run the engine live on audio and MIDI (JACK) with a dashboard, until Ctrl-C; --ui adds a browser view."""
        if no_adapter:
            import os

            from nomad_muse.adapters import NO_ADAPTER_ENV

            os.environ[NO_ADAPTER_ENV] = "1"  # read where the pipeline loads the classifier and the generator
        from dataclasses import asdict

        from rich.console import Console
        from rich.live import Live

        from nomad_muse.engine.config import EngineConfig
        from nomad_muse.engine.live import LiveRunner, audio_devices, terminate_portaudio
        from nomad_muse.machine_profile import resolve

        con = Console(stderr=as_json, soft_wrap=True)
        if list_devices:
            for d in audio_devices():
                con.print(f"{d['index']}: {d['name']} [{d['hostapi']}] in {d['in']} out {d['out']} @ {d['sr']:.0f} Hz", highlight=False)
            terminate_portaudio()
            return
        if port is not None and not ui:
            from nomad_muse.errors import ParameterError

            raise ParameterError(f"--port {port}: needs --ui (the port of the live view)")
        plan = None
        if ui:  # the port is checked before the engine starts, so a busy one fails at once with one line
            from nomad_muse.app.serve import plan_ui

            plan = plan_ui(port)
        active = resolve(profile)
        cfg = EngineConfig.from_tuned(active.tuned, follow_midi_clock=follow_clock,
                                      **_flags(block_size, lookahead, chunk, mode, key, renderer, genre, tempo, style=style))
        view = None
        try:
            runner = LiveRunner(cfg, active, audio_device=audio_device, midi_in=midi_in, midi_out=midi_out)
            for n in runner.notes:
                con.print(f"note: {n}", highlight=False)
            if ui:
                from nomad_muse.ui.server import UiServer

                view = UiServer(runner, port=plan["port"], token=plan["token"])
                try:
                    url = view.start()
                except BaseException:
                    for m in (runner.midi_out, runner.midi_in):
                        if m is not None:
                            m.close()
                    raise
                con.print(f"live view: {url}", highlight=False, soft_wrap=True)
                con.file.flush()
            if no_dashboard or as_json or not con.is_terminal:
                # no terminal (a pipe, a log, a service): plain lines, one status line every 10 s
                if not as_json:
                    con.print("running — Ctrl-C to stop", highlight=False)
                last = [0.0]

                def status_line(r) -> None:
                    t = r.engine.frames / max(1, r.cfg.sample_rate)
                    if t - last[0] >= 10.0:
                        last[0] = t
                        c = r.engine.counters
                        con.print(f"live {t:.0f} s: xruns {c.xruns}, deadline misses {c.deadline_misses}, "
                                  f"MIDI out {c.midi_out_sent}", highlight=False)

                quiet = no_dashboard or as_json  # asked for no dashboard: no status lines either
                res = runner.run(duration, on_tick=None if quiet else status_line, tick_s=0.5)
            else:
                from nomad_muse.engine.dashboard import render

                ports = {"in": runner.midi_in.port if runner.midi_in else None, "out": runner.midi_out.port if runner.midi_out else None}
                with Live(console=con, refresh_per_second=4, transient=False) as lv:
                    res = runner.run(duration, on_tick=lambda r: lv.update(render(r.engine, ports=ports)), tick_s=0.25)
        finally:
            if view is not None:
                view.stop()
            terminate_portaudio()
        failed = res.reason not in ("Ctrl-C", "duration reached")
        if as_json:
            typer.echo(json.dumps(asdict(res), indent=2, default=str))
            raise typer.Exit(1 if failed else 0)
        c = res.counters
        con.print(f"stopped: {res.reason} after {res.seconds:.1f} s on {res.device} ({res.sample_rate} Hz, block {res.block_size}, "
                  f"latency in/out {res.latency_frames[0]}/{res.latency_frames[1]} samples)", highlight=False)
        con.print(_timings_table(res.timings, "per-module latency"))
        con.print(f"xruns {c['xruns']}, deadline misses {c['deadline_misses']}, fallbacks {c['fallbacks']} "
                  f"(generator late {c['generator_late']}, low confidence {c['generator_low_confidence']}, classifier skipped "
                  f"{c['classifier_skipped_blocks'] + c['classifier_reused']}, analyzer paused {c['analyzer_paused']}); "
                  f"MIDI in {c['midi_in_messages']} msgs, out {c['midi_out_sent']}", highlight=False)
        if failed:  # the audio server went away, or a worker failed: say so and exit non-zero
            con.print(f"[bold red]stopped early:[/] {res.reason}", highlight=False)
            raise typer.Exit(1)
