"""CLI commands of the mix analyzer: ``muse analyze`` and ``muse profiles build/list/show``.

Heavy modules (numpy, scipy, pyfftw) are imported inside the commands so
``muse --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List, Optional

import typer

from nomad_muse.app.console import console

profiles_app = typer.Typer(help="Tonal-balance targets: shipped genres and your own, built from reference tracks.",
                           no_args_is_help=True)


def _f(x, fmt="{:.1f}", unit=""):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return fmt.format(x) + (f" {unit}" if unit else "")


def analyze(
    file: Optional[Path] = typer.Argument(None, help="Audio file (WAV, FLAC, AIFF, OGG; mono, stereo, 5.0 or 5.1); "
                                                      "omit it with --example."),
    genre: Optional[str] = typer.Option(None, "--genre", "-g", help="Genre target: pop, rock, edm, hiphop, jazz, classical, acoustic or one you built."),
    target: Optional[str] = typer.Option(None, "--target", "--reference", "-t", help="Target: a name, a target .toml, "
                                         "a reference audio file/folder to measure, or 'auto' (nearest shipped target). "
                                         "Default: the all-styles target of real masters plus self-reference."),
    target_lufs: Optional[float] = typer.Option(None, "--target-lufs", help="Delivery loudness in LUFS (default -14, streaming)."),
    delivery: str = typer.Option("streaming", "--delivery", help="streaming (-14 LUFS) or broadcast (-23 LUFS, EBU R128)."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Report a band only this many dB outside the "
                                              "target range (default 3; with the no-genre default target, its fitted value)."),
    max_suggestions: int = typer.Option(5, "--max-suggestions", min=1, help="At most this many suggestions."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (every number with its unit)."),
    report: Optional[str] = typer.Option(None, "--report", help="Also write a self-contained HTML report (curve over "
                                                               "the target range, bands, meters, suggestions); DIR/ writes DIR/report.html."),
    example: bool = typer.Option(False, "--example", help="Analyze the bundled example mix (compared with the "
                                                          "'pop' target unless --genre/--target is given)."),
) -> None:
    """Measure a mix (loudness, true peak, stereo, dynamics, tonal balance) and say what to change."""
    from nomad_muse.analyzer import DELIVERY_LUFS, SuggestOptions, analyze_file
    from nomad_muse.analyzer.targets import build_target, load_target
    from nomad_muse.errors import ParameterError

    if genre and target:
        raise ParameterError("--genre and --target are exclusive; pass one of them")
    if example and file is not None:
        raise ParameterError(f"give either FILE ({file}) or --example, not both")
    if not example and file is None:
        raise ParameterError("missing FILE: pass an audio file, or --example for the bundled example mix")
    if report is not None:
        from nomad_muse.analyzer.html_report import check_report_path
        from nomad_muse.paths import output_path

        report = check_report_path(output_path(report, "report.html", what="--report"))
    if example:
        from nomad_muse.examples import EXAMPLE_GENRE, example_path

        file = example_path()
        if not (genre or target):
            genre = EXAMPLE_GENRE
    if delivery not in DELIVERY_LUFS:
        raise ParameterError(f"--delivery={delivery!r} must be one of {', '.join(DELIVERY_LUFS)}")
    tol_given = tolerance is not None
    opts = SuggestOptions(band_tolerance_db=tolerance if tol_given else 3.0,
                          target_lufs=target_lufs if target_lufs is not None else DELIVERY_LUFS[delivery],
                          max_suggestions=max_suggestions)
    tgt, choice = None, None
    if genre:
        tgt = load_target(genre)
    elif target == "auto":
        from nomad_muse.analyzer.targets import auto_target

        probe = analyze_file(file, options=opts, with_dynamics=False)
        tgt, ranking = auto_target(probe)
        choice = {"chosen": ranking[0][0], "distance_db": ranking[0][1],
                  "runner_up": ranking[1][0] if len(ranking) > 1 else None,
                  "runner_up_distance_db": ranking[1][1] if len(ranking) > 1 else None, "ranking": ranking}
    elif target:
        p = Path(target)
        if p.exists() and (p.is_dir() or p.suffix.lower() != ".toml"):
            tgt, _ = build_target(name=p.stem.replace(" ", "_")[:64] or "reference", paths=[p],
                                  provenance={"method": f"measured from reference {p}"})
        else:
            tgt = load_target(target)
    else:
        from dataclasses import replace

        from nomad_muse.analyzer.suggest import DEFAULT_TARGET, DEFAULT_TARGET_TOLERANCE_DB

        tgt = load_target(DEFAULT_TARGET)
        if not tol_given:
            opts = replace(opts, band_tolerance_db=DEFAULT_TARGET_TOLERANCE_DB)
    rep = analyze_file(file, target=tgt, options=opts)
    if as_json:
        d = rep.to_dict()
        d["target_lufs"] = opts.target_lufs
        if choice is not None:
            d["target_choice"] = choice
        typer.echo(json.dumps(d, indent=2))
    else:
        if choice is not None:
            ru = (f"; runner-up {choice['runner_up']} at {choice['runner_up_distance_db']:.1f} dB"
                  if choice["runner_up"] else "")
            console.print(f"--target auto: chose {choice['chosen']} (curve {choice['distance_db']:.1f} dB RMS from its "
                          f"median{ru})", highlight=False)
        _print_report(rep, opts)
    if report is not None:
        from nomad_muse.analyzer.html_report import write_html

        p = write_html(report, rep, tgt, target_lufs=opts.target_lufs)
        typer.echo(f"wrote HTML report {p}", err=as_json)


def _print_report(rep, opts) -> None:
    from rich.table import Table

    c = console
    L = rep.loudness
    c.print(f"[bold]{rep.source}[/]  {rep.duration_s:.1f} s, {rep.sr} Hz, {rep.layout}  (FFT: {rep.fft_backend})")
    t = Table(title="Loudness (ITU-R BS.1770-4 / EBU R128)")
    for col in ("meter", "value", "note"):
        t.add_column(col)
    t.add_row("integrated", _f(L.integrated_lufs, unit="LUFS"), f"delivery target {opts.target_lufs:g} LUFS")
    t.add_row("momentary max", _f(L.momentary_max_lufs, unit="LUFS"), "400 ms")
    t.add_row("short-term max", _f(L.short_term_max_lufs, unit="LUFS"), "3 s")
    t.add_row("loudness range", _f(L.lra_lu, unit="LU"), "EBU Tech 3342")
    t.add_row("true peak", _f(L.true_peak_dbtp, unit="dBTP"), f"{L.oversampling}x oversampled; ceiling {opts.true_peak_ceiling_dbtp:g}")
    t.add_row("sample peak", _f(L.sample_peak_dbfs, unit="dBFS"), "")
    t.add_row("PLR", _f(L.plr_lu, unit="LU"), "true peak − integrated")
    t.add_row("RMS / crest", f"{_f(L.rms_dbfs, unit='dBFS')} / {_f(L.crest_factor_db, unit='dB')}", "unweighted")
    c.print(t)
    s, d = rep.stereo, rep.dynamics
    t = Table(title="Stereo and dynamics")
    t.add_column("measure")
    t.add_column("value")
    if s is not None:
        t.add_row("correlation (overall / 5th pct)", f"{_f(s.correlation, '{:+.2f}')} / {_f(s.correlation_p05, '{:+.2f}')}")
        t.add_row(f"low-end correlation (< {s.low_end_cutoff_hz:g} Hz)", _f(s.low_end_correlation, "{:+.2f}"))
        t.add_row("side / mid", _f(s.side_to_mid_db, unit="dB"))
        t.add_row("width (side share)", _f(s.width, "{:.2f}"))
    t.add_row("crest factor over time (p10/median/p90)",
              f"{_f(d.crest_factor_p10_db)} / {_f(d.crest_factor_median_db)} / {_f(d.crest_factor_p90_db)} dB")
    t.add_row("onsets", f"{d.onset_count} ({d.onset_density_per_s:.2f}/s), attack clarity {_f(d.attack_clarity_db, unit='dB')}")
    t.add_row("over-compressed", "yes" if d.over_compressed else "no")
    c.print(t)
    if rep.tonal is not None:
        tn = rep.tonal
        t = Table(title=f"Tonal balance (dB, normalised to {tn.normalised_to_lufs:g} LUFS)"
                  + (f" vs target '{tn.target_name}'" if tn.target_name else ""))
        for col in ("band", "Hz", "level", "target p10 / p50 / p90", "outside range"):
            t.add_column(col)
        for b in tn.bands:
            rng = "—" if b.target_p50_db is None else f"{b.target_p10_db:.1f} / {b.target_p50_db:.1f} / {b.target_p90_db:.1f}"
            dev = b.deviation_db
            devs = "—" if dev is None else ("in range" if dev == 0 else f"{dev:+.1f} dB")
            t.add_row(b.name, f"{b.lo_hz:g}–{b.hi_hz:g}", _f(b.level_db), rng, devs)
        c.print(t)
        if tn.target_name is None:
            c.print("(pass --genre NAME or --target FILE to compare the tonal balance with a target)")
    for n in rep.notes:
        c.print(f"[yellow]note:[/] {n}")
    if rep.suggestions:
        c.print("[bold]Suggestions[/] (most severe first)")
        for i, sg in enumerate(rep.suggestions, 1):
            c.print(f" {i}. [{'red' if sg.severity == 'high' else 'yellow' if sg.severity == 'medium' else 'cyan'}]"
                    f"{sg.severity}[/] [bold]{sg.kind}[/] ({sg.region}): {sg.action}.", highlight=False)
            c.print(f"    why: {sg.why}.", highlight=False)
    else:
        c.print("[green]No suggestions:[/] every rule is within its threshold.")


@profiles_app.command("build")
def profiles_build(
    name: str = typer.Argument(..., help="Name of the new target (letters, digits, _ . -)."),
    paths: List[Path] = typer.Argument(..., help="Reference audio files and/or folders (searched recursively)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write here instead of the user profile folder (DIR/ writes DIR/NAME.toml)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing target file of that name."),
    description: str = typer.Option("", "--description", help="One line saying what these references are."),
) -> None:
    """Make a target (per-band 10th/50th/90th percentiles) from reference tracks."""
    from rich.progress import Progress

    from nomad_muse.analyzer.targets import build_target, check_target_name, save_target, shipped_genres_dir, user_profiles_dir
    from nomad_muse.errors import ParameterError
    from nomad_muse.paths import output_path

    check_target_name(name)
    dest = output_path(out, f"{name}.toml", what="--out") if out is not None else user_profiles_dir() / f"{name}.toml"
    if dest.is_dir():  # checked before any track is measured
        raise ParameterError(f"--out {dest} is a directory; give a file name, or {dest}/ to write {dest / (name + '.toml')}")
    if dest.is_file() and not force:
        raise ParameterError(f"target file {dest} exists; pass --force to replace it (or choose another NAME / --out)")
    with Progress(transient=True) as prog:
        task = prog.add_task("measuring", total=None)

        def tick(path, i, n):
            prog.update(task, total=n, completed=i, description=f"measuring {path.name}")

        t, skipped = build_target(name=name, paths=paths, description=description, progress=tick)
        prog.update(task, completed=t.n_tracks + len(skipped))
    for s in skipped:
        typer.echo(f"skipped: {s}", err=True)
    p = save_target(t, dest, force=force)
    typer.echo(f"built target {t.name!r} from {t.n_tracks} track(s): {p}")
    if out is None and (shipped_genres_dir() / f"{name}.toml").is_file():
        typer.echo(f"note: your target {name!r} now shadows the shipped one of that name (`--genre {name}` uses yours; "
                   f"delete {p} to get the shipped one back)", err=True)


@profiles_app.command("list")
def profiles_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List shipped genre targets and your own."""
    from nomad_muse.analyzer.targets import list_targets, read_target

    rows = []
    for name, origin, p in list_targets():
        t = read_target(p)
        rows.append({"name": name, "origin": origin, "n_tracks": t.n_tracks, "path": str(p),
                     "method": t.provenance.get("method", "")})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    tb = Table(title="Tonal-balance targets")
    for col in ("name", "origin", "tracks", "provenance"):
        tb.add_column(col)
    for r in rows:
        tb.add_row(r["name"], r["origin"], str(r["n_tracks"]), r["method"])
    console.print(tb)


