"""Stateful incremental decoding on the backend abstraction.

The prompt is run once (:meth:`Generator.prime`); then every new token is one
model step with the recurrent state carried inside the backend — never a
re-run of the prompt.  Generation is chunked (one beat or one bar at a time)
so the live engine can keep a lookahead of chunks in a ring buffer.

Confidence fallback (seed §7.3): a chunk whose mean top probability over its
sampled tokens is below ``confidence_threshold`` (0.6) is replaced by the
last valid chunk (or a rest if there is none), the state is restored to the
chunk's start and the replacement fed instead, and the fallback is counted.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import accumulate
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate
from nomad_muse.backends.registry import LoadResult, load_first
from nomad_muse.backends.spec import ModelSpec
from nomad_muse.errors import BackendError, ParameterError
from nomad_muse.generator import vocab as V
from nomad_muse.generator.grammar import Grammar
from nomad_muse.generator.sampling import masked_probs, sample_sorted, sample_u

#: the generator's model contract: one token in, logits out, the GRU state carried by the backend
SPEC = ModelSpec("generator", "generator.onnx", inputs=("token", "h"), outputs=("logits", "h_out"), state=(("h", "h_out"),))
STATE = SPEC.state_map


def default_model_path() -> Path:
    from nomad_muse.paths import models_dir

    return SPEC.default_path(models_dir())


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int | None = None
    confidence_threshold: float = 0.6

    def __post_init__(self) -> None:
        if not 0.05 <= self.temperature <= 5.0:
            raise ParameterError(f"temperature={self.temperature} must be within 0.05–5")
        if not 0.0 < self.top_p <= 1.0:
            raise ParameterError(f"top_p={self.top_p} must be within (0, 1]")
        if not 0.0 <= self.confidence_threshold < 1.0:
            raise ParameterError(f"confidence_threshold={self.confidence_threshold} must be within [0, 1)")


@dataclass
class GenStats:
    steps: int = 0
    chunks: int = 0
    fallbacks: int = 0
    #: tokens drawn from the in-graph head (fast) and through the numpy reference sampler
    fast_draws: int = 0
    reference_draws: int = 0
    step_seconds: list[float] = field(default_factory=list)


def header_tokens(mode: str, family: str, key: tuple[int, str] | None, tempo_bpm: float, meter: int = 16,
                  style: str | None = None) -> list[int]:
    return [
        V.BOS,
        V.track_token("drums" if mode == "drums" else family),
        V.key_token(key if mode == "tonal" else None),
        V.INDEX[f"TEMPO_{V.tempo_bin(tempo_bpm)}"],
        V.INDEX[f"METER_{meter}"],
    ] + ([V.style_token(style)] if style else [])


class Generator:
    """A generator model on a backend, with a grammar and a seedable sampler."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        candidates: Sequence[Candidate] | None = None,
        threads: int = 1,
        loaded: LoadResult | None = None,
        use_adapter: bool = True,
        adapter_for: Path | None = None,
        fast_sampling: bool = True,
    ):
        """``loaded``: what :func:`nomad_muse.runtime.select` returned (the normal way in; it applies
        the user's adapter itself).  Without it, ``model_path`` on ``candidates`` (default: the
        policy's profile-less order), with the user's adapter for that exact file (``muse adapt
        generator``) unless ``use_adapter`` is False or ``MUSE_NO_ADAPTER=1``; ``adapter_for``: the
        file the adapter was fitted on, when ``model_path`` is a variant made from it (calibration).

        ``fast_sampling``: run the masked softmax and the nucleus head inside the model call
        (:mod:`nomad_muse.generator.sampler_graph`) on the same runtime, device and precision;
        when that graph cannot be made or loaded (an IR file, a runtime refusing it, a user adapter
        replacing the logits) the numpy reference sampler is used and ``sampler_note`` says why."""
        if loaded is None:
            path = Path(model_path) if model_path else default_model_path()
            if candidates is None:
                from nomad_muse.policy import default_candidates
                from nomad_muse.probe import probe

                candidates = default_candidates("generator", probe())
            loaded = load_first(candidates, path, threads=threads, state=STATE)
            if use_adapter:
                from nomad_muse.generator.adapter import with_adapter

                loaded = with_adapter(loaded, Path(adapter_for) if adapter_for else path)
        self.sampler_note = "reference numpy sampler (fast_sampling=False)"
        if fast_sampling:
            loaded = self._with_sampler(loaded)
        self.loaded: LoadResult = loaded
        self.model = self.loaded.model
        logits = next((o for o in self.model.outputs if o.name == "logits"), None)
        n = logits.shape[-1] if logits is not None and logits.shape and logits.shape[-1] else V.VOCAB_SIZE
        #: the model's vocabulary: 252 for a model trained before the STYLE tokens, else V.VOCAB_SIZE
        self.n_logits: int = int(n)
        if self.n_logits not in (V.VOCAB_SIZE, V.VOCAB_SIZE_NO_STYLE):
            raise BackendError(f"generator model {Path(self.model.describe().model_path).name} has {self.n_logits} "
                               f"logits; a Nomad Muse generator has {V.VOCAB_SIZE_NO_STYLE} or {V.VOCAB_SIZE} (one per token): "
                               "is it the right model file?")
        #: whether the model knows the STYLE context tokens (header ``... METER STYLE``)
        self.has_style: bool = self.n_logits > V.STYLE_IDS[0]
        from nomad_muse.generator.sampler_graph import SampledStepModel

        self._fast = isinstance(self.model, SampledStepModel)
        self._tok = np.zeros((1, 1), np.int64)
        self._inv_t = np.ones(1, np.float32)
        self._no_bias = np.zeros((1, self.n_logits), np.float32)  # unmasked steps (evaluate's NLL, no grammar yet)
        self._temp = 1.0  # the temperature the last step's head was computed at
        self._head: tuple[list[float], np.ndarray] | None = None
        self._rows: tuple = (None,)
        self.stats = GenStats()
        self.tokens: list[int] = []
        self.grammar: Grammar | None = None
        self._logits: np.ndarray | None = None

    def _with_sampler(self, loaded: LoadResult) -> LoadResult:
        """``loaded`` with its model replaced by the in-graph sampled one (same candidate), if possible."""
        from dataclasses import replace

        from nomad_muse.backends.registry import get_backend
        from nomad_muse.errors import BackendError
        from nomad_muse.generator.sampler_graph import sampled_path

        from nomad_muse.backends.base import CompiledModel

        if not isinstance(loaded.model, CompiledModel):  # e.g. the user's adapter computes the logits in Python
            self.sampler_note = f"reference numpy sampler ({type(loaded.model).__name__} computes the logits outside the graph)"
            return loaded
        info = loaded.model.describe()
        cand = loaded.candidate
        try:
            logits = next((o for o in loaded.model.outputs if o.name == "logits"), None)
            if logits is None or len(logits.shape) != 2 or not logits.shape[-1]:
                raise BackendError(f"{Path(info.model_path).name}: no static [1, V] 'logits' output to sample from")
            path = sampled_path(Path(info.model_path), vocab=int(logits.shape[-1]))
            model = get_backend(cand.runtime).load(
                path, device=cand.device, precision=cand.precision, threads=max(info.threads, 1), state=STATE
            )
        except BackendError as e:
            self.sampler_note = f"reference numpy sampler ({e})"
            return loaded
        from nomad_muse.generator.sampler_graph import SampledStepModel

        try:
            wrapped = SampledStepModel(model)
        except BackendError as e:
            self.sampler_note = f"reference numpy sampler ({e})"
            return loaded
        self.sampler_note = f"in-graph sampler head ({path.name})"
        return replace(loaded, model=wrapped)

    # -- low level ----------------------------------------------------------
    def _step(self, token: int) -> np.ndarray:
        """One model step on ``token``; returns the logits (on the sampled graph: a view of the
        runtime's output buffer, valid until the next step).  On the sampled graph the grammar must
        already be fed ``token`` (the head is computed under the mask that follows it)."""
        self._tok[0, 0] = token
        if self._fast:
            t0 = time.perf_counter()
            bias = self.grammar.bias(self.n_logits) if self.grammar is not None else self._no_bias
            out = self.model.run_views({"token": self._tok, "bias": bias, "inv_t": self._inv_t})
            self.stats.step_seconds.append(time.perf_counter() - t0)
            self.stats.steps += 1
            rows = self._rows
            if rows[0] is not out:  # row views of the bound buffers, made once (fresh arrays if the backend copies)
                rows = self._rows = (out, out["top_p_probs"][0], out["top_p_ids"][0], out["logits"][0])
            # the head as a running sum (C speed) and the ids as the bound buffer: both read by the next draw,
            # before the next step overwrites the buffers (next_chunk copies what it keeps across steps)
            self._head = (list(accumulate(rows[1].tolist())), rows[2])
            return rows[3]
        t0 = time.perf_counter()
        out = self.model.run({"token": self._tok})["logits"][0]
        self.stats.step_seconds.append(time.perf_counter() - t0)
        self.stats.steps += 1
        return out

    def prime(self, tokens: Sequence[int], *, mode: str, key: tuple[int, str] | None, constrained: bool = True) -> None:
        """Reset the state and run the prompt once (header + body, no EOS).

        ``constrained=False`` lifts the mode/key masks (grammar only), for measuring the model."""
        toks = [t for t in tokens if t != V.EOS]
        if len(toks) < 5:
            raise ParameterError("a prompt needs at least its 5 header tokens")
        self.model.reset_state()
        self.grammar = Grammar(mode, key, constrained=constrained)
        self.tokens = []
        for t in toks:
            self.grammar.feed(t)
            self._logits = self._step(t)
            self.tokens.append(t)

    def draw(self, cfg: SamplingConfig, rng: np.random.Generator) -> tuple[int, float]:
        """Sample the next token under the grammar mask (temperature + top-p); returns (token, top probability).

        Does not advance: :meth:`feed` the token to run the model step.  On the sampled graph the
        last step's sorted head is used when it was computed at ``cfg.temperature`` and holds the
        nucleus; otherwise (and without the sampled graph) the numpy reference path samples the
        full logits.  Both consume exactly one ``rng.random()``."""
        assert self.grammar is not None and self._logits is not None
        u = rng.random()
        if self._fast:
            head = self._head
            if head is not None and cfg.temperature == self._temp:
                got = sample_sorted(head[0], head[1], cfg.top_p, u)
                if got is not None:
                    self.stats.fast_draws += 1
                    return got
            else:  # the next steps' heads at this temperature
                self._temp = cfg.temperature
                self._inv_t[0] = 1.0 / max(cfg.temperature, 1e-4)
        self.stats.reference_draws += 1
        mask = self.grammar.mask()
        if self.n_logits != mask.shape[0]:  # a model without the STYLE tokens (never sampled: header only)
            mask = mask[: self.n_logits]
        if not np.isfinite(self._logits).all():  # a broken model (NaN/inf weights) would sample garbage or crash
            raise BackendError(f"the generator model on {self.loaded.candidate} returned NaN or infinite logits; "
                               "re-export the model (or use the shipped one)")
        p = masked_probs(self._logits, mask, cfg.temperature)
        return sample_u(p, cfg.top_p, u), float(p.max())

    def feed(self, tok: int) -> None:
        """Run one model step on ``tok`` (state carried) and advance the grammar."""
        self.grammar.feed(tok)
        self._logits = self._step(tok)
        self.tokens.append(tok)

    # -- chunks ---------------------------------------------------------------
    def next_chunk(self, cfg: SamplingConfig, rng: np.random.Generator, *, unit: str = "bar", max_tokens: int = 512) -> list[int]:
        """Generate one beat (4 sixteenths) or one bar of tokens; returns the chunk's tokens.

        A chunk ends at the bar line (``bar``) or at the next beat boundary
        (``beat``); the boundary token itself opens the next chunk.
        """
        if unit not in ("beat", "bar"):
            raise ParameterError(f"unit={unit!r} must be 'beat' or 'bar'")
        g = self.grammar
        if g is None:
            raise ParameterError("prime() the generator with a prompt first")
        saved_state = self.model.get_state()
        saved_logits = self._logits.copy()
        saved_head = None if self._head is None else (self._head[0], self._head[1].copy())
        saved_grammar = (g.state, g.pos, g.meter, g.bars)
        start_len = len(self.tokens)
        beat_end = ((max(g.pos, 0) // 4) + 1) * 4
        chunk: list[int] = []
        confs: list[float] = []
        while len(chunk) < max_tokens:
            tok, conf = self.draw(cfg, rng)
            boundary = tok == V.BAR or (unit == "beat" and V.TOKENS[tok].startswith("POS_") and int(V.TOKENS[tok][4:]) >= beat_end)
            if boundary and chunk:
                break
            self.feed(tok)
            chunk.append(tok)
            confs.append(conf)
            if boundary:  # a chunk that starts on its boundary token: continue into it
                beat_end = ((max(g.pos, 0) // 4) + 1) * 4
        self.stats.chunks += 1
        confidence = float(np.mean(confs)) if confs else 1.0
        if confidence < cfg.confidence_threshold:
            self.stats.fallbacks += 1
            # keep the last valid prediction; with none yet, rest to the next bar line
            replacement = self._last_valid if getattr(self, "_last_valid", None) else [V.BAR]
            self.model.set_state(saved_state)
            self._logits = saved_logits
            self._head = saved_head
            g.state, g.pos, g.meter, g.bars = saved_grammar
            del self.tokens[start_len:]
            for t in replacement:
                if g.mask()[t]:
                    self.feed(t)
            return list(self.tokens[start_len:])
        self._last_valid = list(chunk)
        return chunk

    def generate(self, n_bars: int, cfg: SamplingConfig, *, unit: str = "bar") -> list[int]:
        """Generate until ``n_bars`` new bar lines have been crossed; returns the new tokens."""
        if n_bars < 1 or n_bars > 512:
            raise ParameterError(f"bars={n_bars} must be within 1–512")
        rng = np.random.default_rng(cfg.seed)
        self._last_valid = None
        start = len(self.tokens)
        start_bars = self.grammar.bars
        limit = 256 * (n_bars + 1)  # tokens; the grammar bounds a bar, this bounds a run
        for _ in range(64 * n_bars):  # every chunk advances at least one token
            self.next_chunk(cfg, rng, unit=unit)
            new_bars = self.grammar.bars - start_bars
            if new_bars > n_bars or (new_bars == n_bars and self.grammar.state != "bar" and unit == "bar"):
                break
            if len(self.tokens) - start > limit:
                break
        new = self.tokens[start:]
        # trim at the bar line that would open bar n_bars + 1
        count = 0
        for i, t in enumerate(new):
            if t == V.BAR:
                count += 1
                if count > n_bars:
                    return new[:i]
        return new


class ChunkBuffer:
    """Chunks generated ahead of playback: a bounded ring the live engine drains."""

    def __init__(self, generator: Generator, cfg: SamplingConfig, *, unit: str = "beat", lookahead: int = 4):
        if lookahead < 1:
            raise ParameterError(f"lookahead={lookahead} must be >= 1 chunk")
        self.gen, self.cfg, self.unit = generator, cfg, unit
        self.rng = np.random.default_rng(cfg.seed)
        self.ring: deque[list[int]] = deque(maxlen=lookahead)

    def fill(self) -> int:
        """Generate until the ring holds ``lookahead`` chunks; returns how many were added."""
        added = 0
        while len(self.ring) < self.ring.maxlen:
            self.ring.append(self.gen.next_chunk(self.cfg, self.rng, unit=self.unit))
            added += 1
        return added

    def pop(self) -> list[int] | None:
        return self.ring.popleft() if self.ring else None
