"""Streaming instrument classification: blocks in, per-frame probabilities, a vote,
and a drums/tonal track-type switch with a 0.75 threshold and hysteresis.

The same code runs offline over a file (:func:`classify_file`), so streaming
and offline agree by construction.

* Features: 20 ms mel hop (``features.HOP_S``); a classification every
  ``hop_ms`` (20–50 ms, rounded to whole mel hops) over the last 8 frames.
* Vote: mean probabilities over the last ``vote_ms`` (100–200 ms).
* Switch (seed §3): the track type changes only when the vote gives the
  other type ≥ ``switch_threshold`` (0.75) for ``hysteresis_votes`` votes
  in a row.
* Silence: a window below ``silence_dbfs`` (−60 dBFS RMS) yields "no signal"
  (no class, no vote), never a random class.
* Overload (seed §7.3): at most ``max_infer_per_push`` model calls per
  ``push``; older pending classifications reuse the last result and are
  counted in ``stats.skipped``.
* Stable signal (seed §7.3 "cache last result, skip frames"; issue 19), with
  ``skip_stable``: while the track type is decided with no switch pending,
  a window whose level is within ``stable_level_db`` of the last inferred
  window's and whose mean log-mel spectrum differs from it by less than
  ``stable_flux_db`` (mean absolute dB difference over the 128 bands)
  reuses the last result without a model call, at most
  ``max_stable_skips`` windows in a row; counted in ``stats.stable_skipped``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nomad_muse.backends.base import Candidate, CompiledModel
from nomad_muse.backends.registry import LoadResult, load_first
from nomad_muse.backends.spec import ModelSpec
from nomad_muse.classifier.features import CONTEXT, HOP_S, SR_TRAIN, Resampler, frame_params, logmel_frame, normalise, window_level_dbfs
from nomad_muse.errors import ParameterError
from nomad_muse.gm import FAMILIES
from nomad_muse.settings import Rule, check, default, validate

DRUMS = FAMILIES.index("drums")

#: the classifier's model contract: a (1, 1, 128, CONTEXT) log-mel window in, family logits out, stateless
SPEC = ModelSpec("classifier", "classifier.onnx", inputs=("mel",), outputs=("logits",))


def default_model_path() -> Path:
    from nomad_muse.paths import models_dir

    return SPEC.default_path(models_dir())


def load_classifier_model(model_path: Path | None = None, candidates: Sequence[Candidate] | None = None, threads: int = 1,
                          *, use_adapter: bool = True) -> LoadResult:
    """The classifier model on the policy's first working backend (fallbacks recorded).

    With ``use_adapter`` (default) the user's adapter for this exact model file
    (``muse adapt classifier``; off with ``MUSE_NO_ADAPTER=1``) replaces the final layer.
    """
    path = Path(model_path) if model_path else default_model_path()
    if candidates is None:
        from nomad_muse.policy import default_candidates
        from nomad_muse.probe import probe

        candidates = default_candidates("classifier", probe())
    res = load_first(candidates, path, threads=threads, state=SPEC.state_map)
    return with_adapter(res, path) if use_adapter else res


def with_adapter(res: LoadResult, path: Path) -> LoadResult:
    """``res`` with the user's adapter for this exact model file (``muse adapt classifier``) replacing
    the final layer, if there is one (off with ``MUSE_NO_ADAPTER=1``)."""
    from dataclasses import replace

    from nomad_muse.classifier.adapter import AdaptedModel, load_adapter

    ad = load_adapter(path)
    if ad is not None:
        res = replace(res, model=AdaptedModel(res.model, ad))
    return res


_CANONICAL = {"hop_ms": "classifier_hop_ms", "vote_ms": "classifier_vote_ms"}
_RULES = {"switch_threshold": Rule("", 0.5, 1.0, hi_open=True), "hysteresis_votes": Rule("", 1, float("inf")),
          "max_infer_per_push": Rule("", 1, float("inf"))}


@dataclass(frozen=True)
class ClassifierConfig:
    """Hop and vote window (defaults and ranges: :data:`nomad_muse.settings.SETTINGS`), switch rule, call cap."""

    hop_ms: float = default("classifier_hop_ms")
    vote_ms: float = default("classifier_vote_ms")
    switch_threshold: float = 0.75
    hysteresis_votes: int = 2
    silence_dbfs: float = -60.0
    max_infer_per_push: int = 16
    #: skip the model while the type is stable and the signal unchanged (off by default: offline
    #: classification keeps every call; the live engine turns it on)
    skip_stable: bool = False
    stable_level_db: float = 1.0
    stable_flux_db: float = 1.0
    max_stable_skips: int = 10

    def __post_init__(self) -> None:
        validate(self, _CANONICAL)
        for name, r in _RULES.items():
            check(name, getattr(self, name), r)
        if not (self.stable_level_db > 0 and self.stable_flux_db > 0 and self.max_stable_skips >= 1):
            raise ParameterError(f"stable_level_db={self.stable_level_db}, stable_flux_db={self.stable_flux_db} must be > 0 "
                                 f"and max_stable_skips={self.max_stable_skips} >= 1")


@dataclass(frozen=True)
class FrameResult:
    time_s: float  # end of the analysed window, from the stream start
    family: str | None  # None = no signal
    confidence: float  # vote probability of ``family``
    probs: tuple[float, ...]  # the vote (mean over the vote window), by FAMILIES order
    track_type: str | None  # current switch state: "drums", "tonal" or None (not decided yet)
    skipped: bool = False  # reused the last result (overload)


@dataclass
class StreamStats:
    windows: int = 0
    inferences: int = 0
    skipped: int = 0
    silent: int = 0
    stable_skipped: int = 0  # windows that reused the last result because the signal had not changed
    switches: int = 0
    switch_times_s: list[float] = field(default_factory=list)


class StreamingClassifier:
    def __init__(self, sr: int, model: CompiledModel, config: ClassifierConfig | None = None):
        if not 8000 <= sr <= 192000:
            raise ParameterError(f"sr={sr} must be within 8000–192000 Hz")
        self.sr, self.model, self.cfg = sr, model, config or ClassifierConfig()
        # the model's frames are 22.05 kHz frames whatever the input rate (features.Resampler)
        self._rs = Resampler(sr, SR_TRAIN)
        self.n_fft, self.hop = frame_params(SR_TRAIN)
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # absolute sample index of _buf[0]
        self._next_frame = 0  # absolute sample index where the next mel frame starts
        self._frames: deque[np.ndarray] = deque(maxlen=CONTEXT)
        self._energy: deque[float] = deque(maxlen=CONTEXT)  # mean square per frame
        self._hop_frames = max(1, int(round(self.cfg.hop_ms / 1000 / HOP_S)))
        self._since = 0
        self._votes: deque[np.ndarray] = deque(maxlen=max(1, int(round(self.cfg.vote_ms / (self._hop_frames * HOP_S * 1000)))))
        self._pending_type: str | None = None
        self._pending_count = 0
        self.track_type: str | None = None
        self.last: FrameResult | None = None
        self.stats = StreamStats()
        self._x = np.zeros((1, 1, 128, CONTEXT), np.float32)
        self._ref: tuple[float, np.ndarray] | None = None  # (level, mean log-mel) of the last inferred window
        self._stable_run = 0

    # -- decision -------------------------------------------------------------
    def _decide(self, probs: np.ndarray, t: float) -> FrameResult:
        self._votes.append(probs)
        vote = np.mean(self._votes, axis=0)
        fam = int(np.argmax(vote))
        p_drums = float(vote[DRUMS])
        cand = "drums" if p_drums >= self.cfg.switch_threshold else "tonal" if 1 - p_drums >= self.cfg.switch_threshold else None
        if cand is not None and cand != self.track_type:
            self._pending_count = self._pending_count + 1 if cand == self._pending_type else 1
            self._pending_type = cand
            if self._pending_count >= self.cfg.hysteresis_votes:
                self.track_type = cand
                self.stats.switches += 1
                self.stats.switch_times_s.append(t)
                self._pending_count, self._pending_type = 0, None
        elif cand == self.track_type:
            self._pending_count, self._pending_type = 0, None
        return FrameResult(t, FAMILIES[fam], float(vote[fam]), tuple(vote.tolist()), self.track_type)

    def push(self, block: np.ndarray) -> list[FrameResult]:
        """Feed audio (mono ``(n,)`` or ``(n, channels)``, float, −1…1); returns new results."""
        y = np.asarray(block, dtype=np.float32)
        if y.ndim == 2:
            y = y.mean(axis=1)
        if not np.all(np.isfinite(y)):
            y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
        self._buf = np.concatenate([self._buf, self._rs.push(y)])
        return self._run()

    def flush(self) -> list[FrameResult]:
        """End of input: pad with silence so a short sound (a 50 ms one-shot) still fills one window."""
        tail = self._rs.push(np.zeros(0, np.float32), last=True)
        out: list[FrameResult] = []
        if tail.size:
            self._buf = np.concatenate([self._buf, tail])
            out = self._run()
        missing = CONTEXT - len(self._frames)
        need = (self._next_frame + self.n_fft + (missing - 1) * self.hop) - (self._buf_start + self._buf.size)
        if self.stats.windows == 0 and missing > 0 and need > 0:
            self._buf = np.concatenate([self._buf, np.zeros(need, np.float32)])
            self._since = self._hop_frames - 1
            return out + self._run()
        return out

    def _run(self) -> list[FrameResult]:
        out: list[FrameResult] = []
        # compute frames one at a time so each classification sees its own window
        while True:
            ends = self._frames_from_buffer_one()
            if ends is None:
                break
            if len(self._frames) < CONTEXT:
                continue
            self._since += 1
            if self._since < self._hop_frames:
                continue
            self._since = 0
            out.append(self._window_result(ends))
        # overload: run the model only for the newest max_infer_per_push windows
        return self._infer(out)

    def _frames_from_buffer_one(self) -> int | None:
        """Compute the next mel frame if the buffer holds it; returns its end sample (or None)."""
        if self._next_frame + self.n_fft > self._buf_start + self._buf.size:
            drop = self._next_frame - self._buf_start
            if drop > 0:
                self._buf = self._buf[drop:]
                self._buf_start += drop
            return None
        i = self._next_frame - self._buf_start
        seg = self._buf[i : i + self.n_fft]
        self._frames.append(logmel_frame(seg, SR_TRAIN))
        self._energy.append(float(np.mean(np.square(seg, dtype=np.float64))))
        end = self._next_frame + self.n_fft
        self._next_frame += self.hop
        return end

    def _window_result(self, end: int):
        """A pending classification: (time, window copy, level)."""
        return (end / SR_TRAIN, np.stack(self._frames), window_level_dbfs(self._energy))

    def _stable(self, window: np.ndarray, level: float) -> bool:
        """True when this window may reuse the last result (``skip_stable``; see the module docstring)."""
        cfg, ref, last = self.cfg, self._ref, self.last
        if not cfg.skip_stable or ref is None or last is None or last.family is None:
            return False
        if self.track_type is None or self._pending_count or self._stable_run >= cfg.max_stable_skips:
            return False
        if abs(level - ref[0]) >= cfg.stable_level_db:
            return False
        return float(np.mean(np.abs(window.mean(axis=0) - ref[1]))) < cfg.stable_flux_db

    def _infer(self, pending: list) -> list[FrameResult]:
        results = []
        n = len(pending)
        for k, (t, window, level) in enumerate(pending):
            self.stats.windows += 1
            if level < self.cfg.silence_dbfs:
                self.stats.silent += 1
                self._votes.clear()
                self._ref = None
                res = FrameResult(t, None, 0.0, tuple(0.0 for _ in FAMILIES), self.track_type)
            elif k < n - self.cfg.max_infer_per_push and self.last is not None:
                self.stats.skipped += 1
                res = FrameResult(t, self.last.family, self.last.confidence, self.last.probs, self.track_type, skipped=True)
            elif self._stable(window, level):
                self.stats.stable_skipped += 1
                self._stable_run += 1
                res = FrameResult(t, self.last.family, self.last.confidence, self.last.probs, self.track_type, skipped=True)
            else:
                self._x[...] = normalise(window)
                logits = self.model.run({"mel": self._x})["logits"][0].astype(np.float64)
                self.stats.inferences += 1
                p = np.exp(logits - logits.max())
                res = self._decide(p / p.sum(), t)
                if self.cfg.skip_stable:
                    self._ref, self._stable_run = (level, window.mean(axis=0)), 0
            self.last = res
            results.append(res)
        return results


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    family: str | None
    mean_confidence: float


def summarise(results: Sequence[FrameResult]) -> dict:
    """Timeline segments of equal family, the dominant family, and drums/tonal shares."""
    segs: list[Segment] = []
    cur, start, confs, prev_t = None, 0.0, [], 0.0
    for r in results:
        if segs == [] and cur is None and not confs:
            cur, start = r.family, max(0.0, r.time_s - CONTEXT * HOP_S)
        if r.family != cur:
            segs.append(Segment(start, prev_t, cur, float(np.mean(confs)) if confs else 0.0))
            cur, start, confs = r.family, prev_t, []
        confs.append(r.confidence)
        prev_t = r.time_s
    if results:
        segs.append(Segment(start, prev_t, cur, float(np.mean(confs)) if confs else 0.0))
    voiced = [r for r in results if r.family is not None]
    counts = {f: sum(r.family == f for r in voiced) for f in FAMILIES}
    mean_probs = np.mean([r.probs for r in voiced], axis=0) if voiced else np.zeros(len(FAMILIES))
    top = max(counts, key=counts.get) if voiced else None
    return {
        "family": top,
        "family_share": counts[top] / len(voiced) if voiced else 0.0,
        "mean_probs": {f: float(p) for f, p in zip(FAMILIES, mean_probs)},
        "drums_share": counts["drums"] / len(voiced) if voiced else 0.0,
        "track_type": ("drums" if counts["drums"] > len(voiced) / 2 else "tonal") if voiced else None,
        "windows": len(results),
        "silent_windows": len(results) - len(voiced),
        "segments": [s.__dict__ for s in segs],
    }


def classify_array(y: np.ndarray, sr: int, model: CompiledModel, config: ClassifierConfig | None = None, block: int = 1024):
    """Offline: the streaming classifier over a whole signal in blocks; (results, stats)."""
    return classify_blocks([y], sr, model, config, block=block)


def classify_blocks(blocks, sr: int, model: CompiledModel, config: ClassifierConfig | None = None, block: int = 1024):
    """Offline: the streaming classifier over mono float32 ``blocks`` of any size (an iterable, e.g. a file
    read block by block), pushed ``block`` samples at a time; (results, stats).  Memory: one read block."""
    sc = StreamingClassifier(sr, model, config)
    results: list[FrameResult] = []
    pushed = 0
    for y in blocks:
        for i in range(0, len(y), block):
            results += sc.push(y[i : i + block])
        pushed += len(y)
    if pushed == 0:
        results += sc.push(np.zeros(0, np.float32))
    results += sc.flush()
    return results, sc.stats
