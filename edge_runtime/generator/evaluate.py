"""Score the shipped generator and its n-gram baseline on a directory of MIDI files.

JSON keys (``muse evaluate generator DIR --json``):

* ``files``: MIDI files found; ``files_used``: files that parsed; ``skipped``: ``[{file, error}]``
* ``tokens``: predicted tokens (after each stream's 5-token header), also per mode in ``by_mode``
* ``model``: ``{nll_per_token, perplexity}`` of the shipped model (nats; state carried over each whole stream)
* ``ngram``: the same for the n-gram baseline shipped beside the model
* ``perplexity_ratio``: model perplexity / n-gram perplexity (below 1 = the model is better)
* ``by_mode``: ``{"tonal"|"drums": {tokens, model, ngram, perplexity_ratio}}``
* ``by_style``: the same per style, a style being the file's first sub-folder under DIR (``rock/a.mid`` →
  ``rock``; files directly in DIR → ``"."``), the way people sort their MIDI by genre
* ``by_track``: the same per track (instrument family of the stream: ``drums``, ``bass``, ``piano``…)
* ``backend``: what ran the model (``describe()``)
* ``adapter``: true when the user's adapter (``muse adapt generator``) supplied the logits
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nomad_muse.errors import InputError, MuseError
from nomad_muse.generator.adapter import AdaptedStepModel
from nomad_muse.generator.midi_io import read_midi
from nomad_muse.generator.ngram import NGram
from nomad_muse.generator.tokenizer import header_len, score_streams

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


def _stream_nll(gen, tokens) -> tuple[float, int]:
    gen.model.reset_state()
    total, n = 0.0, 0
    start = header_len(tokens)
    for i, t in enumerate(tokens[:-1]):
        logits = gen._step(t).astype(np.float64)
        if i + 1 >= start:
            m = logits.max()
            lse = m + math.log(np.exp(logits - m).sum())
            total += lse - logits[tokens[i + 1]]
            n += 1
    return total, n


def evaluate_dir(directory: Path, *, generator=None, ngram_path: Path | None = None, max_files: int = 200, progress=None,
                 style_token: str | None = "any") -> dict:
    """``style_token``: the STYLE token every stream's header ends with when the model has style tokens
    (``any`` by default: the score of a user who gives none; ``auto`` infers it per stream)."""
    from nomad_muse.generator.engine import Generator
    from nomad_muse.paths import models_dir

    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"not a directory: {d} (point at a folder of .mid/.midi files)")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"no .mid/.midi files under {d}")
    gen = generator or Generator()
    ng_path = ngram_path or models_dir() / "generator_ngram.json.gz"
    if not ng_path.is_file():
        raise InputError(f"n-gram baseline missing: {ng_path} (reinstall the package)")
    ng = NGram.load(ng_path)
    def zero():
        return {"model": 0.0, "ngram": 0.0, "n": 0}

    acc = {m: zero() for m in ("tonal", "drums")}
    by_style: dict[str, dict] = {}
    by_track: dict[str, dict] = {}
    skipped, used = [], 0
    for f in files[:max_files]:
        try:
            streams = score_streams(read_midi(f))
        except MuseError as e:
            skipped.append({"file": str(f), "error": str(e)})
            continue
        used += 1
        rel = f.relative_to(d).parts
        style = rel[0] if len(rel) > 1 else "."
        for s in streams:
            toks = list(s.tokens)
            if gen.has_style and style_token:
                from nomad_muse.generator.style import infer_style
                from nomad_muse.generator.tokenizer import with_style

                toks = with_style(toks, infer_style(gen, toks)[0] if style_token == "auto" else style_token)
            a, n = _stream_nll(gen, toks)
            b, n2 = ng.nll(toks, skip=header_len(toks))
            assert n == n2
            for bucket in (acc[s.mode], by_style.setdefault(style, zero()), by_track.setdefault(s.family, zero())):
                bucket["model"] += a
                bucket["ngram"] += b
                bucket["n"] += n
        if progress:
            progress()

    def summary(model_sum, ngram_sum, n):
        if n == 0:
            return {"tokens": 0}
        mn, gn = model_sum / n, ngram_sum / n
        return {
            "tokens": n,
            "model": {"nll_per_token": mn, "perplexity": math.exp(mn)},
            "ngram": {"nll_per_token": gn, "perplexity": math.exp(gn)},
            "perplexity_ratio": math.exp(mn - gn),
        }

    total = summary(sum(v["model"] for v in acc.values()), sum(v["ngram"] for v in acc.values()), sum(v["n"] for v in acc.values()))
    if total["tokens"] == 0:
        raise InputError(f"no usable notes in {d}: {len(skipped)} of {len(files)} files could not be read")
    return {
        "directory": str(d),
        "files": len(files),
        "files_used": used,
        "skipped": skipped,
        **total,
        "by_mode": {m: summary(v["model"], v["ngram"], v["n"]) for m, v in acc.items()},
        "by_style": {k: summary(v["model"], v["ngram"], v["n"]) for k, v in sorted(by_style.items())},
        "by_track": {k: summary(v["model"], v["ngram"], v["n"]) for k, v in sorted(by_track.items())},
        "style": style_token if gen.has_style else None,
        "backend": gen.model.describe().as_dict(),
        "adapter": isinstance(gen.model, AdaptedStepModel),
    }
