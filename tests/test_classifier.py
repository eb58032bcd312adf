"""Classifier: features, streaming vs offline, backend equivalence, switch logic, bad input, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from nomad_muse.backends import get_backend
from nomad_muse.classifier.features import CONTEXT, frame_params, logmel_frames, mel_filterbank, normalise
from nomad_muse.classifier.stream import ClassifierConfig, FrameResult, StreamingClassifier, classify_array, summarise
from nomad_muse.errors import ParameterError
from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path
from nomad_muse.gm import FAMILIES
from nomad_muse.paths import models_dir

MODEL = models_dir() / "classifier.onnx"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="classifier model not built yet")


def tone(sr=22050, seconds=1.0, f=440.0, amp=0.3):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_frame_params_are_about_46_and_20_ms():
    assert frame_params(22050) == (1024, 441)
    assert frame_params(48000) == (2048, 960)
    assert frame_params(8000) == (512, 160)


def test_mel_filterbank_peaks_where_a_tone_is():
    y = tone(f=1000.0)
    frames = logmel_frames(y, 22050)
    band = int(np.argmax(frames[10]))
    fb = mel_filterbank(22050, 1024)
    centre_bin = int(np.argmax(fb[band]))
    assert abs(centre_bin * 22050 / 1024 - 1000.0) < 80
    # 8 kHz audio: bands above Nyquist are empty (floor), not an error
    assert (mel_filterbank(8000, 512)[-10:] == 0).all()


def test_normalise_is_level_invariant():
    f1 = logmel_frames(tone(amp=0.5), 22050)[:CONTEXT]
    f2 = logmel_frames(tone(amp=0.05), 22050)[:CONTEXT]
    np.testing.assert_allclose(normalise(f1), normalise(f2), atol=1e-3)


class FixedModel:
    """A real stand-in is not needed for switch logic: a CompiledModel-shaped object whose logits we script."""

    def __init__(self, family_seq):
        self.seq = list(family_seq)
        self.calls = 0

    def run(self, inputs):
        fam = self.seq[min(self.calls, len(self.seq) - 1)]
        self.calls += 1
        logits = np.full((1, len(FAMILIES)), -5.0, np.float32)
        logits[0, FAMILIES.index(fam)] = 5.0
        return {"logits": logits}


def push_blocks(sc, y, block=441):
    out = []
    for i in range(0, len(y), block):
        out += sc.push(y[i : i + block])
    return out


def test_switch_needs_threshold_and_hysteresis():
    seq = ["piano"] * 20 + ["drums"] * 3 + ["piano"] * 5 + ["drums"] * 40
    model = FixedModel(seq)
    sc = StreamingClassifier(22050, model, ClassifierConfig(vote_ms=100, hysteresis_votes=2))
    res = push_blocks(sc, tone(seconds=2.0) + 0.01)
    assert sc.stats.skipped == 0 and model.calls == len(res)
    types = [r.track_type for r in res]
    assert types[-1] == "drums" and "tonal" in types
    # the 3-frame drum blip inside the piano run must not flip the type for good
    first_drums = types.index("drums")
    assert all(t == "drums" for t in types[first_drums:])
    assert sc.stats.switches == 2  # None -> tonal, tonal -> drums


def test_silence_gives_no_signal_and_clears_the_vote():
    model = FixedModel(["piano"])
    sc = StreamingClassifier(22050, model)
    res = sc.push(np.zeros(22050, np.float32))
    assert res and all(r.family is None for r in res) and model.calls == 0
    assert sc.stats.silent == len(res)


def test_overload_reuses_last_result_and_counts():
    model = FixedModel(["guitar"])
    sc = StreamingClassifier(22050, model, ClassifierConfig(max_infer_per_push=2))
    push_blocks(sc, tone(seconds=0.3))
    assert sc.stats.skipped == 0
    res = sc.push(tone(seconds=1.0))  # a worker that fell behind gets a second of audio at once
    assert sum(r.skipped for r in res) == len(res) - 2 and sc.stats.skipped == len(res) - 2
    assert all(r.family == "guitar" for r in res)


def test_short_one_shot_is_classified_not_an_error():
    model = FixedModel(["drums"])
    y = np.zeros(int(0.05 * 22050), np.float32)
    y[:200] = np.random.default_rng(0).standard_normal(200) * 0.5
    res, stats = classify_array(y, 22050, model)
    assert len(res) == 1 and res[0].family == "drums" and stats.inferences == 1


def test_nan_and_dc_are_handled():
    model = FixedModel(["bass"])
    y = tone(seconds=0.5) + 0.4
    y[100:200] = np.nan
    res, _ = classify_array(y, 22050, model)
    assert res and all(r.family == "bass" for r in res)


def test_config_validation():
    with pytest.raises(ParameterError, match=r"hop_ms=10 must be within 20–50 ms"):
        ClassifierConfig(hop_ms=10)
    with pytest.raises(ParameterError, match=r"vote_ms=500 must be within 100–200 ms"):
        ClassifierConfig(vote_ms=500)


def test_summary_segments():
    rs = [FrameResult(0.2 + 0.02 * i, "piano" if i < 10 else "drums", 0.9, tuple([0.0] * 11), None) for i in range(20)]
    s = summarise(rs)
    assert s["family"] in ("piano", "drums") and len(s["segments"]) == 2
    assert s["segments"][0]["family"] == "piano" and s["segments"][1]["family"] == "drums"


# ------------------------------------------------------------ the shipped model
@needs_model
class _Recorder:
    """The real ONNX Runtime model, recording every input the streaming classifier feeds it."""

    def __init__(self, model):
        self.model, self.inputs = model, []

    def run(self, feeds):
        self.inputs.append(feeds["mel"][0].copy())
        return self.model.run(feeds)

    def describe(self):
        return self.model.describe()


def _stream_inputs(y, sr, model, rng):
    rec = _Recorder(model)
    sc = StreamingClassifier(sr, rec)
    i = 0
    while i < len(y):
        n = int(rng.integers(64, 2048))
        sc.push(y[i : i + n])
        i += n
    sc.flush()
    return np.stack(rec.inputs)


@needs_model
@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_training_serving_skew_model_inputs_equal(sr):
    """The streaming classifier's model inputs on a clip (random block sizes, any input rate) equal what
    training feeds for the same audio (features.context_windows, every window, same silence gate),
    because both call the one frame, window and resampling functions."""
    from nomad_muse.classifier.features import SR_TRAIN, context_windows, resample

    y, sr0 = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    assert sr0 == SR_TRAIN
    y = resample(y, SR_TRAIN, sr)  # the clip as a 44.1/48 kHz stream would deliver it
    ort = get_backend("onnxruntime").load(MODEL)
    served = _stream_inputs(y, sr, ort, np.random.default_rng(sr))
    trained = np.stack([w for _, w in context_windows(resample(y, sr, SR_TRAIN), step=1, silence_dbfs=ClassifierConfig().silence_dbfs)])
    assert served.shape == trained.shape and served.shape[1:] == (1, 128, CONTEXT)
    np.testing.assert_allclose(served, trained, atol=2e-4)


@needs_model
def test_backends_agree_on_a_clip():
    y, sr = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    offline, _ = classify_array(y, sr, get_backend("onnxruntime").load(MODEL))
    ov_res, _ = classify_array(y, sr, get_backend("openvino").load(MODEL))
    np.testing.assert_allclose([r.probs for r in ov_res], [r.probs for r in offline], atol=1e-4)


def test_streaming_resampler_matches_offline_and_scipy():
    from scipy.signal import resample_poly

    from nomad_muse.classifier.features import Resampler, resample

    y = np.random.default_rng(0).standard_normal(48000).astype(np.float32)
    whole = resample(y, 48000)
    np.testing.assert_allclose(whole, resample_poly(y.astype(np.float64), 147, 320), atol=1e-6)
    r, parts, i = Resampler(48000), [], 0
    for n in [1, 7, 1000, 333, 4096] * 8:
        parts.append(r.push(y[i : i + n]))
        i += n
    parts.append(r.push(y[i:], last=True))
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


def test_fast_resampler_hop_equals_reference_on_a_clip():
    """The streaming resampler (window tables per output phase, issue 19) pushed one 20 ms hop at a time
    gives the reference polyphase sum (scipy.signal.resample_poly, same Kaiser filter) on a real clip at
    48 kHz, and so the same log-mel frames (atol 1e-5 dB)."""
    from scipy.signal import resample_poly

    from nomad_muse.classifier.features import Resampler, logmel_frames

    y, sr0 = sf.read(str(example_path(CLASSIFY_EXAMPLES["drums"])), dtype="float32")
    y48 = resample_poly(y.astype(np.float64), 320, 147).astype(np.float32)  # the clip as a 48 kHz stream delivers it
    r = Resampler(48000, sr0)
    fast = np.concatenate([r.push(y48[i : i + 960]) for i in range(0, y48.size, 960)] + [r.push(np.zeros(0, np.float32), last=True)])
    ref = resample_poly(y48.astype(np.float64), 147, 320).astype(np.float32)
    assert fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, atol=1e-6)
    np.testing.assert_allclose(logmel_frames(fast), logmel_frames(ref), atol=1e-5)


@needs_model
@pytest.mark.parametrize("name,family", [("piano", "piano"), ("drums", "drums")])
def test_bundled_examples_are_named(name, family):
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "classify", "--example", name, "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["family"] == family and res["track_type"] == ("drums" if family == "drums" else "tonal")


@needs_model
def test_defined_results_on_odd_audio(tmp_path):
    ort = get_backend("onnxruntime").load(MODEL)
    y, sr = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    clipped = np.clip(y * 20, -1, 1)
    res, _ = classify_array(clipped, sr, ort)
    assert res and all(r.family in FAMILIES for r in res)
    from scipy.signal import resample_poly

    y8 = resample_poly(y, 8000, sr).astype(np.float32)
    res, _ = classify_array(y8, 8000, ort)
    assert res and all(r.family in FAMILIES for r in res)  # degraded but defined


def test_cli_classify_errors(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "classify", str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not a readable audio file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "classify"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "give an audio FILE" in r.stderr
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "evaluate", "classifier", str(tmp_path / "none")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a directory" in r.stderr


@needs_model
def test_cli_evaluate_classifier_on_user_folder(tmp_path):
    (tmp_path / "piano").mkdir()
    (tmp_path / "drums").mkdir()
    (tmp_path / "kazoo").mkdir()
    (tmp_path / "readme.txt").write_text("x")
    y, sr = sf.read(str(example_path(CLASSIFY_EXAMPLES["piano"])), dtype="float32")
    sf.write(tmp_path / "piano" / "a.wav", y[: sr * 2], sr)
    sf.write(tmp_path / "piano" / "b.flac", y[sr * 2 : sr * 5], sr)
    yd, srd = sf.read(str(example_path(CLASSIFY_EXAMPLES["drums"])), dtype="float32")
    sf.write(tmp_path / "drums" / "c.wav", yd, srd)
    (tmp_path / "drums" / "broken.wav").write_bytes(b"nope")
    r = subprocess.run([sys.executable, "-m", "nomad_muse", "evaluate", "classifier", str(tmp_path), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["files"] == 3 and len(res["skipped"]) == 1
    assert any("kazoo" in n for n in res["notes"]) and any("readme.txt" in n for n in res["notes"])
    cm = np.array(res["confusion_matrix"]["rows_true_cols_pred"])
    assert cm.sum() == 3 and res["per_class_files"]["piano"] == 2
    assert 0 <= res["accuracy"] <= 1 and res["per_class_accuracy"]["bass"] is None


TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"


@needs_model
@pytest.mark.slow
@pytest.mark.skipif(not (__import__("shutil").which("fluidsynth") and __import__("os").path.exists(TIMGM)),
                    reason="fluidsynth and timgm6mb-soundfont are needed (scripts/test.sh installs them)")
def test_held_out_renders_reach_the_measured_floor(tmp_path):
    """Unseen content (a render seed no training run used) through TimGM6mb.

    TimGM6mb was the previous model's held-out soundfont; since issue 17 it is one
    of nine training sources (rendered with seed 102), so this is now an
    unseen-content floor, not an unseen-timbre one (LOSO in the card is that).
    Measured 2026-11-24 with the previous model on 20 clips per family (seed 777):
    balanced accuracy 0.632, drums-vs-tonal 0.986 (chance: 0.09 and 0.5).  With
    10 clips per family the standard error is about 0.05, so the floors sit
    about 4 standard errors below that measurement; the issue-17 model passes them.
    """
    r = subprocess.run([sys.executable, "-m", "nomad_muse.training.classifier_data", "render", str(tmp_path), "--clips-per-family", "10",
                        "--seed", "777", "--soundfont", f"timgm6mb={TIMGM}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    from nomad_muse.classifier.evaluate import evaluate_dir

    res = evaluate_dir(tmp_path / "timgm6mb", get_backend("onnxruntime").load(MODEL))
    assert sum(res["per_class_files"].values()) == 110
    assert res["balanced_accuracy"] >= 0.45, res["per_class_accuracy"]
    assert res["drums_vs_tonal_accuracy"] >= 0.93
    assert res["per_class_accuracy"]["drums"] >= 0.8


def test_skip_while_stable_saves_calls_and_still_switches():
    """skip_stable reuses the last result only while the type is decided and the signal unchanged: on piano
    then drums (the shipped examples) it skips windows, counts them, and switches to drums within 0.1 s of
    the run that infers every window, with the same dominant family."""
    import soundfile as sf

    from nomad_muse.backends.registry import get_backend
    from nomad_muse.classifier.stream import ClassifierConfig, classify_array, default_model_path, summarise
    from nomad_muse.examples import CLASSIFY_EXAMPLES, example_path

    m = get_backend("onnxruntime").load(default_model_path())
    parts = [sf.read(str(example_path(CLASSIFY_EXAMPLES[k])), dtype="float32") for k in ("piano", "drums")]
    assert parts[0][1] == parts[1][1]
    y = np.concatenate([parts[0][0], np.zeros(parts[0][1], np.float32), parts[1][0]])  # 1 s of silence between
    runs = {skip: classify_array(y, parts[0][1], m, ClassifierConfig(skip_stable=skip)) for skip in (False, True)}
    (r0, s0), (r1, s1) = runs[False], runs[True]
    assert s0.stable_skipped == 0 and s1.stable_skipped > 0.2 * s1.windows
    assert s1.inferences + s1.stable_skipped + s1.silent + s1.skipped == s1.windows == s0.windows
    assert s1.inferences + s1.stable_skipped == s0.inferences
    assert summarise(r1)["family"] == summarise(r0)["family"]
    assert len(s1.switch_times_s) == len(s0.switch_times_s) == 2
    assert all(abs(a - b) <= 0.1 for a, b in zip(s1.switch_times_s, s0.switch_times_s))
    skipped = [r for r in r1 if r.skipped]
    assert skipped and all(r.family is not None for r in skipped)


def test_skip_while_stable_refuses_bad_thresholds():
    import pytest

    from nomad_muse.classifier.stream import ClassifierConfig
    from nomad_muse.errors import ParameterError

    with pytest.raises(ParameterError, match="stable_flux_db=0"):
        ClassifierConfig(stable_flux_db=0)
