"""Auto-tuner: the lowest-latency sizes whose measured p99 plus a safety margin fits the budget.

Pure functions of a measurement table (:class:`Timings`, milliseconds) and a
:class:`Budget`, so the search is tested on recorded tables of machines we
do not have (``tests/data/measurements/*.json``).  The winner is then proven
by :mod:`calibration.replay` on the real pipeline; if the replay misses a
deadline, :func:`tune` runs again with that configuration excluded (step back).

Search space (issue 7):

* audio block: 64, 128, 256, 512, 1024 samples;
* classifier hop: 20 or 40 ms — the streaming classifier runs on whole 20 ms
  mel hops, so these are the hops within 20–50 ms it can realise (30 and
  50 ms would round to 40); the 46 ms analysis frame is fixed by the model;
* generator chunk: beat or bar, and lookahead 1.5–8 beats;
* analyzer: FFT size 4096/8192/16384 and update period 0.5/1/2 s.

Model of the work (all p99, worst case, one core doing everything):

* per audio block ``W = overhead(block) + ⌈block/mel hop⌉·frame + ⌈block/cls hop⌉·call
  + ⌈block·steps/s⌉·step + chunk(n_fft)·block/(n_fft/2)`` — the callback's copy
  into the ring and the classifier's buffering, the mel frames and classifications due, the generator steps
  due at the densest measured token rate (``tokens_per_beat`` at
  ``max_tempo_bpm``), and the analyzer's ingest **amortised**: the analyzer
  reads the ring once per Welch hop (``n_fft/2`` samples) on its own thread,
  so its cost per block is its per-hop cost spread over the blocks of a hop;
* it fits when ``W·(1+margin) ≤ block period``; the end-to-end audio latency is
  ``2·block period + W·(1+margin)`` (input and output buffer plus the work) and
  must stay under ``budget.e2e_ms``;
* classifier: ``(frame + call)·(1+margin) ≤ budget.classifier_ms``;
* generator: a chunk's steps ``·(1+margin)`` must finish within the lookahead
  beyond that chunk, ``(lookahead − chunk)`` beats at ``max_tempo_bpm``;
* analyzer: ``update(n_fft)·(1+margin) ≤ period ≤ budget.analyzer_update_s``.

Preference (lowest latency first): smaller block, shorter classifier hop,
shorter lookahead (beat chunks before bars), shorter analyzer period, then the
analyzer's default resolution (8192 at 48 kHz) before coarser/finer sizes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nomad_muse.errors import ParameterError
from nomad_muse.machine_profile import TunedConfig
from nomad_muse.settings import BLOCK_SIZES

BLOCKS = BLOCK_SIZES  # the legal set is the candidate set: every legal block is measured
HOPS_MS = (20.0, 40.0)
MEL_HOP_MS = 20.0
CHUNKS = {"beat": 1.0, "bar": 4.0}
LOOKAHEADS = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
FFT_SIZES = (8192, 4096, 16384)  # preference order: the analyzer's default resolution first
PERIODS_S = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Budget:
    """What must fit: end-to-end audio latency (ms), classifier (ms), analyzer update (s), safety margin."""

    e2e_ms: float = 20.0
    classifier_ms: float = 10.0
    analyzer_update_s: float = 2.0
    margin: float = 0.5
    max_tempo_bpm: float = 180.0

    def __post_init__(self) -> None:
        if not 2.0 <= self.e2e_ms <= 500.0:
            raise ParameterError(f"budget {self.e2e_ms:g} ms (--budget-ms) must be within 2–500 ms")
        if self.classifier_ms <= 0 or self.analyzer_update_s <= 0:
            raise ParameterError("classifier_ms and analyzer_update_s must be > 0")
        if not 0.0 <= self.margin <= 5.0:
            raise ParameterError(f"margin={self.margin} must be within 0–5 (a fraction: 0.5 = +50 %)")


def _int_keys(d: Mapping) -> dict[int, float]:
    return {int(k): float(v) for k, v in d.items()}


@dataclass(frozen=True)
class Timings:
    """Measured p99 costs (ms) the search needs; recorded per machine as JSON.

    Attributes
    ----------
    sample_rate : int
        Audio rate (Hz).
    classifier_call_ms : float
        One classifier model call on the chosen variant.
    classifier_frame_ms : float
        One 20 ms log-mel frame (FFT + mel + log).
    generator_step_ms : float
        One generated token: model step on the chosen variant + grammar mask + sampling.
    tokens_per_beat : float
        Densest token rate to keep up with (95th percentile over bars of real data).
    block_overhead_ms : dict[int, float]
        Per audio block size: the callback's copy into the ring buffer plus the
        streaming classifier's buffering and mel frames in a block without a model call.
    analyzer_chunk_ms : dict[int, float]
        Per analyzer FFT size: one analyzer ingest of ``n_fft/2`` stereo samples
        (K-weighting, meters, true peak, one Welch frame, onsets).
    analyzer_update_ms : dict[int, float]
        Per analyzer FFT size: one analyzer update (report from the spectra so far).
    """

    sample_rate: int
    classifier_call_ms: float
    classifier_frame_ms: float
    generator_step_ms: float
    tokens_per_beat: float
    block_overhead_ms: Mapping[int, float]
    analyzer_chunk_ms: Mapping[int, float]
    analyzer_update_ms: Mapping[int, float]

    @classmethod
    def from_dict(cls, d: Mapping) -> "Timings":
        try:
            return cls(
                sample_rate=int(d["sample_rate"]),
                classifier_call_ms=float(d["classifier_call_ms"]),
                classifier_frame_ms=float(d["classifier_frame_ms"]),
                generator_step_ms=float(d["generator_step_ms"]),
                tokens_per_beat=float(d["tokens_per_beat"]),
                block_overhead_ms=_int_keys(d["block_overhead_ms"]),
                analyzer_chunk_ms=_int_keys(d["analyzer_chunk_ms"]),
                analyzer_update_ms=_int_keys(d["analyzer_update_ms"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ParameterError(f"measurement table is incomplete or malformed ({e!r})") from None

    def as_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "classifier_call_ms": self.classifier_call_ms,
            "classifier_frame_ms": self.classifier_frame_ms,
            "generator_step_ms": self.generator_step_ms,
            "tokens_per_beat": self.tokens_per_beat,
            "block_overhead_ms": {str(k): v for k, v in self.block_overhead_ms.items()},
            "analyzer_chunk_ms": {str(k): v for k, v in self.analyzer_chunk_ms.items()},
            "analyzer_update_ms": {str(k): v for k, v in self.analyzer_update_ms.items()},
        }


@dataclass(frozen=True)
class Prediction:
    """Predicted p99 costs (ms) of one configuration."""

    block_period_ms: float
    block_work_ms: float  # W, before the margin
    e2e_ms: float  # 2·period + W·(1+margin)
    classifier_ms: float
    generator_chunk_ms: float
    generator_slack_ms: float  # lookahead beyond the chunk, at max tempo
    analyzer_update_ms: float

    def as_dict(self) -> dict:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class TuneResult:
    """The chosen configuration (or why none fits), the table explaining it, and the runners-up."""

    ok: bool
    config: TunedConfig | None
    prediction: Prediction | None
    reason: str
    table: tuple[dict, ...]
    ranked: tuple[tuple[TunedConfig, Prediction], ...] = field(default=(), repr=False)


def block_work_ms(t: Timings, b: Budget, block: int, hop_ms: float, n_fft: int) -> float:
    """Worst-case per-block work W (ms, p99) at this block size, classifier hop and FFT size."""
    sr = t.sample_rate
    block_s = block / sr
    steps_per_s = t.tokens_per_beat * b.max_tempo_bpm / 60.0
    return (
        t.block_overhead_ms[block]
        + math.ceil(block_s * 1000.0 / MEL_HOP_MS) * t.classifier_frame_ms
        + math.ceil(block_s * 1000.0 / hop_ms) * t.classifier_call_ms
        + math.ceil(block_s * steps_per_s) * t.generator_step_ms
        + t.analyzer_chunk_ms[n_fft] * block / (n_fft // 2)
    )


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:.0f}"


def tune(t: Timings, budget: Budget = Budget(), *, exclude_blocks: Iterable[int] = (), blocks: Iterable[int] = BLOCKS) -> TuneResult:
    """Search the grid; the lowest-latency configuration that fits, or a clear "does not meet the budget".

    ``exclude_blocks`` holds block sizes a replay has already disproved: the
    step back goes to the next larger block.
    """
    k = 1.0 + budget.margin
    excluded = set(int(b) for b in exclude_blocks)
    blocks = tuple(blocks)
    sr = t.sample_rate
    rows: list[dict] = []
    reasons: list[str] = []

    # classifier: independent of the sizes
    cls_ms = t.classifier_frame_ms + t.classifier_call_ms
    cls_ok = cls_ms * k <= budget.classifier_ms
    rows.append({"part": "classifier", "candidate": "frame + call", "measured": f"{_fmt(cls_ms)} ms p99 (×{k:g} = {_fmt(cls_ms * k)})",
                 "chosen": cls_ok, "why": f"{'fits' if cls_ok else 'exceeds'} the {budget.classifier_ms:g} ms classifier budget"})
    if not cls_ok:
        reasons.append(f"classifier p99 {cls_ms:.2f} ms × {k:g} > {budget.classifier_ms:g} ms")

    # generator: smallest lookahead (beat chunks first) whose chunk fits in the slack
    beat_ms = 60000.0 / budget.max_tempo_bpm
    gen_choice = None
    gen_rows = []
    for chunk, cb in CHUNKS.items():
        chunk_ms = cb * t.tokens_per_beat * t.generator_step_ms
        for la in LOOKAHEADS:
            if la <= cb:
                continue
            slack = (la - cb) * beat_ms
            fits = chunk_ms * k <= slack
            gen_rows.append((chunk, la, chunk_ms, slack, fits))
            if fits and (gen_choice is None or la < gen_choice[1]):
                gen_choice = (chunk, la, chunk_ms, slack)
    for chunk, la, chunk_ms, slack, fits in gen_rows:
        chosen = gen_choice is not None and (chunk, la) == gen_choice[:2]
        if chosen or (not fits and la == min(x for x in LOOKAHEADS if x > CHUNKS[chunk])):
            rows.append({"part": "generator", "candidate": f"{chunk} chunk, lookahead {la:g} beats",
                         "measured": f"chunk {_fmt(chunk_ms)} ms (×{k:g}) vs slack {_fmt(slack)} ms at {budget.max_tempo_bpm:g} BPM",
                         "chosen": chosen, "why": "shortest lookahead that fits" if chosen else "chunk does not finish within the lookahead"})
    if gen_choice is None:
        reasons.append(f"generator step {t.generator_step_ms:.2f} ms × {t.tokens_per_beat:.1f} tokens/beat cannot keep up at {budget.max_tempo_bpm:g} BPM")

    # analyzer: per FFT size, the shortest period its update fits in
    an_choice: dict[int, tuple[float, float]] = {}
    for n in FFT_SIZES:
        if n not in t.analyzer_update_ms or n not in t.analyzer_chunk_ms:
            continue
        u = t.analyzer_update_ms[n]
        for p in PERIODS_S:
            if p <= budget.analyzer_update_s and u * k <= p * 1000.0:
                an_choice[n] = (p, u)
                break
    if not an_choice:
        reasons.append(f"no analyzer update fits {budget.analyzer_update_s:g} s")

    # audio blocks × classifier hop × FFT size
    ranked: list[tuple[tuple, TunedConfig, Prediction]] = []
    block_rows: dict[int, dict] = {}
    for block in blocks:
        if block not in t.block_overhead_ms:
            block_rows[block] = {"part": "audio", "candidate": f"block {block}", "measured": "not measured", "chosen": False, "why": "no measurement at this size"}
            continue
        period = 1000.0 * block / sr
        best_why = None
        for hi, hop in enumerate(HOPS_MS):
            for fi, n in enumerate(FFT_SIZES):
                if n not in an_choice:
                    continue
                w = block_work_ms(t, budget, block, hop, n)
                e2e = 2 * period + w * k
                if w * k > period:
                    best_why = best_why or (w, e2e, f"work {_fmt(w)} ms × {k:g} > block period {_fmt(period)} ms")
                    continue
                if e2e > budget.e2e_ms:
                    best_why = best_why or (w, e2e, f"end-to-end {_fmt(e2e)} ms > budget {budget.e2e_ms:g} ms")
                    continue
                if not (cls_ok and gen_choice):
                    continue
                p_s, u = an_choice[n]
                cfg = TunedConfig(
                    sample_rate=sr, block_size=block, classifier_hop_ms=hop, generator_chunk=gen_choice[0],
                    generator_lookahead_beats=gen_choice[1], analyzer_fft_size=n, analyzer_period_s=p_s,
                )
                pred = Prediction(period, w, e2e, cls_ms, gen_choice[2], gen_choice[3], u)
                key = (block, hi, gen_choice[1], p_s, fi)
                if block in excluded:
                    best_why = best_why or (w, e2e, "replay missed deadlines here (stepped back)")
                    continue
                ranked.append((key, cfg, pred))
        if best_why and not any(c.block_size == block for _, c, _ in ranked):
            w, e2e, why = best_why
            block_rows[block] = {"part": "audio", "candidate": f"block {block} ({_fmt(period)} ms)",
                                 "measured": f"work {_fmt(w)} ms p99, e2e {_fmt(e2e)} ms", "chosen": False, "why": why}
    ranked.sort(key=lambda r: r[0])
    if not ranked and not reasons:
        if excluded:
            reasons.append(f"no other block size fits {budget.e2e_ms:g} ms end-to-end with a {100 * budget.margin:g} % margin "
                           f"(blocks {', '.join(str(x) for x in sorted(excluded))} missed deadlines in the replay)")
        else:
            reasons.append(f"no audio block size fits {budget.e2e_ms:g} ms end-to-end with a {100 * budget.margin:g} % margin")
    chosen = ranked[0] if ranked else None
    for block in blocks:
        here = [r for r in ranked if r[1].block_size == block]
        if here:
            _, cfg, pred = here[0]
            is_chosen = chosen is not None and cfg == chosen[1]
            block_rows[block] = {
                "part": "audio", "candidate": f"block {block} ({_fmt(pred.block_period_ms)} ms), hop {cfg.classifier_hop_ms:g} ms, FFT {cfg.analyzer_fft_size}",
                "measured": f"work {_fmt(pred.block_work_ms)} ms p99, e2e {_fmt(pred.e2e_ms)} ms",
                "chosen": is_chosen, "why": "lowest latency that fits" if is_chosen else "fits, higher latency than the chosen block",
            }
    rows[1:1] = [block_rows[b] for b in blocks if b in block_rows]
    if chosen is not None:
        n = chosen[1].analyzer_fft_size
        p_s, u = an_choice[n]
        rows.append({"part": "analyzer", "candidate": f"FFT {n}, update every {p_s:g} s", "measured": f"update {_fmt(u)} ms p99 (×{k:g})",
                     "chosen": True, "why": f"shortest period the update fits; FFT {n} is {'the default resolution' if n == FFT_SIZES[0] else 'the preferred size that fits'}"})
    if chosen is None:
        return TuneResult(False, None, None, "does not meet the budget: " + "; ".join(reasons), tuple(rows), ())
    return TuneResult(True, chosen[1], chosen[2], "lowest-latency configuration that fits", tuple(rows), tuple((c, p) for _, c, p in ranked))
