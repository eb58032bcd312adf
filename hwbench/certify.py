"""``muse certify``: measure this machine against a spec and write a certificate (JSON + HTML).

Measures, at the tuned configuration from the machine profile (defaults when
none):

* the paced real-time simulation (:mod:`hwbench.rtsim`) for the spec's
  crash-free minutes (in a child process, so a crash is a result, not the end
  of the certification): end-to-end per-block p99, classifier frame p99,
  generator step p99, analyzer update, deadline misses, CPU % of one core,
  pipeline and process memory;
* the hardware floor (ISA, RAM, cores) from the probe;
* the system checks and cyclictest (:mod:`hwbench.syschecks`).

The verdict is :func:`hwbench.spec.judge` (pure) plus the system checks;
the result is PASS when nothing FAILs (WARNs are counted and listed with
their fixes) and the exit status is 0 only then.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import platform
import time
import traceback
from pathlib import Path

from nomad_muse.hwbench.spec import Spec, judge, overall
from nomad_muse.hwbench.syschecks import Check, evaluate_system, read_system, run_cyclictest
from nomad_muse.report import render, write_page


def _child(seconds: float, profile: str | None, q) -> None:
    try:
        from nomad_muse.machine_profile import resolve
        from nomad_muse.hwbench.rtsim import simulate

        q.put(("ok", simulate(seconds, active=resolve(profile)).as_dict()))
    except BaseException as e:  # noqa: BLE001  — a crash is the measurement
        q.put(("crash", f"{type(e).__name__}: {e}", traceback.format_exc(limit=5)))


def run_pipeline(seconds: float, profile: str | None = None) -> tuple[dict | None, str | None, float]:
    """The paced simulation in a child process: (result, crash text or None, seconds survived)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(seconds, profile, q), daemon=True)
    t0 = time.monotonic()
    p.start()
    msg = None
    deadline = t0 + seconds * 3 + 120
    while msg is None and time.monotonic() < deadline:
        try:
            msg = q.get(timeout=1.0)
        except Exception:  # queue.Empty
            if not p.is_alive():
                break
    p.join(timeout=10)
    if p.is_alive():
        p.kill()
        p.join(timeout=5)
    survived = time.monotonic() - t0
    if msg is None:
        return None, f"pipeline process ended with exit code {p.exitcode} and no result", survived
    if msg[0] == "crash":
        return None, msg[1], survived
    sim = msg[1]
    return sim, None, sim["blocks"] * sim["period_ms"] / 1000.0


def measurements(sim: dict | None, crash: str | None, survived: float, probe_rec) -> dict:
    """Turn a simulation result and the probe into :func:`hwbench.spec.judge`'s input."""
    m: dict = {"isa": list(probe_rec.isa), "arch": probe_rec.arch, "ram_gb": probe_rec.ram_bytes / 1e9,
               "cores": probe_rec.physical_cores or probe_rec.logical_cpus, "crashed": crash, "run_s": survived, "evidence": {}}
    if sim:
        ev = m["evidence"]
        m.update({
            "e2e_p99_ms": 2 * sim["period_ms"] + sim["block_work"]["p99_ms"],
            "classifier_frame_p99_ms": sim["classifier_push"]["p99_ms"],
            "generator_step_p99_ms": sim["generator_step"]["p99_ms"],
            "analyzer_update_ms": sim["analyzer_update"]["max_ms"],
            "cpu_percent": sim["cpu_percent"],
            "pipeline_mb": sim["pipeline_mb"],
            "process_rss_mb": sim["rss_after_mb"],
            "deadline_miss_percent": sim["deadline_miss_percent"],
        })
        t = sim["tuned"]
        ev["e2e_p99_ms"] = (f"input block + per-block work p99 + output block = 2 × {sim['period_ms']:.2f} ms + {sim['block_work']['p99_ms']:.2f} ms; "
                            f"{sim['blocks']} blocks of {t['block_size']} samples at {t['sample_rate']} Hz, worst work {sim['worst_block_ms']:.2f} ms, "
                            f"headroom {sim['headroom_percent']:.1f} %")
        ev["classifier_frame_p99_ms"] = f"{sim['classifier_push']['n']} frames on {sim['backends']['classifier']}, hop {t['classifier_hop_ms']} ms"
        ev["generator_step_p99_ms"] = (f"{sim['generator_step']['n']} sampled tokens on {sim['backends']['generator']} "
                                       f"({sim['tokens_per_beat']:.1f} tokens/beat at {sim['tempo_bpm']:.0f} BPM)")
        ev["analyzer_update_ms"] = f"worst of {sim['analyzer_update']['n']} report updates after 10 s of audio, FFT {t['analyzer_fft_size']}"
        ev["cpu_percent"] = f"process CPU time ÷ wall over {sim['seconds']:.0f} s paced"
        ev["pipeline_mb"] = (f"RSS {sim['rss_interpreter_mb']:.0f} MB Python + package → {sim['rss_before_mb']:.0f} MB runtimes initialised "
                             f"→ {sim['rss_after_mb']:.0f} MB pipeline running (models, buffers, FFT plans)")
        ev["process_rss_mb"] = "whole process incl. Python, ONNX Runtime and OpenVINO libraries"
        ev["deadline_miss_percent"] = (f"{sim['deadline_misses']} of {sim['blocks']} blocks ({sim['cpu_misses']} from the work itself, "
                                       f"{sim['late_starts']} late starts), at {sim['priority']}")
        ev["run_s"] = f"{sim['blocks']} blocks ({sim['blocks'] * sim['period_ms'] / 1000:.1f} s of audio) in {sim['seconds']:.1f} s without a crash"
    return m


