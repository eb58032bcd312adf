"""``muse demo``: the live engine run block by block on files — no sound card needed.

The driver plays the audio server's part: for each block of the input clip
(at the tuned block size) it lets the generator and renderer do what is due,
calls the same :meth:`~nomad_muse.engine.core.Engine.process_block` the
audio callback calls, then lets the classifier and analyzer consume.  Nothing
is dropped (the driver waits for the workers instead of racing them), so a
seeded run is reproducible; every step is timed against the budget it would
have had live, which gives the report's deadline statistics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.engine.config import EngineConfig
from nomad_muse.errors import InputError, ParameterError


@dataclass
class DemoResult:
    out_dir: Path
    midi: Path
    wav: Path
    html: Path
    summary: dict = field(default_factory=dict)
    classifier_results: list = field(default_factory=list)  # FrameResult per classified window


def _input_audio(path: Path):
    """The probed clip and a generator of float32 blocks ``(n, channels<=2)`` (surround: the front pair).

    Only one read block is in memory at a time: a 30-minute clip costs what a 3-second one does."""
    from nomad_muse.audio_io import iter_blocks, probe_audio

    info = probe_audio(path)

    def blocks():
        for b in iter_blocks(info, dtype="float32"):
            yield b[:, :2] if b.shape[1] > 2 else b

    return info, blocks()


def check_writable_dir(out_dir: Path, what: str = "--out") -> Path:
    """Create ``out_dir`` if missing and prove a file can be created there (before any work), else ParameterError."""
    import os
    import tempfile

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"{what} {out_dir}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".muse-write-check.", dir=out_dir)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise ParameterError(f"{what} {out_dir}: cannot write there ({err.strerror or err})") from None
    return out_dir


def _demo_block(p, e, cb, cfg, seg, inblk, outblk, mixblk, wf, valid: int) -> None:
    """One callback's worth: generator and renderer steps, the engine block, the mix bus written to ``wf``."""
    p.generator.step()
    p.renderer.step()
    inblk[: seg.shape[0]] = seg
    inblk[seg.shape[0]:] = 0.0
    t0 = time.perf_counter()
    e.process_block(inblk, outblk)
    cb.add((time.perf_counter() - t0) * 1000, cfg.period_s * 1000)
    np.add(inblk * np.float32(cfg.input_gain), outblk, out=mixblk)  # the mix bus, as the callback forms it
    wf.write(np.clip(mixblk[:valid], -1.0, 1.0))
    if p.classifier is not None:
        p.classifier.step()
    p.analyzer.step()


