"""The ``muse`` command line.

User errors (:class:`~nomad_muse.errors.MuseError`) print one line on
stderr — what was wrong and what to do — and exit with status 2; no
traceback.  Each later module registers its own sub-commands here.
"""

from __future__ import annotations

import errno
import json
import logging
import sys

import typer
from rich.table import Table

from nomad_muse import __version__
from nomad_muse.errors import MuseError


def _no_type_for_flags() -> None:
    """Typer 0.2x's rich help prints a type column for every option, flags included
    (``--timeline <bool>``), which reads as if the flag took a value. A flag takes
    none: show no type for it. (Only the help text changes; parsing is click's.)"""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich


_no_type_for_flags()

app = typer.Typer(
    name="muse",
    help="Nomad Muse Edge: an on-device music-production assistant (generator, classifier, mix analyzer).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks (speed lives here, not in tests).", no_args_is_help=False)
app.add_typer(bench_app, name="bench")

evaluate_app = typer.Typer(help="Evaluate shipped models on your own data.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")
adapt_app = typer.Typer(help="Adapt shipped models to your own data, on this machine.", no_args_is_help=True)
app.add_typer(adapt_app, name="adapt")

from nomad_muse.app import cli_analyze, cli_classify, cli_generate  # noqa: E402  (module commands register themselves)

cli_analyze.register(app, evaluate_app)
cli_generate.register(app, evaluate_app, adapt_app)
cli_classify.register(app, evaluate_app, adapt_app)

from nomad_muse.app import cli_calibrate  # noqa: E402

cli_calibrate.register(app)

from nomad_muse.app import cli_hw  # noqa: E402

cli_hw.register(app, bench_app)

from nomad_muse.app import cli_live  # noqa: E402

cli_live.register(app)

from nomad_muse.app.console import console, err_console, print_rows  # noqa: E402,F401  (shared by every cli_* module)


