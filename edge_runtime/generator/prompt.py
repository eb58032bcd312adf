"""The prompt a generator starts from, and :func:`prime` — the one way in, for ``muse generate`` and the engine.

A prompt is a MIDI score (or nothing: a bare header).  :func:`prompt_tokens`
turns it into the token header + body the model runs, with the key and tempo
set where the caller decides them (``--key``, the engine's clock);
:func:`prime` runs those tokens through a :class:`~nomad_muse.generator.engine.Generator`
(only the last :data:`MAX_PRIME_TOKENS` of the body: the prompt is run once).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from nomad_muse.errors import ParameterError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.engine import header_tokens
from nomad_muse.generator.midi_io import Score
from nomad_muse.generator.tokenizer import header_len, require_stream, with_style

MAX_PRIME_TOKENS = 1024
FAMILY_PROGRAM = {"piano": 0, "mallets": 11, "organ": 19, "guitar": 24, "bass": 33, "strings": 48, "vocals": 52,
                  "brass": 61, "woodwind": 73, "synth": 81}
BUNDLED = {"tonal": "tonal_c_major.mid", "drums": "drums_rock.mid"}
KEY_AT, TEMPO_AT = 2, 3  # header positions (BOS TRACK KEY TEMPO METER [STYLE])


def bundled_prompt(name: str) -> Path:
    """Path of a prompt shipped in ``models/prompts`` (``tonal`` or ``drums``)."""
    from nomad_muse.paths import models_dir

    if name not in BUNDLED:
        raise ParameterError(f"bundled={name!r} must be one of {', '.join(BUNDLED)}", field="bundled")
    return models_dir() / "prompts" / BUNDLED[name]


def prompt_tail(tokens: list[int], limit: int = MAX_PRIME_TOKENS) -> list[int]:
    """Header + the body's last bars that fit in ``limit`` tokens (the prompt is run once)."""
    n = header_len(tokens)
    header, body = tokens[:n], tokens[n:]
    if len(body) <= limit:
        return header + body
    bars = [i for i, t in enumerate(body) if t == V.BAR and len(body) - i <= limit]
    return header + body[bars[0] if bars else len(body) - limit :]


def prompt_mode(score: Score) -> str:
    """The mode ``auto`` means for a prompt: drums when it has more drum notes than pitched ones."""
    return "drums" if len(score.drum_notes) > len(score.tonal_notes) else "tonal"


@dataclass(frozen=True)
class Prompt:
    """A prompt as tokens: what the model is primed with, and what it says about the continuation."""

    tokens: tuple[int, ...]        # header + whole body, no EOS (key/tempo set)
    mode: str                      # "tonal" | "drums"
    key: tuple[int, str] | None    # the key the grammar holds the continuation to (None in drum mode)
    family: str                    # instrument family of the prompt's stream (or the requested one)


def prompt_tokens(score: Score | None, mode: str = "auto", *, key: tuple[int, str] | None = None,
                  tempo_bpm: float | None = None, family: str = "piano") -> Prompt:
    """``score``'s stream for ``mode`` as tokens, or a bare header without a score.

    ``key`` (tonal only) replaces the prompt's estimated key; ``tempo_bpm``
    replaces the prompt's tempo token (None keeps it; without a score it is
    required).  ``family`` only names the track of a bare header.  A drum
    prompt has no key.
    """
    if score is None:
        mode = "tonal" if mode == "auto" else mode
        if tempo_bpm is None:
            raise ParameterError("a prompt without a score needs tempo_bpm")
        k = (key or (0, "major")) if mode == "tonal" else None
        return Prompt(tuple(header_tokens(mode, family, k, tempo_bpm)), mode, k, family)
    mode = prompt_mode(score) if mode == "auto" else mode
    stream = require_stream(score, mode)
    tokens = [t for t in stream.tokens if t != V.EOS]
    k = None
    if mode == "tonal":
        k = key or stream.key
        tokens[KEY_AT] = V.key_token(k)
    if tempo_bpm is not None:
        tokens[TEMPO_AT] = V.INDEX[f"TEMPO_{V.tempo_bin(tempo_bpm)}"]
    return Prompt(tuple(tokens), mode, k, stream.family)


def apply_style(gen, prompt: Prompt, style: str | None, *, from_score: bool) -> tuple[Prompt, str | None, dict[str, float]]:
    """The prompt with the STYLE token ``gen``'s model takes: ``style`` as given, or for ``"auto"`` the
    style inferred from the prompt (:func:`nomad_muse.generator.style.infer_style`; ``any`` when the
    prompt is a bare header, ``from_score`` False). A model without style tokens gets none (style None).
    Returns (prompt, style, NLL per style of the inference)."""
    from nomad_muse.generator.style import infer_style, resolve_style

    style = resolve_style(style)
    if not gen.has_style:
        return replace(prompt, tokens=tuple(with_style(prompt.tokens, None))), None, {}
    scores: dict[str, float] = {}
    if style is None:
        style = "any"
    elif style == "auto":
        style, scores = infer_style(gen, prompt_tail(list(prompt.tokens))) if from_score else ("any", {})
    return replace(prompt, tokens=tuple(with_style(prompt.tokens, style))), style, scores


def prime(gen, prompt: Prompt, *, on_bar: bool = False) -> list[int]:
    """Reset ``gen`` and run the prompt's tail once; ``on_bar`` adds a bar line so the continuation
    starts on a new bar (the engine's re-primes).  Returns the tokens the model ran."""
    fed = prompt_tail(list(prompt.tokens)) + ([V.BAR] if on_bar else [])
    gen.prime(fed, mode=prompt.mode, key=prompt.key)
    return fed