def run_demo(*, input_path: Path | None, prompt_path: Path | None, out_dir: Path, active, seed: int | None = 1,
             flags: dict | None = None, progress=None) -> DemoResult:
    """Run the pipeline on an audio clip and a MIDI prompt; write continuation.mid, render.wav, report.html.

    Parameters
    ----------
    input_path : Path or None
        Audio clip (None: the bundled example mix).
    prompt_path : Path or None
        MIDI prompt (None: the bundled tonal prompt).
    out_dir : Path
        Created if missing.
    active : nomad_muse.machine_profile.ActiveConfig
        Machine profile (tuned sizes, backends).
    flags : dict
        :class:`EngineConfig` overrides (None values ignored).
    progress : callable or None
        ``progress(done_samples, total_samples)`` after every block.
    """
    import soundfile as sf

    from nomad_muse.engine.report import write_report
    from nomad_muse.engine.setup import build_pipeline
    from nomad_muse.examples import example_path
    from nomad_muse.generator.midi_io import Note, Score, read_midi, write_midi
    from nomad_muse.generator.prompt import bundled_prompt

    inp = Path(input_path) if input_path else example_path()
    prm = Path(prompt_path) if prompt_path else bundled_prompt("tonal")
    score = read_midi(prm)  # bad prompt: one clear line before any model loads
    info, blocks = _input_audio(inp)
    sr, channels = info.sr, min(info.channels, 2)
    out_dir = check_writable_dir(out_dir)  # a read-only or full target fails here, not after the run
    fl = {k: v for k, v in (flags or {}).items() if v is not None}
    fl.setdefault("tempo_bpm", score.tempo_bpm)
    fl.setdefault("seed", seed)
    cfg = EngineConfig.from_tuned(active.tuned, sample_rate=sr, channels=channels, **fl)
    p = build_pipeline(cfg, active, realtime=False, prompt=score, keep_classifier_results=True, full_analysis=True)
    e, bs = p.engine, cfg.block_size
    total = info.frames
    inblk = np.zeros((bs, cfg.channels), np.float32)
    outblk = np.zeros((bs, cfg.channels), np.float32)
    mixblk = np.zeros((bs, cfg.channels), np.float32)
    cb = e.timing("callback")
    from nomad_muse.paths import atomic_output

    wav = out_dir / "render.wav"
    n = 0
    with atomic_output(wav, what="WAV output") as tmp, \
            sf.SoundFile(str(tmp), "w", samplerate=sr, channels=cfg.channels, subtype="PCM_16", format="WAV") as wf:
        t_start = time.perf_counter()
        carry = np.zeros((0, cfg.channels), np.float32)
        for chunk in blocks:
            buf = np.concatenate([carry, chunk]) if carry.shape[0] else chunk
            k = 0
            while buf.shape[0] - k >= bs:
                _demo_block(p, e, cb, cfg, buf[k:k + bs], inblk, outblk, mixblk, wf, bs)
                k += bs
                n += bs
                if progress is not None:
                    progress(min(n, total), total)
            carry = buf[k:].copy()
        if carry.shape[0]:
            _demo_block(p, e, cb, cfg, carry, inblk, outblk, mixblk, wf, carry.shape[0])
            n += carry.shape[0]
            if progress is not None:
                progress(n, max(total, n))
        if p.classifier is not None:
            p.classifier.results.extend(p.classifier.sc.flush())
        p.analyzer.finish()
        wall = time.perf_counter() - t_start
        report = p.analyzer.final_report()
        if report.loudness.sample_peak_dbfs == float("-inf"):
            raise InputError(f"{inp}: every sample is zero (digital silence); give a clip with sound in it")

    # continuation.mid: the prompt, then what was generated, from the next bar line after the prompt
    offset = e.clock.next_bar(score.end_beats)
    gen_notes = [Note(e.clock.beat_at(ev.start) + offset, (ev.end - ev.start) / e.clock.samples_per_beat(),
                      ev.pitch, ev.velocity, ev.channel, ev.program) for ev in p.generator.events]
    cont = Score(tuple(sorted(list(score.notes) + gen_notes, key=lambda x: (x.start, x.channel, x.pitch))),
                 score.tempo_bpm, score.time_signatures)
    midi = write_midi(cont, out_dir / "continuation.mid")
    summary = {
        "input": str(inp), "prompt": str(prm), "seconds": n / sr, "wall_s": wall, "sample_rate": sr,
        "block_size": bs, "block_ms": cfg.period_s * 1000, "lookahead_beats": cfg.lookahead_beats,
        "chunk": cfg.chunk, "tempo_bpm": score.tempo_bpm, "config_source": active.source,
        "mode": p.generator.mode, "prompt_notes": len(score.notes), "generated_notes": len(gen_notes),
        "backends": p.backends, "notes": list(score.warnings) + list(p.notes), "counters": e.counters.as_dict(),
        "timings": [t.summary() for t in e.timings.values() if t.count],
    }
    if p.classifier is not None:
        from nomad_muse.classifier.stream import summarise

        cls = summarise(p.classifier.results)
        summary["classifier"] = {k: cls[k] for k in ("family", "family_share", "track_type", "windows", "silent_windows", "segments")}
    html = write_report(out_dir / "report.html", summary=summary, prompt=score, generated=gen_notes,
                        offset_beats=offset, analysis=report, target=p.analyzer.target)
    summary["suggestions"] = [s.action for s in report.suggestions]
    summary["integrated_lufs"] = report.loudness.integrated_lufs
    return DemoResult(out_dir, midi, wav, html, summary, list(p.classifier.results) if p.classifier else [])
