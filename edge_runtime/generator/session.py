"""Files in, file out: continue a MIDI prompt (or start from nothing) and write MIDI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from nomad_muse.errors import ParameterError
from nomad_muse.generator.engine import Generator, SamplingConfig
from nomad_muse.generator.intensity import AutoTemperature, auto_temperature
from nomad_muse.generator.keys import key_name, parse_key
from nomad_muse.generator.midi_io import Score, read_midi, write_midi
from nomad_muse.generator.prompt import FAMILY_PROGRAM, apply_style, prime, prompt_tokens
from nomad_muse.generator.style import resolve_style
from nomad_muse.generator.tokenizer import decode
from nomad_muse.gm import DRUM_CHANNEL, TONAL_FAMILIES
from nomad_muse.settings import check, rule


def _adapted(gen) -> bool:
    from nomad_muse.generator.adapter import AdaptedStepModel

    return isinstance(gen.model, AdaptedStepModel)


def generate_file(
    prompt: Path | None,
    out: Path,
    *,
    bars: int = 4,
    mode: str = "auto",
    key: str | None = None,
    temperature: float | None = 1.0,
    top_p: float = 0.95,
    seed: int | None = None,
    candidates=None,
    family: str = "piano",
    tempo: float = 120.0,
    chunk: str = "bar",
    model_path: Path | None = None,
    auto_bounds: tuple[float, float] = (0.7, 1.2),
    style: str | None = "auto",
    use_adapter: bool = True,
    loader=None,
) -> dict:
    """Continue ``prompt`` into ``out``; ``temperature=None`` is `--temperature auto` (from the prompt's
    recent velocity and density, within ``auto_bounds``; see :mod:`nomad_muse.generator.intensity`).

    ``style``: the STYLE context token (:data:`vocab.STYLES`), ``"auto"`` to infer it from the prompt
    (:mod:`nomad_muse.generator.style`; ``any`` without a prompt). A model trained without style
    tokens ignores it (reported as ``style: null``)."""
    style = resolve_style(style)
    auto = AutoTemperature(*auto_bounds) if temperature is None else None
    if family not in TONAL_FAMILIES:
        raise ParameterError(f"family={family!r} must be one of {', '.join(TONAL_FAMILIES)}", field="family")
    check("chunk", chunk, rule("chunk"))
    user_key = parse_key(key) if key else None
    notes_msg = []
    score: Score | None = None
    if prompt is not None:
        score = read_midi(prompt)
        notes_msg.extend(score.warnings)
    p = prompt_tokens(score, mode, key=user_key, tempo_bpm=None if score else tempo, family=family)
    mode, k, family, tokens = p.mode, p.key, p.family, list(p.tokens)
    if score is not None:
        tempo = score.tempo_bpm
    if mode == "drums" and user_key:
        notes_msg.append("key ignored in drum mode (no scale logic)")
    if auto is not None:
        temperature = auto_temperature(score, auto)
    cfg = SamplingConfig(temperature=temperature, top_p=top_p, seed=seed)
    # the model loads only once the prompt and settings are known good; ``loader`` is the command's
    # nomad_muse.runtime.select (profile, --backend, --model), else model_path on candidates
    gen = Generator(loaded=loader()) if loader is not None else Generator(model_path, candidates=candidates, use_adapter=use_adapter)
    p, style, style_scores = apply_style(gen, p, style, from_score=score is not None)
    tokens = list(p.tokens)
    prime(gen, p)
    new = gen.generate(bars, cfg, unit=chunk)
    full = tokens + new
    n_prompt = len(decode(tokens).notes)
    dec = decode(full)
    new_notes = list(dec.notes[n_prompt:])
    if mode == "tonal":
        used = {n.channel for n in score.notes} if score else set()
        ch = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
        prog = FAMILY_PROGRAM.get(family, 0)
        new_notes = [replace(n, channel=ch, program=prog) for n in new_notes]
    base = list(score.notes) if score else []
    sigs = score.time_signatures if score else dec.time_signatures
    out_score = Score(tuple(sorted(base + new_notes, key=lambda n: (n.start, n.channel, n.pitch))), tempo, sigs)
    write_midi(out_score, out)
    steps = np.array(gen.stats.step_seconds[-max(len(new), 1):]) * 1000
    info = gen.model.describe()
    return {
        "out": str(out),
        "prompt": str(prompt) if prompt else None,
        "mode": mode,
        "family": family,
        "key": key_name(k),
        "bars": bars,
        "temperature": round(cfg.temperature, 4),
        "temperature_auto": auto is not None,
        "style": style,
        "style_scores": {k2: round(v, 4) for k2, v in style_scores.items()},
        "new_tokens": len(new),
        "new_notes": len(new_notes),
        "prompt_notes": len(base),
        "fallbacks": gen.stats.fallbacks,
        "chunks": gen.stats.chunks,
        "step_ms_p50": float(np.median(steps)) if steps.size else 0.0,
        "step_ms_p99": float(np.percentile(steps, 99)) if steps.size else 0.0,
        "backend": f"{info.runtime}/{info.device}/{info.precision}",
        "fallback_backends": list(gen.loaded.fallbacks),
        "adapter": _adapted(gen),
        "notes": notes_msg,
    }
