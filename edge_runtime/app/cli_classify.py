"""CLI: `muse classify` and `muse evaluate classifier`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nomad_muse.errors import ParameterError
from nomad_muse.gm import FAMILIES


def _load(backend: str | None, profile: Path | None = None):
    """The classifier on ``--backend`` if forced, else the machine profile's choice, else the policy's."""
    from nomad_muse.classifier.stream import load_classifier_model
    from nomad_muse.machine_profile import module_backend

    candidates, path, _ = module_backend("classifier", backend=backend, profile=profile)
    return load_classifier_model(path, candidates=candidates)


def confusion_table(labels: list[str], rows: list[list[int]], con):
    """The confusion matrix with full family names as column headers when it fits ``con``'s width, else
    numbered columns (row ``3 drums`` is column ``3``), so no header is ever cut to "dru…"."""
    from nomad_muse.app.console import natural_width
    from rich.table import Table

    def build(numbered: bool):
        t = Table(title="confusion (rows true, columns predicted" + (" by number)" if numbered else ")"))
        t.add_column("true family", no_wrap=True)
        for i, lab in enumerate(labels, 1):
            t.add_column(str(i) if numbered else lab, justify="right", no_wrap=True)
        for i, (lab, row) in enumerate(zip(labels, rows), 1):
            if sum(row):
                t.add_row(f"{i} {lab}" if numbered else lab, *[str(v) for v in row])
        return t

    t = build(False)
    return t if natural_width(t, con) <= con.width else build(True)


def register(app: typer.Typer, evaluate_app: typer.Typer) -> None:
    @app.command()
    def classify(
        file: Path | None = typer.Argument(None, help="Audio file (WAV, FLAC, AIFF, OGG), any length."),
        example: str | None = typer.Option(None, "--example", help="Classify a bundled example instead of FILE: piano or drums."),
        timeline: bool = typer.Option(False, "--timeline", help="Print the per-window timeline."),
        hop_ms: float = typer.Option(20.0, help="Classification hop, 20–50 ms."),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force."),
        profile: Path | None = typer.Option(None, "--profile", help="Machine profile (default: this machine's calibrated one, else the policy)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Which instrument family is playing (and drums vs tonal), with a timeline."""
        from rich.table import Table

        from nomad_muse.app.console import make_console
        from nomad_muse.classifier.evaluate import classify_file
        from nomad_muse.classifier.stream import ClassifierConfig

        if example:
            from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path

            if file is not None:
                raise ParameterError("give either FILE or --example, not both")
            if example not in CLASSIFY_EXAMPLES:
                raise ParameterError(f"--example {example!r} must be one of {', '.join(CLASSIFY_EXAMPLES)}")
            file = example_path(CLASSIFY_EXAMPLES[example])
        if file is None:
            raise ParameterError("give an audio FILE (or --example)")
        from nomad_muse.audio_io import probe_audio

        config = ClassifierConfig(hop_ms=hop_ms)
        probe_audio(file, min_duration_s=0.0)  # a bad file is the user's first error, before any model loads
        loaded = _load(backend, profile)
        res = classify_file(file, loaded.model, config)
        res["backend"] = str(loaded.candidate)
        res["backend_fallbacks"] = list(loaded.fallbacks)
        if not timeline:
            res.pop("timeline")
        if as_json:
            typer.echo(json.dumps(res, indent=2))
            return
        con = make_console()
        if res["family"] is None:
            con.print(f"{file}: no signal (all {res['windows']} windows below the −60 dBFS gate)")
            return
        con.print(f"{file}: [bold]{res['family']}[/] ({res['family_share'] * 100:.0f} % of windows; track type {res['track_type']}) on {res['backend']}")
        t = Table(title="segments")
        for col in ("from s", "to s", "family", "confidence"):
            t.add_column(col)
        for s in res["segments"][:40]:
            t.add_row(f"{s['start_s']:.2f}", f"{s['end_s']:.2f}", s["family"] or "no signal", f"{s['mean_confidence']:.2f}")
        con.print(t)
        if timeline:
            con.print(f"timeline: one row per {hop_ms:g} ms window", highlight=False)
            con.print(f"{'time s':>7s}  {'family':9s} {'conf':4s}  track type", highlight=False)
            for r in res["timeline"]:
                con.print(f"{r['time_s']:7.3f}  {r['family'] or '-':9s} {r['confidence']:.2f}  {r['track_type'] or '-'}")

    @evaluate_app.command("classifier")
    def evaluate_classifier(
        directory: Path = typer.Argument(..., help="One sub-folder per family: " + " ".join(FAMILIES)),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Accuracy, balanced accuracy, per-class accuracy, drums-vs-tonal and the confusion matrix on your folder."""
        from nomad_muse.app.console import make_console
        from nomad_muse.classifier.evaluate import check_dataset_dir, evaluate_dir

        from nomad_muse.app.progress import job

        check_dataset_dir(directory)  # the user's folder is checked before any model loads
        model = _load(backend).model
        with job("evaluate classifier") as j:
            res = evaluate_dir(directory, model, progress=lambda: j.advance("files classified"))
        if as_json:
            typer.echo(json.dumps(res, indent=2))
            return
        con = make_console()
        con.print(f"{res['files']} files: accuracy {res['accuracy']:.3f}, balanced {res['balanced_accuracy']:.3f}, drums-vs-tonal {res['drums_vs_tonal_accuracy']:.3f}")
        con.print(confusion_table(res["confusion_matrix"]["labels"], res["confusion_matrix"]["rows_true_cols_pred"], con))
        for note in res["notes"]:
            con.print(note)
        for s in res["skipped"]:
            con.print(f"skipped {s['file']}: {s['error']}")
