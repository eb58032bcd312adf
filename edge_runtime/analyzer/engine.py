"""The streaming :class:`Analyzer` (``push(block)`` / ``report()``) and the file entry point.

All meters accumulate compact state as blocks arrive, so memory does not grow
with the audio (about 100 bytes per 100 ms plus one onset value per ~10 ms):
K-weighting filter state and per-100 ms sub-block energies (loudness,
LRA, crest, correlation over time), a streaming true-peak interpolator, Welch
sums of auto/cross power spectra, and the onset-detection function.  A whole
file is analysed by pushing it in blocks, so offline and live results are the
same computation.

Thread use: call :meth:`Analyzer.push` and :meth:`Analyzer.report` from one
worker thread (the live engine hands blocks over through its ring buffer);
never from the audio callback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import signal

from nomad_muse.analyzer import dynamics, fft, loudness, stereo, tonal
from nomad_muse.analyzer.report import AnalysisReport, LoudnessReport
from nomad_muse.analyzer.suggest import SuggestOptions, suggest
from nomad_muse.errors import InputError, ParameterError

SILENT_FRAME_MS = 1e-7  # -70 dBFS mean square: frames below are left out of spectra


@dataclass(frozen=True)
class AnalyzerConfig:
    """Analysis settings.

    Attributes
    ----------
    n_fft : int or None
        Welch segment (samples); None picks the power of two nearest 170 ms
        (8192 at 44.1/48 kHz), clipped to 1024–16384.
    window : str
        "hann" or "blackmanharris".
    fft_dtype : str
        "float64" or "float32" FFT precision.
    normalise_to_lufs : float
        Loudness (LUFS) tonal levels are normalised to.
    low_end_cutoff_hz : float
        Upper edge (Hz) of the low-end mono-compatibility band.
    """

    n_fft: int | None = None
    window: str = "hann"
    fft_dtype: str = "float64"
    normalise_to_lufs: float = tonal.NORMALISE_TO_LUFS
    low_end_cutoff_hz: float = stereo.LOW_END_CUTOFF_HZ
    with_dynamics: bool = True


def _pow2_near(x: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, 2 ** round(math.log2(x)))))


class Analyzer:
    """Streaming mix analyzer.

    Parameters
    ----------
    sr : int
        Sample rate in Hz (8000–192000).
    channels : int
        1, 2, 5 (L R C Ls Rs) or 6 (L R C LFE Ls Rs).
    config : AnalyzerConfig
    target : Target or None
        Tonal target (genre or reference) for band ranges and suggestions.
    options : SuggestOptions or None

    Examples
    --------
    >>> a = Analyzer(sr=48000, channels=2)
    >>> for block in blocks: a.push(block)          # doctest: +SKIP
    >>> a.report().loudness.integrated_lufs         # doctest: +SKIP
    """

    def __init__(self, *, sr: int, channels: int, config: AnalyzerConfig | None = None, target=None,
                 options: SuggestOptions | None = None, source: str = "<stream>") -> None:
        if not (8000 <= sr <= 192000):
            raise ParameterError(f"sr={sr} Hz must be between 8000 and 192000")
        self.weights = loudness.channel_weights(n_channels=channels)
        self.sr, self.channels = int(sr), int(channels)
        self.config = cfg = config or AnalyzerConfig()
        self.target, self.options, self.source = target, options or SuggestOptions(), source
        self._sos = loudness.k_weighting_sos(sr=sr)
        self._zi = np.zeros((self._sos.shape[0], 2, channels))
        self._sub = int(round(loudness.SUB_BLOCK_S * sr))
        self._carry_k = np.empty((0, channels))
        self._carry_y = np.empty((0, channels))
        self._kms: list[np.ndarray] = []   # per sub-block K-weighted mean square per channel
        self._ms: list[np.ndarray] = []    # raw mean square per channel
        self._pk: list[np.ndarray] = []    # raw sample peak per channel
        self._lr: list[float] = []         # Σ L·R / n per sub-block
        self._tp = loudness.TruePeakMeter(sr=sr, n_channels=channels)
        self.n_fft = cfg.n_fft or _pow2_near(0.17 * sr, 1024, 16384)
        self._win = fft.get_window(cfg.window, n_fft=self.n_fft)
        self._spec_buf = np.empty((0, channels))
        self._psd = np.zeros((channels, self.n_fft // 2 + 1))
        self._cross = np.zeros(self.n_fft // 2 + 1)
        self._n_frames = 0
        self.on_n_fft = _pow2_near(0.0426 * sr, 256, 8192)
        self.on_hop = self.on_n_fft // 4
        self._on_win = fft.get_window("hann", n_fft=self.on_n_fft)
        self._on_buf = np.empty(0)
        self._on_prev: np.ndarray | None = None
        self._flux: list[np.ndarray] = []
        self._energy: list[np.ndarray] = []
        self.n_samples = 0
        self._sum = np.zeros(channels)  # Σ samples per channel: the DC offset is their mean

    # -- ingest --------------------------------------------------------------------------------
    def push(self, block: np.ndarray) -> None:
        """Add audio ``(n, channels)`` (or ``(n,)`` for mono), float, full scale = 1.0."""
        y = np.asarray(block, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != self.channels:
            raise ParameterError(f"block shape {y.shape} must be (n, {self.channels})")
        if not np.all(np.isfinite(y)):
            raise InputError(f"{self.source}: block at sample {self.n_samples} contains NaN or infinite samples")
        if y.shape[0] == 0:
            return
        self.n_samples += y.shape[0]
        self._sum += y.sum(axis=0)
        yk, self._zi = signal.sosfilt(self._sos, y, axis=0, zi=self._zi)
        self._ingest_sub_blocks(y, yk)
        self._tp.push(y)
        self._ingest_spectra(y)
        if self.config.with_dynamics:
            self._ingest_onsets(y.mean(axis=1))

    def _ingest_sub_blocks(self, y: np.ndarray, yk: np.ndarray) -> None:
        ck = np.concatenate([self._carry_k, yk])
        cy = np.concatenate([self._carry_y, y])
        n = ck.shape[0] // self._sub
        if n:
            k = ck[: n * self._sub].reshape(n, self._sub, -1)
            r = cy[: n * self._sub].reshape(n, self._sub, -1)
            self._kms.extend(np.mean(k * k, axis=1))
            self._ms.extend(np.mean(r * r, axis=1))
            self._pk.extend(np.max(np.abs(r), axis=1))
            if self.channels >= 2:
                self._lr.extend(np.mean(r[:, :, 0] * r[:, :, 1], axis=1))
        self._carry_k = ck[n * self._sub :]
        self._carry_y = cy[n * self._sub :]

    def _ingest_spectra(self, y: np.ndarray) -> None:
        buf = np.concatenate([self._spec_buf, y])
        hop = self.n_fft // 2
        n_frames = 0 if buf.shape[0] < self.n_fft else (buf.shape[0] - self.n_fft) // hop + 1
        if n_frames:
            used = buf[: (n_frames - 1) * hop + self.n_fft]
            specs = []
            for c in range(self.channels):
                frames = fft.frame_signal(used[:, c], n_fft=self.n_fft, hop_length=hop)
                p, z = fft.frames_power(frames, window=self._win, dtype=self.config.fft_dtype,
                                        want_complex=(c < 2 and self.channels >= 2))
                specs.append((p, z))
            loud = np.mean([p.sum(axis=1) for p, _ in specs], axis=0) / (self.n_fft * float(np.sum(self._win ** 2)))
            keep = loud > SILENT_FRAME_MS
            if np.any(keep):
                for c, (p, _) in enumerate(specs):
                    self._psd[c] += p[keep].sum(axis=0)
                if self.channels >= 2:
                    zl, zr = specs[0][1][keep], specs[1][1][keep]
                    self._cross += (zl.real * zr.real + zl.imag * zr.imag).sum(axis=0)
                self._n_frames += int(keep.sum())
        self._spec_buf = buf[n_frames * hop :]

    def _ingest_onsets(self, x: np.ndarray) -> None:
        buf = np.concatenate([self._on_buf, x])
        n, hop = self.on_n_fft, self.on_hop
        n_frames = 0 if buf.shape[0] < n else (buf.shape[0] - n) // hop + 1
        if n_frames:
            frames = fft.frame_signal(buf[: (n_frames - 1) * hop + n], n_fft=n, hop_length=hop)
            p, _ = fft.frames_power(frames, window=self._on_win, dtype=self.config.fft_dtype)
            mag = np.log1p(np.sqrt(p) * (10.0 / n))   # log-compressed magnitude (Böck et al. 2012, eq. 2)
            prev = mag[:1] if self._on_prev is None else self._on_prev
            d = np.diff(np.concatenate([prev, mag]), axis=0)
            self._flux.append(np.sum(np.maximum(d, 0.0), axis=1))   # eq. 3: half-wave rectified difference
            with np.errstate(divide="ignore"):
                self._energy.append(10.0 * np.log10(np.maximum(p.sum(axis=1), 1e-20)))
            self._on_prev = mag[-1:]
        self._on_buf = buf[n_frames * hop :]

    # -- results -------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sr

    def loudness_report(self) -> LoudnessReport:
        """Loudness meters of everything pushed so far."""
        kms = np.asarray(self._kms).reshape(-1, self.channels)
        G = self.weights
        z_m = loudness.window_mean_squares(z_sub=kms, n_sub=4)      # 400 ms, 100 ms hop (BS.1770-4 eq. 3)
        z_s = loudness.window_mean_squares(z_sub=kms, n_sub=30)     # 3 s (EBU Tech 3341 short-term)
        integrated = loudness.gated_loudness(z=z_m, weights=G) if z_m.shape[0] else float("-inf")
        m = loudness.block_loudness(z=z_m, weights=G)
        s = loudness.block_loudness(z=z_s, weights=G)
        lra = loudness.loudness_range_from_short_term(s=s)
        tp_ch = np.asarray(self._tp_peak_now())
        tp = loudness.to_db(float(tp_ch.max()))
        ms_all = self._ms_total()
        sp = max([float(np.max(self._pk)) if self._pk else 0.0, float(np.max(np.abs(self._carry_y))) if self._carry_y.size else 0.0])
        sp_db = loudness.to_db(sp)
        rms_db = loudness.to_db(float(np.mean(ms_all)), power=True)
        finite = lambda a: float(np.max(a[np.isfinite(a)])) if a.size and np.any(np.isfinite(a)) else float("-inf")  # noqa: E731
        return LoudnessReport(
            integrated_lufs=integrated, momentary_max_lufs=finite(m), short_term_max_lufs=finite(s), lra_lu=lra,
            true_peak_dbtp=tp, sample_peak_dbfs=sp_db,
            plr_lu=tp - integrated if math.isfinite(integrated) and math.isfinite(tp) else float("nan"),
            rms_dbfs=rms_db, crest_factor_db=sp_db - rms_db if math.isfinite(rms_db) else float("nan"),
            true_peak_per_channel_dbtp=tuple(loudness.to_db(float(v)) for v in tp_ch),
            oversampling=self._tp.up,
            dc_offset_per_channel=tuple(float(v) for v in self._sum / max(self.n_samples, 1)))

    def _tp_peak_now(self) -> np.ndarray:
        # A snapshot without ending the stream: run a copy of the meter to the end.
        import copy

        return copy.deepcopy(self._tp).finish()

    def _ms_total(self) -> np.ndarray:
        ms = np.asarray(self._ms).reshape(-1, self.channels)
        n_sub = ms.shape[0] * self._sub
        tot = ms.sum(axis=0) * self._sub + np.sum(self._carry_y ** 2, axis=0)
        return tot / max(n_sub + self._carry_y.shape[0], 1)

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """(freqs Hz, mean-over-channels PSD FS^2/Hz) of non-silent frames so far (zeros if none)."""
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)
        if self._n_frames == 0:
            return freqs, np.zeros_like(freqs)
        psd = fft.density_scale(self._psd / self._n_frames, window=self._win, sr=self.sr)
        return freqs, psd.mean(axis=0)

    def report(self, *, with_suggestions: bool = True) -> AnalysisReport:
        """Every measurement (and the suggestions) for the audio pushed so far."""
        L = self.loudness_report()
        notes = []
        freqs, psd = self.spectrum()
        if L.silent:
            notes.append("silent: the programme never rises above the -70 LUFS gate; no loudness or tonal balance")
        if self._n_frames == 0 and not L.silent:
            notes.append(f"too short for the {self.n_fft}-sample spectrum; no tonal balance")
        tr = None
        if self._n_frames and not L.silent:
            tr = tonal.tonal_report(freqs=freqs, psd=psd, integrated_lufs=L.integrated_lufs,
                                    normalise_to_lufs=self.config.normalise_to_lufs, target=self.target)
        st = None
        if self.channels >= 2:
            ms = np.asarray(self._ms).reshape(-1, self.channels)
            st = stereo.stereo_report(ll_sub=ms[:, 0], rr_sub=ms[:, 1], lr_sub=np.asarray(self._lr), freqs=freqs,
                                      cross=self._cross, psd_l=self._psd[0], psd_r=self._psd[1],
                                      low_end_cutoff_hz=self.config.low_end_cutoff_hz)
        pk = np.asarray(self._pk).reshape(-1, self.channels).max(axis=1) if self._pk else np.empty(0)
        ms_sub = np.asarray(self._ms).reshape(-1, self.channels).mean(axis=1) if self._ms else np.empty(0)
        flux = np.concatenate(self._flux) if self._flux else np.empty(0)
        en = np.concatenate(self._energy) if self._energy else np.empty(0)
        dy = dynamics.dynamics_report(peak_sub=pk, ms_sub=ms_sub, flux=flux, energy_db=en,
                                      frame_rate=self.sr / self.on_hop, duration_s=self.duration_s,
                                      plr_lu=L.plr_lu, over_compressed_plr_lu=self.options.over_compressed_plr_lu)
        layout = loudness.LAYOUT_BY_CHANNELS[self.channels]
        if layout in ("5.0", "5.1"):
            notes.append("surround: loudness uses BS.1770-4 channel weights (LFE excluded); stereo metrics use L/R")
        if self.target is not None and self.target.n_tracks and self.target.n_tracks < 5:
            notes.append(f"target {self.target.name!r} comes from only {self.target.n_tracks} track(s); its ranges are narrow")
        rep = AnalysisReport(source=self.source, sr=self.sr, channels=self.channels, layout=layout,
                             duration_s=self.duration_s, fft_backend=fft.backend_name(), loudness=L, stereo=st,
                             dynamics=dy, tonal=tr, notes=tuple(notes))
        if with_suggestions:
            rep = replace(rep, suggestions=suggest(rep, options=self.options))
        return rep


def analyze_array(y: np.ndarray, *, sr: int, target=None, options: SuggestOptions | None = None,
                  config: AnalyzerConfig | None = None, source: str = "<array>",
                  block: int = 1 << 16) -> AnalysisReport:
    """Analyse an in-memory signal ``(n,)`` or ``(n, channels)`` (full scale = 1.0) at ``sr`` Hz."""
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    a = Analyzer(sr=sr, channels=y.shape[1], config=config, target=target, options=options, source=source)
    for s in range(0, y.shape[0], block):
        a.push(y[s : s + block])
    return a.report()


def analyze_file(path: str | Path, *, target=None, options: SuggestOptions | None = None,
                 config: AnalyzerConfig | None = None, with_dynamics: bool = True) -> AnalysisReport:
    """Validate, read (in blocks) and analyse an audio file.

    Raises
    ------
    InputError
        Missing, empty, corrupt, non-audio, too short, NaN/inf, all-zero
        samples, unsupported channel count or sample rate — one line each.
    """
    from nomad_muse.audio_io import iter_blocks, probe_audio

    info = probe_audio(path)
    cfg = replace(config or AnalyzerConfig(), with_dynamics=with_dynamics)
    a = Analyzer(sr=info.sr, channels=info.channels, config=cfg, target=target, options=options, source=info.path)
    for b in iter_blocks(info):
        a.push(b)
    rep = a.report()
    if rep.loudness.sample_peak_dbfs == float("-inf"):
        raise InputError(f"{info.path}: every sample is zero (digital silence); nothing to analyse — check the export")
    return rep
