"""CLI: ``muse calibrate`` and ``muse profile show | export | import | reset``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nomad_muse.errors import ParameterError

console = Console(width=max(150, Console().width))  # the tables are wide; never squash them to 80 columns in logs


def _fmt_ms(v) -> str:
    return "" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def variants_table(module: str, res: dict) -> Table:
    """One row per candidate: how it was made, the gate, latency, speed-up over FP32, chosen."""
    speed = {r["candidate"]: r for r in res.get("int8_speedup", [])}
    t = Table(title=f"{module}: variants (latency per call, ms)")
    for col in ("candidate", "made by", "gate", "median", "p95", "p99", "max", "× FP32 (median/p99)", "chosen"):
        t.add_column(col, no_wrap=col not in ("gate", "made by"))
    for r in res["rows"]:
        lat = r.get("latency") or {}
        g = r.get("gate")
        if r.get("error"):
            gate = f"[red]error[/]: {r['error']}"
        elif g is None:
            gate = ""
        elif g["passed"]:
            m = {k: g[k] for k in ("drop_pts", "top1_agreement", "nll_increase") if k in g}
            gate = "[green]pass[/] " + ", ".join(f"{k} {v:g}" for k, v in m.items()) + (" (reference)" if r.get("reference") else "")
        else:
            gate = f"[red]reject[/]: {g['reason']}"
        s = speed.get(r["candidate"])
        ratio = f"{s['median_speedup']:.2f} / {s['p99_speedup']:.2f}" if s else ""
        t.add_row(r["candidate"], r.get("method", ""), gate, _fmt_ms(lat.get("median_ms")), _fmt_ms(lat.get("p95_ms")),
                  _fmt_ms(lat.get("p99_ms")), _fmt_ms(lat.get("max_ms")), ratio, "✓" if r["candidate"] == res.get("chosen") else "")
    return t


def tune_table(tune: dict) -> Table:
    b = tune.get("budget", {})
    t = Table(title=f"auto-tuner (budget {b.get('e2e_ms', '?')} ms end-to-end, margin +{100 * b.get('margin', 0):g} %)")
    for col in ("part", "candidate", "measured", "chosen", "why"):
        t.add_column(col)
    for r in tune.get("table", []):
        t.add_row(r["part"], r["candidate"], r["measured"], "✓" if r["chosen"] else "", r["why"])
    return t


def _print_profile(prof, *, source: str, notes=()) -> None:
    from nomad_muse.machine_profile import TunedConfig

    console.print(f"[bold]machine profile[/] {source}")
    console.print(f"  calibrated {prof.created}, fingerprint {prof.fingerprint}, budget {prof.budget_ms:g} ms, mode {prof.measurements.get('mode', '?')}")
    t = Table(title="per module")
    for col in ("module", "backend", "model", "p99 ms", "why"):
        t.add_column(col)
    for m, c in prof.modules.items():
        t.add_row(m, str(c.candidate), str(c.model_path()), _fmt_ms(c.p99_ms), c.why)
    console.print(t)
    mods = prof.measurements.get("modules", {})
    for m, res in mods.items():
        if res.get("rows"):
            console.print(variants_table(m, res))
    tuned = prof.tuned
    d = TunedConfig()
    rows = [(k, getattr(tuned, k), getattr(d, k)) for k in tuned.__dataclass_fields__]
    t = Table(title="tuned sizes")
    for col in ("setting", "profile", "default"):
        t.add_column(col)
    for k, v, dv in rows:
        t.add_row(k, str(v), str(dv))
    console.print(t)
    tune = prof.measurements.get("tune")
    if tune:
        console.print(tune_table(tune))
        if not tune.get("ok"):
            console.print(f"[yellow]{tune.get('reason')}[/]")
    fftw = prof.measurements.get("fftw", {})
    if fftw:
        if "skipped" in fftw:
            console.print(f"FFTW wisdom: {fftw['skipped']}")
        else:
            console.print(f"FFTW wisdom: {fftw['flag']} for sizes {fftw['sizes']} ({fftw['dtypes']}), {fftw['seconds']} s, in {fftw['dir']}")
    for n in list(prof.measurements.get("notes", [])) + list(notes):
        console.print(f"  note: {n}")


def register(app: typer.Typer) -> None:
    @app.command()
    def calibrate(
        budget_ms: float = typer.Option(20.0, "--budget-ms", help="End-to-end audio latency budget (ms)."),
        quick: bool = typer.Option(False, "--quick", help="Fewer timed calls and a 2 000-block replay (CI)."),
        thorough: bool = typer.Option(False, "--thorough", help="More calls, a 30 000-block replay, FFTW_PATIENT."),
        blocks: int | None = typer.Option(None, "--blocks", help="Replay length in blocks (default 10 000; quick 2 000)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Measure this machine: INT8 variants (gated), fastest backend per module, FFTW wisdom, tuned sizes; write the profile."""
        from nomad_muse.app.progress import job
        from nomad_muse.calibration.calibrate import CalibrationOptions, run_calibration

        if quick and thorough:
            raise ParameterError("give --quick or --thorough, not both")
        opts = CalibrationOptions(budget_ms=budget_ms, mode="quick" if quick else "thorough" if thorough else "default", replay_blocks=blocks)
        with job("calibrate", total=1.0) as j:
            rep = run_calibration(opts, lambda msg, f: j.update(msg, completed=f))
        if as_json:
            typer.echo(json.dumps(rep.profile.to_dict() | {"profile_path": str(rep.profile_path), "budget_met": rep.budget_met,
                                                           "seconds": rep.seconds}, indent=2, default=str))
        else:
            for m, res in rep.modules.items():
                console.print(variants_table(m, res))
                console.print(f"  → {m}: [bold]{res['chosen']}[/] — {res['why']}")
            console.print(tune_table(rep.tune))
            for n in rep.notes:
                console.print(f"  note: {n}")
            last = (rep.tune.get("attempts") or [{}])[-1].get("replay")
            if last:
                console.print(f"replay: {last['blocks']} blocks at block {rep.tune['attempts'][-1]['config']['block_size']}, "
                              f"{last['misses']} deadline misses ({last['cpu_misses']} from the work itself), priority {last['priority']}")
            console.print(f"profile written to {rep.profile_path} (run {rep.run_id} in the history) in {rep.seconds:.0f} s")
        if not rep.budget_met:
            typer.echo(f"{rep.tune['reason']}", err=True)
            raise typer.Exit(1)

    profile_app = typer.Typer(help="The machine profile `muse calibrate` writes: show, export, import, reset.", no_args_is_help=True)
    app.add_typer(profile_app, name="profile")

    @profile_app.command("show")
    def show(
        profile: Path | None = typer.Option(None, "--profile", help="Show this profile file instead of the active one."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """What the runtime uses here and why (backend per module, tuned sizes, the measurements behind them)."""
        from nomad_muse.machine_profile import resolve

        from nomad_muse.classifier import adapter as classifier_adapter
        from nomad_muse.classifier.stream import default_model_path
        from nomad_muse.generator import adapter as generator_adapter
        from nomad_muse.generator.engine import default_model_path as generator_model_path

        active = resolve(profile)
        adapters = {"classifier": classifier_adapter.adapter_summary(default_model_path()),
                    "generator": generator_adapter.adapter_summary(generator_model_path())}
        if as_json:
            out = {"source": active.source, "notes": list(active.notes), "tuned": active.tuned.__dict__,
                   "profile": active.profile.to_dict() if active.profile else None, "adapters": adapters}
            typer.echo(json.dumps(out, indent=2, default=str))
            return
        ad = adapters["classifier"]
        console.print(f"classifier adapter: {ad['file']} (held-out accuracy {ad['held_out_accuracy_shipped']:.3f} shipped -> "
                      f"{ad['held_out_accuracy_adapted']:.3f} adapted; muse adapt classifier --reset removes it)" if ad else
                      "classifier adapter: none (muse adapt classifier DIR fits one to your samples)")
        ad = adapters["generator"]
        console.print(f"generator adapter: {ad['file']} (held-out NLL per token {ad['held_out_nll_shipped']:.3f} shipped -> "
                      f"{ad['held_out_nll_adapted']:.3f} adapted; muse adapt generator --reset removes it)" if ad else
                      "generator adapter: none (muse adapt generator DIR fits one to your MIDI)")
        if active.profile is None:
            console.print("[bold]no machine profile in use[/]: built-in defaults")
            for n in active.notes:
                console.print(f"  {n}")
            t = Table(title="default sizes")
            t.add_column("setting")
            t.add_column("value")
            for k, v in active.tuned.__dict__.items():
                t.add_row(k, str(v))
            console.print(t)
            return
        _print_profile(active.profile, source=active.source, notes=active.notes)

    @profile_app.command("export")
    def export(file: Path = typer.Argument(..., help="Where to write the profile (JSON).")) -> None:
        """Copy the current profile to FILE (readable JSON)."""
        from nomad_muse.machine_profile import default_profile_path, read_profile

        prof = read_profile(default_profile_path())
        if file.exists() and file.is_dir():
            raise ParameterError(f"{file} is a directory; give a file name, e.g. {file / 'profile.json'}")
        prof.save(file)
        console.print(f"exported {default_profile_path()} → {file}")

    @profile_app.command("import")
    def import_(file: Path = typer.Argument(..., help="A profile exported on this machine.")) -> None:
        """Make FILE the current profile (refused if it is another machine's or its models changed)."""
        from nomad_muse.machine_profile import RunStore, adopt_files, check_profile, default_profile_path, read_profile
        from nomad_muse.probe import probe

        prof = read_profile(file)
        fp = probe().fingerprint
        check_profile(prof, fp, source=f"profile {file}")
        prof = adopt_files(prof, source=f"profile {file}")  # outside variants hash-checked and copied in
        dest = prof.save(default_profile_path())
        with RunStore() as store:
            store.add("profile-import", {"from": str(file)}, summary=f"imported {file}", fingerprint=fp)
            for n in store.notes:
                console.print(f"note: {n}")
        console.print(f"imported {file} → {dest}")

    @profile_app.command("reset")
    def reset() -> None:
        """Remove the current profile and the INT8 variants; the runtime goes back to its defaults (history kept)."""
        from nomad_muse.machine_profile import RunStore, default_profile_path
        from nomad_muse.paths import data_dir

        p = default_profile_path()
        removed = []
        if p.exists():
            p.unlink()
            removed.append(str(p))
        variants = data_dir() / "models"
        if variants.is_dir():
            shutil.rmtree(variants)
            removed.append(str(variants))
        with RunStore() as store:
            store.add("profile-reset", {"removed": removed}, summary="profile reset")
            for n in store.notes:
                console.print(f"note: {n}")
        console.print("removed " + ", ".join(removed) if removed else "no profile to remove: defaults were already in use")