@profiles_app.command("show")
def profiles_show(name: str = typer.Argument(..., help="Target name or .toml path."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a target's band ranges and provenance."""
    from nomad_muse.analyzer.targets import load_target

    t = load_target(name)
    if as_json:
        typer.echo(json.dumps({"name": t.name, "description": t.description, "n_tracks": t.n_tracks,
                               "normalised_to_lufs": t.normalised_to_lufs, "provenance": t.provenance,
                               "bands_db": {k: list(v) for k, v in t.bands.items()},
                               "loudness": {k: list(v) for k, v in t.loudness.items()}, "path": t.path}, indent=2))
        return
    from rich.table import Table

    c = console
    c.print(f"[bold]{t.name}[/] — {t.description}  ({t.path})")
    for k, v in t.provenance.items():
        if k != "files":
            c.print(f"  {k}: {v}", highlight=False)
    tb = Table(title=f"bands (dB, normalised to {t.normalised_to_lufs:g} LUFS), {t.n_tracks} track(s)")
    for col in ("band", "p10", "p50", "p90"):
        tb.add_column(col)
    for b, (a, m, z) in t.bands.items():
        tb.add_row(b, f"{a:.1f}", f"{m:.1f}", f"{z:.1f}")
    c.print(tb)


def evaluate_analyzer(
    directory: Path = typer.Argument(..., help="A folder of clean, finished mixes (sub-folders = sources)."),
    genre: Optional[str] = typer.Option(None, "--genre", "-g", help="Compare with this target (default: the genre-free default of muse analyze)."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="A target name or .toml (or 'auto')."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Band tolerance (dB), as in muse analyze."),
    faults: Optional[str] = typer.Option(None, "--faults", help="Comma-separated fault kinds (default: all: "
                                                              "low_end_excess,mud,harsh,air_lack,polarity)."),
    max_files: int = typer.Option(500, "--max-files", min=1, help="Use at most this many files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (keys in docs/analyzer.md)."),
) -> None:
    """Plant known faults (documented gains) into each clean mix, gain-match, and report per fault kind the
    detection rate, the right-region rate and the false alarms on the clean files."""
    from nomad_muse.analyzer import SuggestOptions
    from nomad_muse.analyzer.evaluate import FAULTS, evaluate_dir
    from nomad_muse.app.progress import job
    from nomad_muse.errors import ParameterError

    if genre and target:
        raise ParameterError("--genre and --target are exclusive; pass one of them")
    if not directory.is_dir():
        raise ParameterError(f"{directory} is not a directory of audio files")
    names = tuple(FAULTS) if not faults else tuple(x.strip() for x in faults.split(",") if x.strip())
    bad = [n for n in names if n not in FAULTS]
    if bad or not names:
        raise ParameterError(f"--faults={faults!r}: unknown kind(s) {', '.join(bad) or '(none given)'}; known: {', '.join(FAULTS)}")
    spec = genre or target
    opts = SuggestOptions(band_tolerance_db=3.0 if tolerance is None else tolerance)
    analyze_fn = None
    if spec:
        analyze_fn = _target_analyzer(spec, opts)
    elif tolerance is not None:  # the default target, at the tolerance the user gave
        from nomad_muse.analyzer.suggest import DEFAULT_TARGET

        analyze_fn = _target_analyzer(DEFAULT_TARGET, opts)
    with job("evaluate analyzer") as j:
        j.update(f"planting {len(names)} faults into each file of {directory}")
        res = evaluate_dir(directory, options=opts, faults=names, max_files=max_files, analyze=analyze_fn,
                           progress=lambda: j.advance("files evaluated"))
    res["target"] = spec or "default (all-styles + self-reference)"
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    from rich.table import Table

    t = Table(title=f"analyzer on {res['directory']} ({res['files']} clean files; target: {res['target']})")
    for col in ("fault", "files", "named (right kind)", "right region", "else named as"):
        t.add_column(col)
    for name, v in res["faults"].items():
        pct = lambda x: "—" if x is None else f"{100 * x:.0f} %"  # noqa: E731
        t.add_row(f"{name} ({v['description']})", str(v["files"]), pct(v["detection_rate"]), pct(v["right_region_rate"]),
                  ", ".join(f"{k} {n}" for k, n in v["missed_but_named_as"].items()) or "—")
    console.print(t)
    c = res["clean"]
    console.print(f"clean files: {c['tonal_suggestions_per_file']:.2f} tonal suggestions per file "
                  f"({c['files_with_tonal_suggestion']} of {res['files']} files have one), "
                  f"{c['stereo_suggestions_per_file']:.2f} stereo; largest move asked {res['max_move_db_asked']:g} dB",
                  highlight=False)
    if len(res["by_source"]) > 1:
        t = Table(title="per source: detection rate per fault, tonal suggestions per clean file")
        for col in ("source", "files", *res["faults"], "clean tonal/file"):
            t.add_column(col)
        for s, v in res["by_source"].items():
            t.add_row(s, str(v["files"]), *[("—" if f["detection_rate"] is None else f"{100 * f['detection_rate']:.0f} %")
                                            for f in v["faults"].values()], f"{v['clean']['tonal_suggestions_per_file']:.2f}")
        console.print(t)
    for s in res["skipped"]:
        typer.echo(f"skipped {s['file']}: {s['error']}")


def _target_analyzer(spec: str, opts):
    """``analyze(y, sr)`` comparing with the target ``spec`` (a name, a .toml, or ``auto``)."""
    from dataclasses import replace

    from nomad_muse.analyzer.engine import AnalyzerConfig, analyze_array
    from nomad_muse.analyzer.targets import load_target

    o = replace(opts, max_suggestions=max(opts.max_suggestions, 20), lufs_tolerance_lu=1e9)
    cfg = AnalyzerConfig(with_dynamics=False)
    if spec == "auto":
        from nomad_muse.analyzer.targets import auto_target

        def fn(y, sr):
            probe = analyze_array(y, sr=sr, options=o, config=cfg)
            tgt, _ = auto_target(probe)
            return analyze_array(y, sr=sr, target=tgt, options=o, config=cfg)
        return fn
    tgt = load_target(spec)
    return lambda y, sr: analyze_array(y, sr=sr, target=tgt, options=o, config=cfg)


def register(app: typer.Typer, evaluate_app: typer.Typer | None = None) -> None:
    """Add ``analyze``, the ``profiles`` sub-app and ``evaluate analyzer`` to the root ``muse`` app."""
    app.command("analyze")(analyze)
    app.add_typer(profiles_app, name="profiles")
    if evaluate_app is not None:
        evaluate_app.command("analyzer")(evaluate_analyzer)