def _info_record() -> dict:
    from nomad_muse.backends.registry import runtimes
    from nomad_muse import paths
    from nomad_muse.machine_profile import resolve
    from nomad_muse.policy import MODULES
    from nomad_muse.probe import probe
    from nomad_muse.runtime import choose

    rec = probe()
    active = resolve(fingerprint=rec.fingerprint)
    modules = {}
    for m in MODULES:
        c = choose(m, active=active)  # the one place that chooses: what the commands will load
        modules[m] = {"choice": str(c.candidates[0]) if c.candidates else None, "candidates": [str(x) for x in c.candidates],
                      "source": c.source, "model": str(c.path), "reasons": list(c.reasons)}
    shipped = sorted(p.name for p in paths.models_dir().iterdir() if p.suffix in (".onnx", ".xml", ".json"))
    return {
        "version": __version__,
        "probe": rec.to_dict(),
        "runtimes": [r.as_dict() for r in runtimes()],
        "modules": modules,
        "profile": active.source,
        "paths": {
            "models": str(paths.models_dir()),
            "profiles": str(paths.profiles_dir()),
            "data": str(paths.data_dir()),
            "cache": str(paths.cache_dir()),
        },
        "shipped_models": shipped,
    }


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print one JSON object for machines.")) -> None:
    """Probe this machine: CPU and ISA, memory, runtimes, devices, and the backend each module would use."""
    rec = _info_record()
    if as_json:
        typer.echo(json.dumps(rec, indent=2))
        return
    p = rec["probe"]
    t = Table(title=f"Nomad Muse Edge {rec['version']} — this machine", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("CPU", f"{p['cpu_model']} ({p['cpu_vendor']}, {p['arch']})")
    t.add_row("cores / threads", f"{p['physical_cores']} / {p['logical_cpus']} ({p['usable_cpus']} usable)")
    t.add_row("ISA", " ".join(p["isa"]) or "none detected")
    t.add_row("RAM", f"{p['ram_bytes'] / 2**30:.1f} GiB")
    t.add_row("OS / Python", f"{p['os']} {p['os_release']} / Python {p['python']}")
    t.add_row("fingerprint", p["fingerprint"])
    console.print(t)

    rt = Table(title="Runtimes")
    for col in ("runtime", "version", "devices / providers", "status"):
        rt.add_column(col)
    for r in rec["runtimes"]:
        devs = ", ".join(r["devices"])
        if r["name"] == "onnxruntime" and r["available"]:
            devs += f"  ({', '.join(p['ort_providers'])})"
        rt.add_row(r["name"], r["version"] or "-", devs or "-", "ok" if r["available"] else r["error"])
    console.print(rt)

    if p["ov_devices"]:
        dt = Table(title="OpenVINO devices")
        for col in ("device", "full name", "type", "optimization capabilities"):
            dt.add_column(col)
        for d in p["ov_devices"]:
            dt.add_row(d["name"], d["full_name"], d["device_type"] or "-", " ".join(d["capabilities"]))
        console.print(dt)

    mt = Table(title="Backend per module: what generate, classify, demo and live use")
    for col in ("module", "uses", "from", "fallbacks, in order"):
        mt.add_column(col, overflow="fold")
    for m, plan in rec["modules"].items():
        mt.add_row(m, plan["choice"] or "none", plan["source"], ", ".join(plan["candidates"][1:]) or "-")
    mt.add_row("analyzer", "pyFFTW (no model)", "-", "numpy.fft")
    console.print(mt)
    if rec["profile"] == "defaults":
        console.print("no machine profile in use: default policy (`muse calibrate` measures this machine and replaces it)")
    console.print("why:")
    for m, plan in rec["modules"].items():
        for reason in plan["reasons"]:
            console.print(f"  - {m}: {reason}" if not reason.startswith(m) else f"  - {reason}", highlight=False)
    console.print(f"shipped models: {', '.join(rec['shipped_models']) or 'none yet'}")
    console.print(f"models: {rec['paths']['models']}\nprofiles: {rec['paths']['profiles']}\nuser data: {rec['paths']['data']}")


@bench_app.command("floor")
def bench_floor(
    calls: int = typer.Option(3000, min=100, help="Timed calls per method and round."),
    rounds: int = typer.Option(3, min=1, help="Rounds; the best median per method is kept."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-call floor of each runtime's call paths on a no-op-sized model (µs), as ratios to the fastest."""
    from nomad_muse.hwbench.floor import measure_floor

    print_rows(
        measure_floor(calls=calls, rounds=rounds),
        as_json=as_json,
        title="Per-call floor, Relu[1,128], 1 thread (best median of rounds)",
        columns=("runtime", "call path", "median µs", "p99 µs", "× fastest"),
        cells=lambda r: (r["runtime"], r["method"], f"{r['median_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['ratio_to_fastest']:.2f}"),
    )


@bench_app.command("generator")
def bench_generator_cmd(
    steps: int = typer.Option(2000, min=100, help="Timed steps per backend and round."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Generator step latency (p50/p95/p99/max) on each backend, against the runtime's call floor."""
    from nomad_muse.hwbench.generator_bench import bench_generator

    def cells(r: dict) -> tuple[str, ...]:
        if "error" in r:
            return (r["candidate"], *["-"] * 6, r["error"][:60])
        ratio = f"{r['p50_over_floor']:.1f}×" if r["p50_over_floor"] else "-"
        return (r["candidate"], f"{r['p50_us']:.1f}", f"{r['p95_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['max_us']:.0f}", ratio,
                f"{r['sampled_token_us']:.1f}", f"{r['p99_share_of_budget'] * 100:.2f} %")

    print_rows(
        bench_generator(steps=steps),
        as_json=as_json,
        title="Generator: one decoding step, state carried, 1 thread",
        columns=("backend", "p50 µs", "p95 µs", "p99 µs", "max µs", "p50/floor", "token µs", "p99/20ms"),
        cells=cells,
    )


@bench_app.command("classifier")
def bench_classifier_cmd(
    calls: int = typer.Option(2000, min=100, help="Timed calls per backend and round."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Classifier latency per backend: one model call and the whole streaming frame (mel + model + vote)."""
    from nomad_muse.hwbench.classifier_bench import bench_classifier

    def cells(r: dict) -> tuple[str, ...]:
        if "error" in r:
            return (r["candidate"], *["-"] * 6, r["error"][:60])
        return (r["candidate"], f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['p50_over_floor']:.1f}×" if r["p50_over_floor"] else "-",
                f"{r['frame_p50_us']:.1f}", f"{r['frame_p99_us']:.1f}", f"{r['frame_p99_share_of_budget'] * 100:.2f} %", "")

    print_rows(
        bench_classifier(calls=calls),
        as_json=as_json,
        title="Classifier: model call on [1,1,128,8] and the whole 20 ms frame at 48 kHz, 1 thread",
        columns=("backend", "call p50 µs", "call p99 µs", "p50/floor", "frame p50 µs", "frame p99 µs", "p99/10ms", ""),
        cells=cells,
    )


@bench_app.command("fft")
def bench_fft_cmd(
    seconds: float = typer.Option(30.0, min=1.0, help="Seconds of stereo audio per Welch pass."),
    repeat: int = typer.Option(5, min=1, help="Repeats; the best is kept."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The analyzer's Welch pass: planned pyFFTW vs numpy.fft vs scipy.fft, as ratios to numpy.fft."""
    from nomad_muse.hwbench.fft_bench import measure_fft

    print_rows(
        measure_fft(seconds=seconds, repeat=repeat),
        as_json=as_json,
        title=f"Welch pass over {seconds:g} s stereo at 48 kHz (best of {repeat})",
        columns=("n_fft", "dtype", "method", "ms", "frames/s", "× numpy.fft"),
        cells=lambda r: (str(r["n_fft"]), r["dtype"], r["method"], f"{r['ms']:.2f}", f"{r['frames_per_s']:.0f}", f"{r['ratio_to_numpy']:.2f}"),
    )


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log warnings and fallbacks in detail."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def main() -> None:
    """Console-script entry point: run the app, turning MuseError into one line."""
    try:
        app()
    except MuseError as e:
        from nomad_muse.app.flags import user_message

        err_console.print(f"[bold red]error:[/] {user_message(e)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("stopped")
        sys.exit(130)
    except SystemExit as e:
        if e.code == 130:  # Ctrl-C: typer turns KeyboardInterrupt into exit 130, silently
            err_console.print("stopped")
        raise
    except OSError as e:  # a disk the user's files live on: read-only, full, missing folder, no permission
        if e.errno not in _USER_OS_ERRORS:
            raise
        where = f" {e.filename}" if e.filename else ""
        err_console.print(f"[bold red]error:[/] cannot use{where}: {e.strerror or e} (check the path, free space and permissions)",
                          highlight=False, soft_wrap=True)
        sys.exit(2)


#: errno values of OSErrors a user causes with a path or a disk (one line, exit 2); any other OSError is a bug
_USER_OS_ERRORS = {getattr(errno, n) for n in ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EISDIR",
                                               "ENOENT", "EEXIST", "ENAMETOOLONG", "EFBIG") if hasattr(errno, n)}


if __name__ == "__main__":
    main()
