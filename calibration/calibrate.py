"""``muse calibrate``: measure this machine and write its profile.

Steps (issue 7):

1. probe the hardware; list candidates per module — ONNX Runtime CPU,
   OpenVINO CPU, OpenVINO on each Intel GPU; FP32, INT8 and bf16/fp16 where
   the device reports it;
2. make INT8 variants with NNCF from the shipped calibration data
   (:mod:`calibration.quantize`; weight-only for the recurrent generator);
3. gate every variant against FP32 on the shipped validation data
   (:mod:`calibration.gate`);
4. time every surviving variant (:mod:`calibration.measure`) and choose per
   module by measurement (:mod:`calibration.select`);
5. plan FFTW wisdom for the analyzer (:mod:`calibration.wisdom`);
6. measure the per-block costs, auto-tune the sizes (:mod:`calibration.autotune`)
   and prove the winner by replay (:mod:`calibration.replay`), stepping back
   on any deadline miss;
7. write ``profile.json`` and a history record (:mod:`nomad_muse.machine_profile`).

A module whose shipped model is missing is skipped with a note (the profile
then leaves it to the defaults); a variant that fails to build, load or pass
the gate is kept in the report with the reason.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate, first_line
from nomad_muse.errors import BackendError, MuseError, ParameterError
from nomad_muse.machine_profile import (
    MachineProfile,
    ModuleChoice,
    RunStore,
    TunedConfig,
    default_profile_path,
    model_file_sha256,
    sha256_file,
)

log = logging.getLogger(__name__)

STATE = {"h": "h_out"}
SAMPLE_RATE = 48000


@dataclass(frozen=True)
class ModeSettings:
    """How hard each step works: timed calls per round, p99-stability rounds, replay blocks, FFTW planner."""

    warmup: int
    calls: int
    max_rounds: int
    replay_blocks: int
    overhead_blocks: int
    analyzer_seconds: float
    patient: bool = False


MODES = {
    "quick": ModeSettings(warmup=100, calls=300, max_rounds=3, replay_blocks=2_000, overhead_blocks=400, analyzer_seconds=4.0),
    "default": ModeSettings(warmup=300, calls=2000, max_rounds=5, replay_blocks=10_000, overhead_blocks=2_000, analyzer_seconds=10.0),
    "thorough": ModeSettings(warmup=500, calls=5000, max_rounds=8, replay_blocks=30_000, overhead_blocks=5_000, analyzer_seconds=20.0, patient=True),
}


@dataclass(frozen=True)
class CalibrationOptions:
    """``budget_ms``: end-to-end audio budget (ms); ``mode``: quick/default/thorough;
    ``replay_blocks`` overrides the mode's replay length; ``variants_dir`` where INT8 files go
    (default ``data_dir()/models``); ``write`` the profile and history."""

    budget_ms: float = 20.0
    mode: str = "default"
    replay_blocks: int | None = None
    variants_dir: Path | None = None
    write: bool = True
    profile_path: Path | None = None
    model_dir: Path | None = None  # where the FP32 models are read from (default: the shipped models/)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"mode={self.mode!r} must be one of {', '.join(MODES)}")
        if self.replay_blocks is not None and self.replay_blocks < 100:
            raise ParameterError(f"replay_blocks={self.replay_blocks} must be >= 100", field="replay_blocks")
        from nomad_muse.calibration.autotune import Budget

        Budget(e2e_ms=self.budget_ms)  # validates before any work starts


@dataclass
class CalibrationReport:
    profile: MachineProfile | None
    profile_path: Path | None
    modules: dict = field(default_factory=dict)
    tune: dict = field(default_factory=dict)
    fftw: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    budget_met: bool = False
    seconds: float = 0.0
    run_id: int | None = None


Progress = Callable[[str, float], None]  # (step description, fraction of the whole run done)


def candidates_for(probe) -> list[Candidate]:
    """Every runtime/device/precision to try on this machine (the issue's step 1)."""
    out: list[Candidate] = []
    if "onnxruntime" in probe.runtimes and "CPUExecutionProvider" in probe.ort_providers:
        out += [Candidate("onnxruntime", "CPU", "fp32"), Candidate("onnxruntime", "CPU", "int8")]
    if "openvino" in probe.runtimes:
        for d in probe.ov_devices:
            if d.name == "CPU":
                out += [Candidate("openvino", "CPU", "fp32"), Candidate("openvino", "CPU", "int8")]
                if "BF16" in d.capabilities:
                    out.append(Candidate("openvino", "CPU", "bf16"))
            elif d.is_intel_gpu:
                out += [Candidate("openvino", d.name, "fp32"), Candidate("openvino", d.name, "int8")]
                if "FP16" in d.capabilities:
                    out.append(Candidate("openvino", d.name, "fp16"))
    return out


def _software() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("onnxruntime", "openvino", "nncf", "numpy", "pyfftw", "onnx"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


class ModuleCalibration:
    """What calibrating one module needs (a strategy per module): its files, its model contract,
    calibration data, reference outputs, the accuracy gate and the latency feed."""

    name = ""

    def __init__(self, src: Path):
        self.src = src
        self.state = None
        self.sets = self.load_sets()

    def load_sets(self):
        raise NotImplementedError

    def feeds(self) -> list[dict]:
        raise NotImplementedError

    def outputs(self, model):
        raise NotImplementedError

    def verdict(self, ref, out):
        raise NotImplementedError

    def feed_fn(self):
        raise NotImplementedError


class ClassifierCalibration(ModuleCalibration):
    name = "classifier"

    def load_sets(self):
        from nomad_muse.calibration import data

        return data.classifier_sets()

    def feeds(self) -> list[dict]:
        return self.sets.calib_feeds(300)

    def outputs(self, model):
        """Logits on the validation windows — through the user's adapter for the shipped file when there is
        one (``muse adapt classifier``), so the gate judges the logits the commands will use."""
        from nomad_muse.calibration import gate
        from nomad_muse.classifier.adapter import with_source_adapter

        return gate.classifier_logits(with_source_adapter(model, self.src), self.sets.val_x), self.sets.val_y

    def verdict(self, ref, out):
        from nomad_muse.calibration import gate

        return gate.classifier_gate(ref[0], out[0], ref[1])

    def feed_fn(self):
        from nomad_muse.calibration import measure

        return measure.classifier_feed(self.sets.val_x)


class GeneratorCalibration(ModuleCalibration):
    name = "generator"

    def __init__(self, src: Path):
        super().__init__(src)
        self.state = STATE

    def load_sets(self):
        from nomad_muse.calibration import data

        return data.generator_sets()

    def feeds(self) -> list[dict]:
        from nomad_muse.backends.registry import get_backend
        from nomad_muse.calibration import data

        m = get_backend("onnxruntime").load(self.src) if _has_runtime("onnxruntime") else get_backend("openvino").load(self.src)
        return data.generator_calib_feeds(m, self.sets.calib, n=300)

    def outputs(self, model):
        """Logits on the validation streams — through the user's adapter for the shipped file when there is
        one (``muse adapt generator``), so the gate judges the logits the commands will use."""
        from nomad_muse.calibration import gate
        from nomad_muse.generator.adapter import AdaptedStepModel, load_adapter

        ad = load_adapter(self.src)
        return gate.generator_logits(AdaptedStepModel(model, ad) if ad is not None else model, self.sets.val)

    def verdict(self, ref, out):
        from nomad_muse.calibration import gate

        return gate.generator_gate(ref[0], out[0], ref[1])

    def feed_fn(self):
        from nomad_muse.calibration import measure

        return measure.generator_feed(np.concatenate(self.sets.val))


#: module name -> its calibration strategy
STRATEGIES: dict[str, type[ModuleCalibration]] = {"generator": GeneratorCalibration, "classifier": ClassifierCalibration}


def _has_runtime(name: str) -> bool:
    from nomad_muse.backends.registry import get_backend

    try:
        get_backend(name)
    except BackendError:
        return False
    return True


def calibrate_module(name: str, src: Path, probe, settings: ModeSettings, out_dir: Path, progress: Progress | None = None, span=(0.0, 1.0)) -> dict:
    """Variants, gate, latency and choice for one module. Returns the rows, notes, speed-ups and the selection."""
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.calibration import measure
    from nomad_muse.calibration.quantize import make_int8_variants
    from nomad_muse.calibration.select import choose, int8_speedups

    def tick(msg: str, f: float) -> None:
        if progress:
            progress(f"{name}: {msg}", span[0] + (span[1] - span[0]) * f)

    mod = STRATEGIES[name](src)
    cands = candidates_for(probe)
    notes: list[str] = []
    tick("INT8 quantization (NNCF)", 0.0)
    runtimes = sorted({c.runtime for c in cands if c.precision == "int8"})
    devices = sorted({c.device for c in cands if c.runtime == "openvino" and c.precision == "int8"})
    try:
        variants, qnotes = make_int8_variants(name, src, mod.feeds, out_dir / name, runtimes=runtimes, devices=devices or ("CPU",))
    except MuseError as e:
        variants, qnotes = [], [f"{name}: INT8 not made ({e})"]
    notes += qnotes
    int8_path = {str(v.candidate): v for v in variants}
    rows: list[dict] = []
    # the FP32 reference: the first FP32 candidate that loads (ORT first when installed)
    ref = ref_key = None
    for cand in (c for c in cands if c.precision == "fp32"):
        try:
            ref = mod.outputs(get_backend(cand.runtime).load(src, device=cand.device, precision="fp32", state=mod.state))
            ref_key = str(cand)
            break
        except BackendError as e:
            notes.append(f"{name}: {cand} cannot serve as the FP32 reference ({first_line(e)})")
    for i, cand in enumerate(cands):
        tick(f"{cand}: gate + latency", 0.2 + 0.8 * i / max(1, len(cands)))
        key = str(cand)
        if cand.precision == "int8":
            v = int8_path.get(key)
            if v is None:
                rows.append({"candidate": key, "error": "no INT8 file for this runtime (see notes)"})
                continue
            row = {"candidate": key, "path": str(v.path), "method": v.method, "note": v.note}
        else:
            row = {"candidate": key, "path": str(src), "method": "shipped FP32 file" + ("" if cand.precision == "fp32" else f", {cand.precision} inference hint")}
        try:
            model = get_backend(cand.runtime).load(row["path"], device=cand.device, precision=cand.precision, state=mod.state)
            out = mod.outputs(model)
        except BackendError as e:
            row["error"] = first_line(e)
            rows.append(row)
            continue
        if ref is None:
            row["error"] = "no FP32 reference could be loaded to gate it against"
            rows.append(row)
            continue
        if key == ref_key:
            row["reference"] = True
        g = mod.verdict(ref, out)
        row["gate"] = {"passed": g.passed, "reason": g.reason, **g.metrics}
        # rejected variants are timed too (never chosen): the report shows what the gate cost in speed
        if mod.state:
            model.reset_state()
        lat = measure.model_latency(model, mod.feed_fn(), warmup=settings.warmup, calls=settings.calls, max_rounds=settings.max_rounds)
        row["latency"] = lat.as_dict()
        rows.append(row)
    sel = choose(name, probe, rows)
    tick("done", 1.0)
    return {"rows": rows, "notes": notes, "int8_speedup": int8_speedups(rows), "selection": sel}


def _choice(name: str, sel, src: Path) -> ModuleChoice | None:
    if sel.chosen is None:
        return None
    c = Candidate.parse(sel.chosen["candidate"])
    p = Path(sel.chosen["path"])
    from nomad_muse.paths import models_dir

    shipped = p.parent.resolve() == models_dir().resolve()
    return ModuleChoice(
        module=name, runtime=c.runtime, device=c.device, precision=c.precision,
        model=p.name if shipped else str(p.resolve()), model_sha256=model_file_sha256(p),
        p99_ms=float(sel.chosen["latency"]["p99_ms"]), why=sel.why,
        source_model=src.name, source_sha256=sha256_file(src),
    )


def measure_timings(*, classifier, generator, tokens_per_beat: float, settings: ModeSettings, sr: int = SAMPLE_RATE) -> dict:
    """The auto-tuner's inputs (p99, ms) measured on the real components (see :class:`calibration.autotune.Timings`)."""
    from nomad_muse.backends.registry import get_backend
    from nomad_muse.calibration import autotune, measure, replay
    from nomad_muse.analyzer.engine import Analyzer, AnalyzerConfig
    from nomad_muse.classifier.features import SR_TRAIN, Resampler, frame_params, logmel_frame
    from nomad_muse.classifier.adapter import with_source_adapter
    from nomad_muse.classifier.stream import ClassifierConfig, StreamingClassifier

    kw = dict(warmup=settings.warmup, calls=settings.calls, max_rounds=settings.max_rounds)
    # classifier: one hop of input resampled to 22.05 kHz plus one mel frame (the serving feature path)
    n_fft, hop = frame_params(SR_TRAIN)
    seg = (np.random.default_rng(0).standard_normal(n_fft) * 0.1).astype(np.float32)
    rs = Resampler(sr, SR_TRAIN)
    hop_in = (np.random.default_rng(1).standard_normal(int(round(hop * sr / SR_TRAIN))) * 0.1).astype(np.float32)
    frame = measure.time_calls(lambda i: (rs.push(hop_in), logmel_frame(seg, SR_TRAIN)), **kw)
    cls_call = 0.0
    if classifier is not None:
        from nomad_muse.calibration import data

        path, cand, *src = classifier
        m = with_source_adapter(get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision), (src or [None])[0])
        cls_call = measure.model_latency(m, measure.classifier_feed(data.classifier_sets().val_x), **kw).p99_ms
    gen_step = 0.0
    if generator is not None:
        step = replay._generator_stepper(*generator)
        gen_step = measure.time_calls(lambda i: step(), **kw).p99_ms
    # analyzer: one ingest of a Welch hop (n_fft/2 stereo samples) and one update, per FFT size
    mix = replay.replay_mix(sr)
    chunk, update = {}, {}
    for n in autotune.FFT_SIZES:
        an = Analyzer(sr=sr, channels=2, config=AnalyzerConfig(n_fft=n))
        h = n // 2
        nh = mix.shape[0] // h
        chunk[n] = measure.time_calls(lambda i: an.push(mix[(i % nh) * h : (i % nh + 1) * h]), warmup=4,
                                      calls=max(40, settings.calls // 10), max_rounds=2).p99_ms
        update[n] = replay.analyzer_update_ms(sr, n, seconds=settings.analyzer_seconds)
    # per-block overhead: the callback's copy into the ring buffer plus the streaming classifier's
    # bookkeeping (buffering, mel frames) in blocks where no model call falls due
    overhead = {}
    cls_model = None
    if classifier is not None:
        path, cand, *src = classifier
        cls_model = with_source_adapter(get_backend(cand.runtime).load(path, device=cand.device, precision=cand.precision), (src or [None])[0])
    for b in autotune.BLOCKS:
        ring = np.zeros((b * 8, 2), np.float32)
        nb = mix.shape[0] // b
        # the longest hop leaves call-free blocks even at 1024 samples
        sc = StreamingClassifier(sr, cls_model, ClassifierConfig(hop_ms=autotune.HOPS_MS[-1])) if cls_model is not None else None
        ts, all_ts = [], []
        for i in range(settings.overhead_blocks + 50):
            blk = mix[(i % nb) * b : (i % nb + 1) * b]
            calls = sc.stats.inferences if sc is not None else 0
            t0 = time.perf_counter_ns()
            ring[(i % 8) * b : (i % 8 + 1) * b] = blk
            if sc is not None:
                sc.push(blk)
            dt = time.perf_counter_ns() - t0
            if i >= 50:
                all_ts.append(dt)
                if sc is None or sc.stats.inferences == calls:
                    ts.append(dt)
        overhead[b] = float(np.percentile(ts or all_ts, 99)) / 1e6  # no call-free block: the whole block, conservatively
    return autotune.Timings(
        sample_rate=sr, classifier_call_ms=cls_call, classifier_frame_ms=frame.p99_ms, generator_step_ms=gen_step,
        tokens_per_beat=tokens_per_beat, block_overhead_ms=overhead, analyzer_chunk_ms=chunk, analyzer_update_ms=update,
    ).as_dict()


def tune_and_prove(timings: dict, budget, *, classifier, generator, blocks: int, progress: Progress | None = None, span=(0.0, 1.0), max_attempts: int = 6) -> dict:
    """Auto-tune, replay the winner for ``blocks`` blocks, step back on a miss. Returns the tune record."""
    from nomad_muse.calibration import autotune, replay

    t = autotune.Timings.from_dict(timings)
    excluded: list[int] = []
    attempts = []
    res = autotune.tune(t, budget)
    while res.ok and len(attempts) < max_attempts:
        if progress:
            progress(f"replay {blocks} blocks at block {res.config.block_size}", span[0] + (span[1] - span[0]) * len(attempts) / max_attempts)
        rr = replay.replay(res.config, classifier=classifier, generator=generator, tokens_per_beat=t.tokens_per_beat,
                           tempo_bpm=budget.max_tempo_bpm, blocks=blocks)
        attempts.append({"config": asdict(res.config), "replay": rr.as_dict()})
        if rr.ok:
            break
        excluded.append(res.config.block_size)
        res = autotune.tune(t, budget, exclude_blocks=excluded)
    proven = bool(attempts) and attempts[-1]["replay"]["ok"] and res.ok
    table = [dict(r) for r in res.table]
    if attempts:
        last = attempts[-1]["replay"]
        table.append({"part": "replay", "candidate": f"{last['blocks']} blocks at the chosen sizes",
                      "measured": f"work p99 {last['p99_ms']:.3g} ms, max {last['max_ms']:.3g} ms / period {last['period_ms']:.3g} ms",
                      "chosen": proven, "why": f"{last['misses']} deadline misses" + (f" after {len(attempts) - 1} step-back(s)" if len(attempts) > 1 else "")})
    reason = res.reason
    if not proven and attempts:
        missed = "; ".join(f"block {a['config']['block_size']}: {a['replay']['misses']} deadline misses in {a['replay']['blocks']} blocks "
                           f"({a['replay']['cpu_misses']} from the work itself)" for a in attempts)
        rest = "" if res.ok else "; " + res.reason.removeprefix("does not meet the budget: ")
        reason = f"does not meet the budget: the replay missed deadlines at every block that fits — {missed}{rest}"
        if all(a["replay"]["cpu_misses"] == 0 for a in attempts):
            reason += " — every miss was preemption (another process or the VM took the CPU), not the pipeline's work: calibrate again on an idle machine"
    return {
        "ok": bool(res.ok and proven),
        "reason": reason,
        "config": asdict(res.config) if (res.ok and proven) else None,
        "prediction": res.prediction.as_dict() if res.prediction else None,
        "table": table,
        "attempts": attempts,
        "budget": asdict(budget),
    }


def run_calibration(options: CalibrationOptions = CalibrationOptions(), progress: Progress | None = None) -> CalibrationReport:
    """The whole of ``muse calibrate``; returns the report (and writes the profile unless ``write=False``)."""
    from nomad_muse.calibration import autotune, data, wisdom
    from nomad_muse.paths import data_dir, models_dir
    from nomad_muse.probe import probe as do_probe

    t_start = time.perf_counter()
    settings = MODES[options.mode]
    blocks = options.replay_blocks or settings.replay_blocks
    budget = autotune.Budget(e2e_ms=options.budget_ms)
    out_dir = options.variants_dir or data_dir() / "models"
    if progress:
        progress("probing the hardware", 0.0)
    rec = do_probe()
    report = CalibrationReport(None, None)
    if options.mode == "quick":
        report.notes.append(f"quick mode: {settings.calls} timed calls per round, replay of {blocks} blocks (default mode: 10 000)")
    spans = {"classifier": (0.02, 0.35), "generator": (0.35, 0.6)}
    choices: dict[str, ModuleChoice] = {}
    chosen_files: dict[str, tuple[Path, Candidate] | None] = {"classifier": None, "generator": None}
    for name in ("classifier", "generator"):
        src = (options.model_dir or models_dir()) / f"{name}.onnx"
        if not src.is_file():
            report.notes.append(f"{name}: shipped model {src} is missing — skipped; the runtime uses its defaults for it")
            continue
        res = calibrate_module(name, src, rec, settings, out_dir, progress, spans[name])
        sel = res.pop("selection")
        res["chosen"] = sel.chosen["candidate"] if sel.chosen else None
        res["why"] = sel.why
        report.modules[name] = res
        report.notes += res["notes"]
        c = _choice(name, sel, src)
        if c is None:
            report.notes.append(sel.why + " — the runtime uses its defaults for it")
            continue
        choices[name] = c
        # the tuple also names the shipped source: the user's adapter is fitted on it (timings cover it)
        chosen_files[name] = (c.model_path(), c.candidate, src)
    if progress:
        progress("FFTW wisdom (" + ("PATIENT" if settings.patient else "MEASURE") + ")", 0.6)
    report.fftw = wisdom.plan_sizes(autotune.FFT_SIZES, patient=settings.patient)
    if progress:
        progress("measuring per-block costs", 0.65)
    gsets = data.generator_sets()
    tpb = data.tokens_per_beat(list(gsets.calib) + list(gsets.val))
    timings = measure_timings(classifier=chosen_files["classifier"], generator=chosen_files["generator"], tokens_per_beat=tpb, settings=settings)
    report.tune = tune_and_prove(timings, budget, classifier=chosen_files["classifier"], generator=chosen_files["generator"],
                                 blocks=blocks, progress=progress, span=(0.75, 0.98))
    report.tune["timings"] = timings
    report.budget_met = report.tune["ok"]
    tuned = TunedConfig(**report.tune["config"]) if report.tune["ok"] else TunedConfig()
    if not report.tune["ok"]:
        report.notes.append(report.tune["reason"] + " — the profile keeps the default sizes")
    measurements = {
        "mode": options.mode,
        "modules": {m: {k: v for k, v in r.items() if k != "notes"} for m, r in report.modules.items()},
        "tune": report.tune,
        "fftw": report.fftw,
        "notes": report.notes,
        "calibration_data": {k: {"sha256": v.get("sha256"), "calib": v.get("calib"), "val": v.get("val")} for k, v in data.card().items() if isinstance(v, dict) and "sha256" in v},
    }
    prof = MachineProfile(
        fingerprint=rec.fingerprint, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), modules=choices, tuned=tuned,
        unproven={} if report.tune["ok"] else {"tuned": "kept defaults because " + report.tune["reason"]},
        budget_ms=options.budget_ms, fftw_wisdom=report.fftw.get("dir"), software=_software(), measurements=measurements,
    )
    report.profile = prof
    report.seconds = time.perf_counter() - t_start
    if options.write:
        path = prof.save(options.profile_path or default_profile_path())
        report.profile_path = path
        with RunStore() as store:
            report.notes += store.notes
            summary = ", ".join(f"{m} {c.candidate} p99 {c.p99_ms:.3f} ms" for m, c in choices.items())
            summary += f"; block {tuned.block_size}" + ("" if report.budget_met else " (budget not met)")
            report.run_id = store.add("calibrate", prof.to_dict() | {"seconds": report.seconds}, summary=summary, fingerprint=rec.fingerprint)
    if progress:
        progress("done", 1.0)
    return report
