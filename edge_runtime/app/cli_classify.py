"""CLI: `muse classify` and `muse evaluate classifier`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nomad_muse.app.console import console

from nomad_muse.errors import ParameterError
from nomad_muse.gm import FAMILIES


def _load(backend: str | None, profile: Path | None = None, use_adapter: bool = True):
    """The classifier on ``--backend`` if forced, else the machine profile's choice, else the policy's."""
    from nomad_muse.runtime import select

    return select("classifier", backend=backend, profile=profile, use_adapter=use_adapter)


def register(app: typer.Typer, evaluate_app: typer.Typer, adapt_app: typer.Typer | None = None) -> None:
    if adapt_app is not None:
        _register_adapt(adapt_app)

    @app.command()
    def classify(
        file: Path | None = typer.Argument(None, help="Audio file (WAV, FLAC, AIFF, OGG), any length."),
        example: str | None = typer.Option(None, "--example", help="Classify a bundled example instead of FILE: piano or drums."),
        timeline: bool = typer.Option(False, "--timeline", help="Print the per-window timeline."),
        hop_ms: float = typer.Option(20.0, help="Classification hop, 20–50 ms."),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force."),
        profile: Path | None = typer.Option(None, "--profile", help="Machine profile (default: this machine's calibrated one, else the policy)."),
        as_json: bool = typer.Option(False, "--json"),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Ignore your adapter (muse adapt classifier) for this run."),
    ) -> None:
        """Which instrument family is playing (and drums vs tonal), with a timeline."""
        from rich.table import Table

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
        loaded = _load(backend, profile, use_adapter=not no_adapter)
        res = classify_file(file, loaded.model, config)
        res["backend"] = str(loaded.candidate)
        res["adapter"] = type(loaded.model).__name__ == "AdaptedModel"
        res["backend_fallbacks"] = list(loaded.fallbacks)
        if not timeline:
            res.pop("timeline")
        if as_json:
            typer.echo(json.dumps(res, indent=2))
            return
        con = console
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
            con.print(f"per-window timeline ({len(res['timeline'])} windows)\n{'time s':>7s}  {'family':9s} conf  track type", highlight=False)
            for r in res["timeline"]:
                con.print(f"{r['time_s']:7.3f}  {r['family'] or '-':9s} {r['confidence']:.2f}  {r['track_type'] or '-'}")

    @evaluate_app.command("classifier")
    def evaluate_classifier(
        directory: Path = typer.Argument(..., help="One sub-folder per family: " + " ".join(FAMILIES)),
        backend: str | None = typer.Option(None, help="RUNTIME, RUNTIME/DEVICE or RUNTIME/DEVICE/PRECISION to force."),
        as_json: bool = typer.Option(False, "--json"),
        no_adapter: bool = typer.Option(False, "--no-adapter", help="Score the shipped head, ignoring your adapter."),
    ) -> None:
        """Accuracy, balanced accuracy, per-class accuracy, drums-vs-tonal and the confusion matrix on your folder."""
        from rich.table import Table

        from nomad_muse.classifier.evaluate import check_dataset_dir, evaluate_dir

        check_dataset_dir(directory)  # the user's folder is checked before any model loads
        from nomad_muse.app.progress import job

        loaded = _load(backend, use_adapter=not no_adapter)
        with job("evaluate classifier") as j:
            res = evaluate_dir(directory, loaded.model, progress=lambda: j.advance("files classified"))
        res["adapter"] = type(loaded.model).__name__ == "AdaptedModel"
        if as_json:
            typer.echo(json.dumps(res, indent=2))
            return
        con = console
        con.print(f"{res['files']} files: accuracy {res['accuracy']:.3f}, balanced {res['balanced_accuracy']:.3f}, drums-vs-tonal {res['drums_vs_tonal_accuracy']:.3f}")
        labels = res["confusion_matrix"]["labels"]
        from rich import box

        # three-letter column codes (unique for the GM families) keep the matrix inside 80 columns
        codes = [lab[:3] for lab in labels]
        t = Table(title="confusion (rows true, columns predicted)", box=box.SIMPLE, pad_edge=False)
        t.add_column("true", no_wrap=True)
        for code in codes:
            t.add_column(code, justify="right", no_wrap=True)
        for lab, row in zip(labels, res["confusion_matrix"]["rows_true_cols_pred"]):
            if sum(row):
                t.add_row(lab, *[str(v) for v in row])
        con.print(t)
        con.print("columns: " + ", ".join(f"{c} = {lab}" for c, lab in zip(codes, labels)), highlight=False, soft_wrap=False)
        for note in res["notes"]:
            con.print(note)
        for s in res["skipped"]:
            con.print(f"skipped {s['file']}: {s['error']}")


def _register_adapt(adapt_app: typer.Typer) -> None:
    @adapt_app.command("classifier")
    def adapt_classifier(
        directory: Path | None = typer.Argument(None, help="Your labelled samples: one sub-folder per family (" + " ".join(FAMILIES) + ") or folders named by --map."),
        mapping: list[str] = typer.Option([], "--map", help="FOLDER=FAMILY for a folder with another name (e.g. --map Kicks=drums); repeatable."),
        reset: bool = typer.Option(False, "--reset", help="Remove the adapter: back to the shipped model."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Fit the classifier's last layer to your own samples (seconds, on this machine); kept only if it beats the shipped one on held-out clips of your folder."""
        from rich.console import Console
        from nomad_muse.classifier import adapter
        from nomad_muse.classifier.stream import default_model_path

        model_path = default_model_path()
        con = Console()
        if reset:
            had = adapter.reset(model_path)
            con.print("adapter removed: classify, evaluate, demo and live use the shipped model" if had else "no adapter to remove")
            return
        if directory is None:
            raise ParameterError("give your samples DIR (or --reset)")
        m = {}
        for s in mapping:
            if "=" not in s:
                raise ParameterError(f"--map {s!r}: expected FOLDER=FAMILY")
            k, v = s.split("=", 1)
            m[k] = v
        files = adapter.labelled_files(directory, m)  # the user's folder is checked before any model loads
        loaded = _load(None, use_adapter=False)
        from nomad_muse.app.progress import job

        with job("adapt classifier: embedding your clips", total=len(files)) as j:
            rep = adapter.adapt(directory, loaded.model, model_path, mapping=m, progress=lambda: j.advance("clips embedded"))
        if as_json:
            typer.echo(json.dumps(rep, indent=2))
            return
        c = rep["clips"]
        con.print(f"{c['train']} clips fitted, {c['validation']} held out ({c['silent']} silent, {c['skipped']} unreadable) in {rep['seconds']:.1f} s")
        con.print(f"held-out clip accuracy: shipped {rep['held_out_accuracy_shipped']:.3f}, adapted {rep['held_out_accuracy_adapted']:.3f}")
        if rep["kept"]:
            con.print(f"[bold]adapter kept[/]: {rep['adapter_file']} (classify, evaluate classifier, demo and live use it; --no-adapter or --reset to turn it off)")
        else:
            con.print("[bold]adapter not kept[/]: it does not beat the shipped model on your held-out clips; the shipped model stays in use")