def certify(spec: Spec, *, minutes: float | None = None, profile: str | None = None, progress=None) -> dict:
    """Measure and judge; returns the certificate as a dict (``result`` is PASS, WARN or FAIL)."""
    from nomad_muse import __version__
    from nomad_muse.machine_profile import resolve
    from nomad_muse.probe import probe

    rec = probe()
    active = resolve(profile)  # refuses a foreign/stale explicit profile before measuring anything
    seconds = (spec.crash_free_minutes if minutes is None else minutes) * 60
    if progress:
        progress(f"running the pipeline paced for {seconds:.0f} s")
    sim, crash, survived = run_pipeline(seconds, profile)
    m = measurements(sim, crash, survived, rec)
    checks = judge(spec, m)
    if progress:
        progress("system checks and cyclictest")
    checks += evaluate_system(read_system())
    checks.append(run_cyclictest(spec.cyclictest_seconds, spec.cyclictest_max_us, spec.cyclictest_warn_us))
    import numpy
    import onnxruntime
    import openvino

    return {
        "kind": "certificate",
        "result": overall(checks),
        "warnings": sum(c.status == "WARN" for c in checks),
        "failed": [c.name for c in checks if c.status == "FAIL"],
        "spec": {"name": spec.name, "version": spec.version, "path": spec.path},
        "machine": {"fingerprint": rec.fingerprint, "cpu": rec.cpu_model, "arch": rec.arch, "cores": rec.physical_cores,
                    "ram_gb": round(rec.ram_bytes / 1e9, 1), "os": f"{rec.os} {rec.os_release}", "hostname": platform.node()},
        "software": {"nomad-muse-edge": __version__, "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                     "openvino": openvino.get_version(), "numpy": numpy.__version__},
        "profile": active.source,
        "profile_notes": list(active.notes),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "checks": [c.as_dict() for c in checks],
        "simulation": sim,
    }


def certificate_html(cert: dict) -> str:
    """The certificate page (report kit template ``certificate.html``)."""
    mach = cert["machine"]
    return render("certificate.html", title=f"Certificate — {mach['cpu']}", result=cert["result"],
                  spec_name=str(cert["spec"]["name"]), spec_version=str(cert["spec"]["version"]),
                  spec_path=str(cert["spec"]["path"]),
                  machine=f"{mach['cpu']}, {mach['cores']} cores, {mach['ram_gb']} GB, {mach['os']}",
                  fingerprint=str(mach["fingerprint"]), software=", ".join(f"{k} {v}" for k, v in cert["software"].items()),
                  profile=str(cert["profile"]), date=str(cert["date"]),
                  profile_notes=[str(n) for n in cert.get("profile_notes", [])],
                  checks=[{k: ("" if c.get(k) is None else str(c.get(k))) for k in ("name", "status", "value", "threshold",
                                                                                  "evidence", "fix")}
                          for c in cert["checks"]])


def write_certificate(cert: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    j = out_dir / "certificate.json"
    h = out_dir / "certificate.html"
    from nomad_muse.paths import atomic_output

    with atomic_output(j, what="certificate") as tmp:
        tmp.write_text(json.dumps(cert, indent=2, default=str) + "\n")
    write_page(h, certificate_html(cert), what="certificate")
    return j, h


def check_rows(checks: list[dict]) -> list[Check]:
    return [Check(**c) for c in checks]
