"""``muse bench`` (the suite, history, compare), ``muse certify`` and ``muse bundle``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nomad_muse.settings import BLOCK_SIZES

_BLOCKS = ", ".join(map(str, BLOCK_SIZES))


def _out():
    from nomad_muse.app import console

    return console.console, console.print_rows


def register(app: typer.Typer, bench_app: typer.Typer) -> None:

    @bench_app.callback(invoke_without_command=True)
    def bench(
        ctx: typer.Context,
        quick: bool = typer.Option(False, "--quick", help="Few calls, one block size, 5 s real-time run (CI)."),
        out: Path = typer.Option(Path("out/bench"), "--out", help="Folder for bench.json and bench.html."),
        realtime_s: float = typer.Option(None, "--realtime-s", min=1.0, help="Seconds of paced real-time simulation (default 60, quick 5)."),
        block_size: int = typer.Option(None, "--block-size",
                                       help=f"Block (samples) of the real-time run: one of {_BLOCKS} (default: the profile's)."),
        as_json: bool = typer.Option(False, "--json", help="Print the whole result as JSON."),
    ) -> None:
        """The benchmark matrix (module × backend × device × precision × size), same-run baselines and the real-time simulation.

        Writes OUT/bench.json and OUT/bench.html and stores the run in the history (`muse bench history`).
        Sub-commands run single benchmarks."""
        console, print_rows = _out()
        if ctx.invoked_subcommand is not None:
            return
        from nomad_muse.app.progress import job
        from nomad_muse.machine_profile import RunStore
        from nomad_muse.hwbench.html import write_bench_html
        from nomad_muse.hwbench.suite import run_suite

        with job("bench") as j:
            res = run_suite(quick=quick, realtime_s=realtime_s, block_size=block_size, progress=j.update)
        from nomad_muse.paths import atomic_output

        out.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / "bench.json", what="--out") as tmp:
            tmp.write_text(json.dumps(res, indent=2, default=str) + "\n")
        write_bench_html(res, out / "bench.html")
        with RunStore() as store:
            run_id = store.add("bench", res, summary="; ".join(res["summary"][:2]), fingerprint=res["machine"]["fingerprint"])
            notes = store.notes
        res["run_id"] = run_id
        if as_json:
            typer.echo(json.dumps(res, indent=2, default=str))
            return

        def cells(r):
            if "error" in r:
                return (r["module"], f"{r['backend']}/{r['device']}/{r['precision']}", r["size"], *["-"] * 7, r["error"][:50])
            f = lambda k, fmt="{:.1f}": fmt.format(r[k]) if r.get(k) is not None else "-"  # noqa: E731
            return (r["module"], f"{r['backend']}/{r['device']}/{r['precision']}", r["size"], f("median_us"), f("p99_us"), f("max_us"),
                    f("cpu_percent_one_core", "{:.2f}"), f("vs_floor", "{:.1f}×"), f("vs_fp32", "{:.2f}×"), f("vs_torch", "{:.1f}×"), "")

        print_rows(res["matrix"], as_json=False, title=f"muse bench (run {run_id})",
                   columns=("module", "backend", "size", "median µs", "p99 µs", "max µs", "CPU % 1 core", "× floor", "× FP32", "× torch", ""),
                   cells=cells)
        for s in res["summary"]:
            console.print(f"• {s}", highlight=False)
        for n in list(res["profile_notes"]) + notes:
            console.print(f"note: {n}", highlight=False)
        console.print(f"wrote {out / 'bench.json'} and {out / 'bench.html'}", highlight=False)

    @bench_app.command("history")
    def bench_history(
        limit: int = typer.Option(20, min=1, help="How many runs, newest first."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Benchmark, calibration and certification runs stored on this machine, newest first."""
        console, print_rows = _out()
        from nomad_muse.machine_profile import RunStore

        with RunStore() as store:
            rows = store.list(limit=limit)
        if not rows and not as_json:
            console.print("no runs yet: `muse bench --quick` stores the first")
            return
        print_rows(rows, as_json=as_json, title="Run history", columns=("id", "kind", "date", "summary"),
                   cells=lambda r: (str(r["id"]), r["kind"], r["created"], (r["summary"] or "")[:100]), wrap=("summary",))

    @bench_app.command("compare")
    def bench_compare(
        run_a: int = typer.Argument(..., help="Earlier run id (see `muse bench history`)."),
        run_b: int = typer.Argument(..., help="Later run id."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Cell-by-cell change between two benchmark runs (ratios b/a: < 1 is faster)."""
        console, print_rows = _out()
        from nomad_muse.errors import ParameterError
        from nomad_muse.machine_profile import RunStore
        from nomad_muse.hwbench.suite import compare

        with RunStore() as store:
            a, b = store.get(run_a), store.get(run_b)
        for r in (a, b):
            if r["kind"] != "bench":
                raise ParameterError(f"run {r['id']} is a {r['kind']} run, not a benchmark; pick two ids of kind bench from `muse bench history`")
        rows = compare(a["payload"], b["payload"])
        if not rows:
            raise ParameterError(f"runs {run_a} and {run_b} share no cells to compare (different machines or module sets?)")
        print_rows(rows, as_json=as_json, title=f"bench {run_a} → {run_b} (ratio b/a; < 1 is faster)",
                   columns=("cell", "median a µs", "median b µs", "× median", "p99 a µs", "p99 b µs", "× p99"),
                   cells=lambda r: (r["cell"], f"{r['a_median_us']:.1f}", f"{r['b_median_us']:.1f}", f"{r['median_ratio']:.2f}",
                                    f"{r['a_p99_us']:.1f}", f"{r['b_p99_us']:.1f}", f"{r['p99_ratio']:.2f}"))

    @app.command()
    def certify(
        spec: Path = typer.Option(None, "--spec", help="Spec TOML (default: the shipped profiles/minimum-spec.toml)."),
        minutes: float = typer.Option(None, "--minutes", help="Paced run length in minutes; at least the spec's crash_free_minutes "
                                      "(2 for the shipped minimum spec), which is also the default."),
        profile: Path = typer.Option(None, "--profile", help="Machine profile to certify (default: this machine's)."),
        out: Path = typer.Option(Path("out/certify"), "--out", help="Folder for certificate.json and certificate.html."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Certify this machine against the minimum spec: PASS / WARN / FAIL per criterion; exit 0 only without FAIL."""
        console, print_rows = _out()
        from rich.table import Table

        from nomad_muse.machine_profile import RunStore
        from nomad_muse.hwbench.certify import certify as run_certify
        from nomad_muse.hwbench.certify import write_certificate
        from nomad_muse.hwbench.spec import load_spec

        sp = load_spec(spec)
        if minutes is not None and not minutes >= sp.crash_free_minutes:
            from nomad_muse.errors import ParameterError

            raise ParameterError(f"--minutes {minutes:g}: the spec {sp.name} needs a crash-free run of at least "
                                 f"{sp.crash_free_minutes:g} minutes; pass --minutes ≥ {sp.crash_free_minutes:g} or leave it out")
        from nomad_muse.app.progress import job

        with job("certify") as j:
            cert = run_certify(sp, minutes=minutes, profile=str(profile) if profile else None, progress=j.update)
        j, h = write_certificate(cert, out)
        with RunStore() as store:
            fails = [c["name"] for c in cert["checks"] if c["status"] == "FAIL"]
            store.add("certify", cert, summary=f"{cert['result']} against {sp.name}" + (f": {', '.join(fails)}" if fails else ""),
                      fingerprint=cert["machine"]["fingerprint"])
        if as_json:
            typer.echo(json.dumps(cert, indent=2, default=str))
        else:
            t = Table(title=f"muse certify — {sp.name} {sp.version}")
            for col in ("criterion", "result", "measured", "threshold", "fix"):
                t.add_column(col)
            style = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}
            for c in cert["checks"]:
                t.add_row(c["name"], f"[{style[c['status']]}]{c['status']}[/]", c["value"], c["threshold"], c["fix"])
            console.print(t)
            for n in cert["profile_notes"]:
                console.print(f"note: {n}", highlight=False)
            if cert["failed"]:
                console.print(f"failed: {', '.join(cert['failed'])}", highlight=False, soft_wrap=True)
            console.print(f"result: [{style[cert['result']]}]{cert['result']}[/] ({cert['warnings']} warnings) — wrote {j} and {h}",
                          highlight=False, soft_wrap=True)
        if cert["result"] == "FAIL":
            raise typer.Exit(1)

    @app.command()
    def bundle(
        out: str = typer.Option(..., "-o", "--out", help="The bundle to write, e.g. rig.tar.gz (DIR/ writes DIR/muse-rig.tar.gz)."),
        profile: Path = typer.Option(None, "--profile", help="Machine profile to ship (default: this machine's, if calibrated)."),
        target_python: str = typer.Option(None, "--target-python", help="Rig's Python, e.g. 3.11 (default: this one)."),
        wheels: str = typer.Option("env", "--wheels", help="env: repack this environment's packages (offline); index: pip download."),
    ) -> None:
        """A deployable bundle: calibrated models, profile, FFTW wisdom, a wheelhouse for `pip --no-index`, install.sh and a systemd unit."""
        console, print_rows = _out()
        from nomad_muse.app.progress import job
        from nomad_muse.hwbench.bundle import make_bundle
        from nomad_muse.paths import output_path

        out = output_path(out, "muse-rig.tar.gz", what="--out")

        with job("bundle") as j:
            man = make_bundle(out, profile=profile, target_python=target_python, wheels=wheels,
                              progress=lambda name: j.advance(f"wheel {name}"))
        console.print(f"wrote {man['out']} ({man['bytes'] / 2**20:.0f} MB): {len(man['wheels'])} wheels for Python {man['python']} on {man['arch']}, "
                      f"profile {'included' if man['profile'] else 'none'}", highlight=False)
        for n in man["notes"]:
            console.print(f"note: {n}", highlight=False)
        console.print(f"on the rig: tar xzf {Path(man['out']).name} && sh muse-rig/install.sh", highlight=False)

    @app.command()
    def serve(
        profile: Path = typer.Option(None, "--profile", help="Machine profile (default: this machine's, else defaults)."),
        audio_device: str = typer.Option(None, "--audio-device", help="Device index or name part (default: the JACK device)."),
        midi_in: str = typer.Option(None, "--midi-in", help="MIDI port to read (name part); 'none' for off."),
        midi_out: str = typer.Option(None, "--midi-out", help="MIDI port to write (name part); 'none' for off."),
        log_file: Path = typer.Option(None, "--log-file", help="Log file (default: <data dir>/serve.log)."),
        status_file: Path = typer.Option(None, "--status-file", help="Status JSON, replaced about once a second (default: <data dir>/status.json)."),
        retry_s: float = typer.Option(2.0, "--retry-s", min=0.1, help="Seconds between attempts while the audio server is away."),
        duration: float = typer.Option(None, "--duration", min=1.0, help="Stop after this many seconds (default: until SIGTERM/Ctrl-C)."),
        ui: bool = typer.Option(False, "--ui", help="Also serve the live view on 127.0.0.1 (prints the URL; docs/ui.md)."),
        port: int = typer.Option(None, "--port", help="Port of the live view (with --ui; default: a free port)."),
    ) -> None:
        """Headless mode for a rig: the live engine from the profile, logged to a file, with a status file; restarts the
        audio connection when the audio server comes back. Stops cleanly on SIGTERM (systemd) or Ctrl-C."""
        console, _ = _out()
        from nomad_muse.paths import data_dir
        from nomad_muse.app.serve import serve as run_serve

        lf = log_file or data_dir() / "serve.log"
        sf = status_file or data_dir() / "status.json"
        from nomad_muse.app.serve import plan_ui

        if port is not None and not ui:
            from nomad_muse.errors import ParameterError

            raise ParameterError(f"--port {port}: needs --ui (the port of the live view)")
        view = plan_ui(port) if ui else None
        console.print(f"muse serve: log {lf}, status {sf} (stop with Ctrl-C or SIGTERM)", highlight=False)
        if view is not None:
            console.print(f"live view: {view['url']}", highlight=False, soft_wrap=True)
            console.file.flush()
        code = run_serve(profile=str(profile) if profile else None, audio_device=audio_device, midi_in=midi_in, midi_out=midi_out,
                         log_file=lf, status_file=sf, retry_s=retry_s, duration=duration, ui=view)
        raise typer.Exit(code)
