"""CLI: `muse generate` and `muse evaluate generator`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nomad_muse.app.console import console

from nomad_muse.errors import ParameterError


def _loader(backend: str | None, profile: Path | None, model: Path | None, use_adapter: bool):
    """Decide now (an impossible --backend is refused before any work), load when called."""
    from nomad_muse.runtime import choose, load

    if model is not None:  # a missing, empty or oversized --model is one line, not one warning per backend tried
        from nomad_muse.backends.base import check_model_file

        check_model_file(model, (".onnx", ".xml"), "--model")
    c = choose("generator", backend=backend, profile=profile, model=model)
    return lambda: load(c, use_adapter=use_adapter)


def register(app: typer.Typer, evaluate_app: typer.Typer, adapt_app: typer.Typer | None = None) -> None:
    if adapt_app is not None:
        _register_adapt(adapt_app)

    @app.command()
    def generate(
        prompt: Path | None = typer.Argument(None, help="A MIDI file to continue; omit to start from nothing."),
        bars: int = typer.Option(4, "--bars", "-n", help="Bars to generate."),
        mode: str = typer.Option("auto", help="auto | drums | tonal (auto: channel-10 prompt → drums)."),
        key: str | None = typer.Option(None, help="Key for tonal mode, e.g. C:minor (default: estimated from the prompt)."),
        temperature: str = typer.Option("1.0", help="Sampling temperature, or 'auto': follows the prompt's recent velocity and density within --temp-min/--temp-max."),
        temp_min: float = typer.Option(0.7, "--temp-min", help="Lowest temperature for --temperature auto (quiet, sparse prompt)."),
        temp_max: float = typer.Option(1.2, "--temp-max", help="Highest temperature for --temperature auto (loud, busy prompt)."),
        top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass."),
        style: str = typer.Option("auto", "--style", help="Style context: auto (inferred from the prompt; 'any' without one), any, classical, folk, popular or electronic."),
        seed: int | None = typer.Option(None, help="Seed for reproducible output."),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force, e.g. openvino/CPU/fp32."),
        family: str = typer.Option("piano", help="Instrument family for tonal mode from nothing."),
        tempo: float = typer.Option(120.0, help="Tempo (BPM) when starting from nothing."),
        chunk: str = typer.Option("bar", help="Generate a 'beat' or a 'bar' at a time."),
        model: Path | None = typer.Option(None, help="Generator ONNX file (default: the shipped one)."),
        profile: Path | None = typer.Option(None, "--profile", help="Machine profile (default: this machine's calibrated one, else the policy)."),
        out: str = typer.Option("generated.mid", "--out", "-o", help="Output MIDI file (prompt + continuation); DIR/ writes DIR/generated.mid."),
        bundled: str | None = typer.Option(None, help="Use a bundled prompt instead of a file: 'tonal' or 'drums'."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Ignore your generator adapter (muse adapt generator) for this run."),
    ) -> None:
        """Continue a MIDI prompt (or start from nothing) in drum or tonal mode."""
        from nomad_muse.generator.intensity import parse_temperature
        from nomad_muse.generator.prompt import bundled_prompt
        from nomad_muse.generator.session import generate_file

        from nomad_muse.paths import output_path

        out = output_path(out, "generated.mid", what="--out")
        if bundled:
            if prompt is not None:
                raise ParameterError("give either a PROMPT file or --bundled, not both")
            prompt = bundled_prompt(bundled)

        from nomad_muse.generator.midi_io import TEMPO_RANGE

        lo, hi = TEMPO_RANGE
        if not lo <= tempo <= hi:  # also refuses nan; 0 divided, 3 or 1e9 did not fit a MIDI tempo
            raise ParameterError(f"--tempo {tempo:g} must be between {lo:g} and {hi:g} BPM")
        if seed is not None and seed < 0:
            raise ParameterError(f"--seed {seed} must be 0 or more")
        if mode not in ("auto", "drums", "tonal"):
            raise ParameterError(f"--mode {mode!r} must be auto, drums or tonal")
        summary = generate_file(
            prompt, out, bars=bars, mode=mode, key=key, temperature=parse_temperature(temperature), top_p=top_p, seed=seed,
            family=family, tempo=tempo, chunk=chunk, auto_bounds=(temp_min, temp_max), style=style,
            loader=_loader(backend, profile, model, not no_adapter),
        )
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            for n in summary.get("notes", []):
                typer.echo(f"note: {n}", err=True)
            typer.echo(
                f"wrote {summary['out']}: {summary['new_notes']} new notes over {summary['bars']} bars "
                f"({summary['mode']}, key {summary['key']}, style {summary['style'] or 'n/a'}, {summary['backend']}, step p50 {summary['step_ms_p50']:.3f} ms, "
                f"fallbacks {summary['fallbacks']})"
            )

    @evaluate_app.command("generator")
    def evaluate_generator(
        directory: Path = typer.Argument(..., help="A directory of .mid/.midi files."),
        max_files: int = typer.Option(200, help="Score at most this many files."),
        style: str = typer.Option("any", "--style", help="Style token for every stream (model with style tokens): any, auto (inferred per stream), classical, folk, popular, electronic."),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force."),
        as_json: bool = typer.Option(False, "--json"),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Score the shipped head, ignoring your adapter (muse adapt generator)."),
    ) -> None:
        """NLL per token and perplexity of the generator (with your adapter, if any) and of its n-gram baseline."""
        from rich.table import Table

        from nomad_muse.generator.engine import Generator
        from nomad_muse.generator.evaluate import evaluate_dir

        if max_files < 1:  # a negative count used to slice off the last file
            raise ParameterError(f"--max-files {max_files} must be 1 or more")
        gen = Generator(loaded=_loader(backend, None, None, not no_adapter)())
        from nomad_muse.app.progress import job

        with job("evaluate generator") as j:
            j.update(f"scoring up to {max_files} files in {directory}")
            from nomad_muse.generator.style import resolve_style

            res = evaluate_dir(directory, generator=gen, max_files=max_files, progress=lambda: j.advance("files scored"),
                               style_token=resolve_style(style))
        if as_json:
            typer.echo(json.dumps(res, indent=2))
            return
        t = Table(title=f"generator{' (adapted)' if res['adapter'] else ''} on {res['directory']} ({res['files_used']}/{res['files']} files)")
        for col in ("scope", "tokens", "model NLL/token", "model ppl", "n-gram ppl", "ppl ratio"):
            t.add_column(col)
        rows = [("all", res)] + [(f"mode {m}", v) for m, v in res["by_mode"].items() if v["tokens"]]
        if len(res["by_style"]) > 1:
            rows += [(f"style {k}", v) for k, v in res["by_style"].items() if v["tokens"]]
        rows += [(f"track {k}", v) for k, v in res["by_track"].items() if v["tokens"]]
        for name, v in rows:
            t.add_row(name, str(v["tokens"]), f"{v['model']['nll_per_token']:.3f}", f"{v['model']['perplexity']:.2f}",
                      f"{v['ngram']['perplexity']:.2f}", f"{v['perplexity_ratio']:.3f}")
        console.print(t)
        for s in res["skipped"]:
            typer.echo(f"skipped {s['file']}: {s['error']}")


def _register_adapt(adapt_app: typer.Typer) -> None:
    @adapt_app.command("generator")
    def adapt_generator(
        directory: Path | None = typer.Argument(None, help="A folder of your own MIDI files (.mid/.midi/.kar, sub-folders included)."),
        reset: bool = typer.Option(False, "--reset", help="Remove the adapter: back to the shipped model."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Fit the generator's output layer to your own MIDI (on this machine, no upload, no torch); kept only if it
        lowers the NLL per token on held-out files of your folder."""
        from nomad_muse.generator import adapter
        from nomad_muse.generator.engine import Generator, default_model_path

        model_path = default_model_path()
        if reset:
            had = adapter.reset(model_path)
            console.print("adapter removed: generate, evaluate generator, demo and live use the shipped model" if had else "no adapter to remove")
            return
        if directory is None:
            raise ParameterError("give your MIDI DIR (or --reset)")
        files = adapter.midi_files(directory)  # the user's folder is checked before any model loads
        from nomad_muse.runtime import select

        gen = Generator(loaded=select("generator", model=model_path, use_adapter=False))  # the shipped head
        from nomad_muse.app.progress import job

        with job("adapt generator: running the model over your files", total=len(files)) as j:
            rep = adapter.adapt(directory, gen.model, model_path, progress=lambda msg=None: j.advance("files read") if msg is None else j.update(msg),
                                style="any" if gen.has_style else None)
        if as_json:
            typer.echo(json.dumps(rep, indent=2))
            return
        f, p = rep["files"], rep["positions"]
        console.print(f"{f['fit']} files fitted ({p['fit']} tokens), {f['validation']} held out ({p['validation']} tokens), "
                      f"{f['skipped']} unreadable, in {rep['seconds']:.1f} s")
        console.print(f"held-out NLL per token: shipped {rep['held_out_nll_shipped']:.3f} (perplexity {rep['held_out_perplexity_shipped']:.2f}), "
                      f"adapted {rep['held_out_nll_adapted']:.3f} (perplexity {rep['held_out_perplexity_adapted']:.2f})")
        if rep["kept"]:
            console.print(f"[bold]adapter kept[/]: {rep['adapter_file']} (generate, evaluate generator, demo and live use it; "
                          "--no-adapter or --reset to turn it off)")
        else:
            console.print("[bold]adapter not kept[/]: it does not lower the NLL on your held-out files; the shipped model stays in use")
        for s in rep["skipped"]:
            console.print(f"skipped {s['file']}: {s['error']}")
