"""Engine (issue 8), offline parts: rings, clock, token timing, synth, the callback's allocation
behaviour, fallbacks, and `muse demo` end to end on the bundled material with the real models."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from nomad_muse.engine.clock import CLOCK_PPQN, MidiClockFollower, TempoClock
from nomad_muse.engine.config import EngineConfig
from nomad_muse.engine.ring import BlockRing
from nomad_muse.engine.synth import NoteEvent, NumpySynth
from nomad_muse.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "models" / "classifier.onnx"
needs_classifier = pytest.mark.skipif(not CLASSIFIER.is_file(), reason="classifier model not built yet")
MUSE = [sys.executable, "-m", "nomad_muse"]


def _active():
    from nomad_muse.machine_profile import resolve

    return resolve()


# -- ring buffers ----------------------------------------------------------------------------------
def test_block_ring_is_fifo_wraps_and_refuses_when_full():
    r = BlockRing(3, 4, 2)
    out = np.zeros((4, 2), np.float32)
    for k in range(10):  # wraps several times
        assert r.write(np.full((4, 2), k, np.float32))
        assert r.read(out) and np.all(out == k)
    assert not r.read(out)
    for k in range(3):
        assert r.write(np.full((4, 2), k, np.float32))
    assert not r.write(np.zeros((4, 2), np.float32)) and r.space() == 0
    assert r.peek()[0, 0] == 0
    r.release()
    assert r.drop(5) == 2 and r.available() == 0


def test_ring_rejects_bad_shapes():
    with pytest.raises(ParameterError):
        BlockRing(1, 256, 2)


# -- clock -----------------------------------------------------------------------------------------
def test_tempo_clock_round_trip_and_continuous_tempo_change():
    c = TempoClock(48000, 120.0)
    assert c.frame_at(1.0) == 24000 and c.beat_at(24000) == pytest.approx(1.0)
    c.set_tempo(60.0, at_frame=48000)  # beat 2
    assert c.beat_at(48000) == pytest.approx(2.0)
    assert c.beat_at(96000) == pytest.approx(3.0)  # one beat per second now
    assert c.next_bar(2.0) == 4.0 and c.next_bar(4.0) == 4.0
    with pytest.raises(ParameterError):
        c.set_tempo(1000.0, at_frame=0)


def test_midi_clock_follower_finds_the_tempo_and_ignores_one_late_pulse():
    f = MidiClockFollower()
    dt = 60.0 / (97.0 * CLOCK_PPQN)
    t, bpm = 0.0, None
    for i in range(60):
        t += dt * (3.0 if i == 40 else 1.0)
        bpm = f.pulse(t) or bpm
    assert f.bpm == pytest.approx(97.0, abs=0.5)


# -- tokens → timed notes --------------------------------------------------------------------------
def test_token_timeline_matches_the_tokenizer_on_a_generated_stream():
    from nomad_muse.engine.timing import TokenTimeline
    from nomad_muse.generator import vocab as V
    from nomad_muse.generator.engine import Generator, SamplingConfig
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.prompt import bundled_prompt, prompt_tail
    from nomad_muse.generator.tokenizer import decode, require_stream

    s = require_stream(read_midi(bundled_prompt("tonal")), "tonal")
    toks = prompt_tail([t for t in s.tokens if t != V.EOS]) + [V.BAR]
    gen = Generator()
    gen.prime(toks, mode="tonal", key=s.key)
    rng = np.random.default_rng(3)
    cfg = SamplingConfig(seed=3)
    tl = TokenTimeline(toks[:5], channel=1, program=0)
    tl.feed([V.BAR])
    got, stream = [], []
    for _ in range(24):
        chunk = gen.next_chunk(cfg, rng, unit="beat")
        stream += chunk
        got += tl.feed(chunk)
        # the horizon bounds every note the chunk produced
        assert all(n.start < tl.horizon(gen.grammar.pos, "beat") + 1e-9 for n in got)
    ref = decode(toks[:5] + [V.BAR] + stream, channel=1, program=0).notes
    assert len(got) > 10
    assert [(round(n.start, 6), n.duration, n.pitch, n.velocity) for n in got] == \
           [(round(n.start, 6), n.duration, n.pitch, n.velocity) for n in ref]


# -- synth -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("channel,pitch", [(9, 36), (9, 42), (0, 60), (0, 33)])
def test_synth_starts_on_the_sample_and_is_block_size_independent(channel, pitch):
    sr = 48000
    ev = NoteEvent(1000, 1000 + 9600, pitch, 100, channel, 33 if pitch == 33 else 0)

    def render(bs):
        s = NumpySynth(sr)
        out = np.zeros((24576, 2), np.float32)
        blk = np.zeros((bs, 2), np.float32)
        for i in range(0, 24576, bs):
            s.render(blk, i, [ev] if i <= ev.start < i + bs else [])
            out[i:i + bs] = blk
        return out

    a, b = render(256), render(1024)
    assert np.allclose(a, b, atol=1e-6)
    assert np.all(a[:1000] == 0) and np.max(np.abs(a[1000:1200])) > 1e-3
    assert np.max(np.abs(a)) < 1.0


# -- the callback ----------------------------------------------------------------------------------
def test_callback_allocates_no_block_buffers_in_steady_state():
    from nomad_muse.engine.core import Engine

    e = Engine(EngineConfig(block_size=256), realtime=True)
    ind = np.random.default_rng(0).standard_normal((256, 2)).astype(np.float32) * 0.1
    outd = np.zeros((256, 2), np.float32)
    blk = np.zeros((256, 2), np.float32)

    def cycle(n):
        for _ in range(n):
            e.out_ring.write(blk)          # what the renderer does
            e.process(ind, outd, 256, None, 0)
            e.in_ring.drop(1)              # what the consumers do
            e.mix_ring.drop(1)

    cycle(200)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        cycle(2000)
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one block is 2 KiB: a temporary array anywhere in the callback would show in the peak
    assert peak - base < 1024, f"callback allocated {peak - base} bytes at peak"
    assert cur - base < 512
    assert e.counters.render_underruns == 0 and e.frames == 2200 * 256


def test_callback_underrun_plays_silence_and_counts():
    from nomad_muse.engine.core import Engine

    e = Engine(EngineConfig(block_size=128), realtime=True)
    outd = np.ones((128, 2), np.float32)
    e.process(np.zeros((128, 2), np.float32), outd, 128, None, 0)
    assert np.all(outd == 0) and e.counters.render_underruns == 1 and e.counters.deadline_misses == 1
    e.process(np.zeros((128, 2), np.float32), outd, 128, None, 1)  # the server flagged an xrun
    assert e.counters.xruns == 1


# -- fallbacks -------------------------------------------------------------------------------------
def _pipeline(realtime=True, **flags):
    from nomad_muse.engine.setup import build_pipeline

    cfg = EngineConfig(seed=2, **flags)
    return build_pipeline(cfg, _active(), realtime=realtime)


def test_generator_late_drops_past_notes_reanchors_and_counts():
    p = _pipeline(chunk="bar", lookahead_beats=8.0)
    g, e = p.generator, p.engine
    g.step()
    assert g.generated_notes > 0 and e.counters.generator_late == 0
    # the render position jumps 8 beats ahead of what was generated (the generator thread starved)
    p.renderer.pos = e.clock.frame_at(g.anchor_beat + g.horizon + 8)
    e.frames = p.renderer.pos
    n_before = len(g.events)
    g.step()
    assert e.counters.generator_late >= 1 and e.counters.fallbacks >= 1
    assert all(ev.start >= p.renderer.pos for ev in g.events[n_before:])
    assert g.anchor_beat + g.horizon >= e.clock.beat_at(p.renderer.pos) + e.cfg.lookahead_beats
    assert g.unit == "beat"  # shorter chunks after a late one


def test_analyzer_pauses_while_cpu_is_short_and_counts():
    p = _pipeline(analyzer_period_s=0.5)
    e = p.engine
    blk = np.full((e.cfg.block_size, 2), 0.1, np.float32)
    e.cb_load[:] = 0.95  # the callback used 95 % of its period
    e._cb_i = 300
    for _ in range(int(0.5 / e.cfg.period_s) + 2):
        e.mix_ring.write(blk)
    p.analyzer.step()
    assert e.counters.analyzer_paused == 1 and p.analyzer.updates == 0
    e.cb_load[:] = 0.05
    e.out_ring.write(blk)  # renderer not dry
    for _ in range(int(0.5 / e.cfg.period_s) + 2):
        e.mix_ring.write(blk)
    p.analyzer.step()
    assert p.analyzer.updates == 1 and e.report is not None


@needs_classifier
def test_classifier_late_skips_audio_and_keeps_last_result():
    from nomad_muse.classifier.stream import load_classifier_model
    from nomad_muse.engine.classifier_worker import ClassifierWorker
    from nomad_muse.engine.core import Engine

    e = Engine(EngineConfig(classifier_backlog_ms=50), realtime=True)
    cw = ClassifierWorker(e, load_classifier_model().model)
    blk = (np.random.default_rng(0).standard_normal((256, 2)) * 0.2).astype(np.float32)
    for _ in range(100):
        e.in_ring.write(blk)
    cw.step()
    assert e.counters.classifier_skipped_blocks > 0 and e.in_ring.available() == 0


# -- muse demo -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from nomad_muse.engine.offline import run_demo

    os.environ.setdefault("MUSE_HOME", str(tmp_path_factory.mktemp("home")))
    out = tmp_path_factory.mktemp("demo")
    return run_demo(input_path=None, prompt_path=None, out_dir=out, active=_active(), seed=5)


def test_demo_writes_the_three_outputs(demo_run):
    import soundfile as sf

    from nomad_muse.examples import example_path
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.prompt import bundled_prompt

    s = demo_run.summary
    prompt = read_midi(bundled_prompt("tonal"))
    cont = read_midi(demo_run.midi)
    assert s["generated_notes"] > 0 and len(cont.notes) == len(prompt.notes) + s["generated_notes"]
    new = [n for n in cont.notes if n.start >= 16.0]  # the prompt ends at bar 4
    assert len(new) == s["generated_notes"] and all(21 <= n.pitch <= 108 for n in new)
    info, clip = sf.info(str(demo_run.wav)), sf.info(str(example_path()))
    assert (info.samplerate, info.channels, info.frames) == (clip.samplerate, clip.channels, clip.frames)
    y, _ = sf.read(str(demo_run.wav))
    x, _ = sf.read(str(example_path()))
    assert np.max(np.abs(y - x)) > 0.01  # the generated part is in the mix
    html = demo_run.html.read_text()
    for needle in ('id="piano-roll"', 'class="prompt-note"', 'class="gen-note"', 'id="tonal-curve"', 'id="band-chart"',
                   'id="meters"', 'id="timings"', 'data-module="callback"', 'data-module="generator"',
                   'data-module="renderer"', 'data-module="analyzer"', 'id="counters"', 'id="classifier"'):
        assert needle in html, needle
    assert 'id="suggestions"' in html
    assert html.count('class="gen-note"') == s["generated_notes"]


def test_demo_offline_never_misses_and_is_reproducible(demo_run, tmp_path):
    from nomad_muse.engine.offline import run_demo

    c = demo_run.summary["counters"]
    assert c["render_underruns"] == 0 and c["generator_late"] == 0 and c["analyzer_paused"] == 0
    again = run_demo(input_path=None, prompt_path=None, out_dir=tmp_path, active=_active(), seed=5)
    assert again.midi.read_bytes() == demo_run.midi.read_bytes()
    assert again.wav.read_bytes() == demo_run.wav.read_bytes()


def test_demo_on_user_material_drums(tmp_path):
    from nomad_muse.engine.offline import run_demo
    from nomad_muse.examples import example_path
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.prompt import bundled_prompt
    from nomad_muse.gm import DRUM_CHANNEL

    res = run_demo(input_path=example_path("classify_drums.flac"), prompt_path=bundled_prompt("drums"),
                   out_dir=tmp_path / "o", active=_active(), seed=1, flags={"block_size": 128})
    assert res.summary["mode"] == "drums" and res.summary["block_size"] == 128
    cont = read_midi(res.midi)
    assert all(n.channel == DRUM_CHANNEL for n in cont.notes) and len(cont.notes) > 27


@needs_classifier
def test_demo_classifies_like_the_file_classifier(tmp_path):
    from nomad_muse.audio_io import read_audio
    from nomad_muse.classifier.stream import ClassifierConfig, classify_array, load_classifier_model, summarise
    from nomad_muse.engine.offline import run_demo
    from nomad_muse.examples import example_path

    clip = example_path("classify_piano.flac")
    res = run_demo(input_path=clip, prompt_path=None, out_dir=tmp_path, active=_active(), seed=1,
                   flags={"render_gain": 0.0})
    y, info = read_audio(clip)
    bs = res.summary["block_size"]
    y = np.pad(y, ((0, -len(y) % bs),) + ((0, 0),) * (y.ndim - 1))  # the engine runs whole blocks: the last one is padded with silence
    ref, _ = classify_array(y, info.sr, load_classifier_model().model, ClassifierConfig(max_infer_per_push=4))
    got = res.classifier_results
    assert len(got) == len(ref) > 100
    assert [(r.family, r.track_type) for r in got] == [(r.family, r.track_type) for r in ref]
    assert np.allclose([r.confidence for r in got], [r.confidence for r in ref], atol=1e-5)
    assert res.summary["classifier"]["family"] == summarise(ref)["family"] == "piano"


def _muse(*args, timeout=120):
    return subprocess.run([*MUSE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_demo_cli_bad_inputs_are_one_line(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    for args, needle in ((["--input", str(bad)], "bad.wav"), (["--prompt", str(tmp_path / "none.mid")], "not found"),
                         (["--block-size", "5"], "block-size"), (["--mode", "jazz"], "--mode")):
        r = _muse("demo", "--out", str(tmp_path / "o"), *args)
        assert r.returncode == 2, r.stderr
        assert needle in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2


def test_demo_cli_end_to_end(tmp_path):
    r = _muse("demo", "--out", str(tmp_path), "--json", timeout=180)
    assert r.returncode == 0, r.stderr
    import json

    s = json.loads(r.stdout)
    assert s["generated_notes"] > 0 and s["counters"]["render_underruns"] == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"continuation.mid", "render.wav", "report.html"}


def test_fluidsynth_renderer_plays_the_notes_when_installed():
    pytest.importorskip("fluidsynth", reason="pyfluidsynth not installed (the test extra installs it)")
    from nomad_muse.engine.synth import find_soundfont, make_renderer

    if find_soundfont() is None:
        pytest.skip("no GM soundfont (scripts/test.sh installs timgm6mb-soundfont)")
    r = make_renderer("fluidsynth", 48000)
    assert r.name == "fluidsynth"
    evs = [NoteEvent(4800, 24000, 60, 100, 0, 0), NoteEvent(30000, 31000, 38, 110, 9, 0)]
    out = np.zeros((48128, 2), np.float32)
    blk = np.zeros((256, 2), np.float32)
    for i in range(0, out.shape[0], 256):
        r.render(blk, i, [e for e in evs if i <= e.start < i + 256])
        out[i:i + 256] = blk
    a = np.abs(out).max(axis=1)
    assert a[:4800].max() < 1e-3 and a[4800:6000].max() > 1e-2  # silent before the note, sounding after
    assert a[30000:31500].max() > 1e-2 and a.max() <= 1.0


def test_auto_renderer_falls_back_to_builtin_without_fluidsynth(monkeypatch):
    import builtins

    from nomad_muse.engine.synth import make_renderer

    real = builtins.__import__

    def no_fluidsynth(name, *a, **k):
        if name == "fluidsynth":
            raise ImportError("No module named 'fluidsynth'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_fluidsynth)
    assert make_renderer("auto", 48000).name == "builtin"
    with pytest.raises(ParameterError, match="builtin"):
        make_renderer("fluidsynth", 48000)


def test_engine_config_comes_from_the_profile_and_flags_override():
    from nomad_muse.machine_profile import TunedConfig

    tuned = TunedConfig(sample_rate=44100, block_size=128, classifier_hop_ms=30.0, generator_chunk="bar",
                        generator_lookahead_beats=4.0, analyzer_fft_size=4096, analyzer_period_s=0.5)
    c = EngineConfig.from_tuned(tuned, block_size=None, lookahead_beats=None)
    assert (c.sample_rate, c.block_size, c.classifier_hop_ms, c.chunk, c.lookahead_beats, c.analyzer_fft_size,
            c.analyzer_period_s) == (44100, 128, 30.0, "bar", 4.0, 4096, 0.5)
    c2 = EngineConfig.from_tuned(tuned, block_size=512, chunk="beat")
    assert (c2.block_size, c2.chunk, c2.lookahead_beats) == (512, "beat", 4.0)
    with pytest.raises(ParameterError, match="block_size"):
        EngineConfig.from_tuned(tuned, block_size=4096)
    with pytest.raises(ParameterError, match="unknown"):
        EngineConfig.from_tuned(tuned, blocksize=256)


def test_dashboard_shows_every_section():
    from rich.console import Console

    from nomad_muse.engine.dashboard import render
    from nomad_muse.engine.setup import build_pipeline
    from nomad_muse.examples import example_path
    from nomad_muse.audio_io import read_audio

    y, info = read_audio(example_path())
    cfg = EngineConfig(sample_rate=info.sr, seed=1, renderer="builtin", lookahead_beats=4.0)
    p = build_pipeline(cfg, _active(), realtime=False, prompt=None)
    e, bs = p.engine, cfg.block_size
    out = np.zeros((bs, 2), np.float32)
    for i in range(0, int(3 * info.sr) // bs * bs, bs):
        p.generator.step()
        p.renderer.step()
        e.process_block(np.ascontiguousarray(y[i:i + bs], dtype=np.float32), out)
        if p.classifier is not None:
            p.classifier.step()
        p.analyzer.step()
    con = Console(width=170, record=True, file=open(os.devnull, "w"))
    con.print(render(e, ports={"in": "muse-in:in", "out": "muse-out:out"}))
    text = con.export_text()
    for needle in ("track type", "generated", "tonal balance", "meters", "true peak", "suggestions",
                   "per-module latency", "renderer", "generator", "analyzer", "xruns", "deadline misses", "fallbacks",
                   "muse-in:in"):
        assert needle in text, needle
    assert sum(b.name in text for b in e.report.tonal.bands) == 7
    assert "▇" in text  # the piano roll has generated notes in it


def test_midi_clock_follower_is_not_fooled_by_period_quantised_arrival():
    f = MidiClockFollower()
    period = 256 / 48000
    dt = 60.0 / (90.0 * CLOCK_PPQN)  # 27.8 ms: arrives after 5 or 6 periods
    for i in range(1, 100):
        f.pulse(np.ceil(i * dt / period) * period)
    assert f.bpm == pytest.approx(90.0, abs=0.5)


def test_a_new_prompt_cancels_the_old_continuation_from_its_bar_line():
    from nomad_muse.generator.midi_io import read_midi
    from nomad_muse.generator.prompt import bundled_prompt

    p = _pipeline(lookahead_beats=8.0, renderer="builtin")
    g, e = p.generator, p.engine
    g.step()
    first = list(g.events)
    assert first and all(ev.epoch == 1 for ev in first)
    while True:  # what the renderer has picked up so far
        try:
            p.renderer._pending.append(g.render_queue.get_nowait())
        except Exception:
            break
    g.set_prompt(read_midi(bundled_prompt("drums")))
    g.step()
    epoch, cut = e.cut
    assert epoch == 2 and g.mode == "drums" and e.counters.reprimes == 2
    assert all(ev.start < cut for ev in g.events if ev.epoch == 1)
    assert any(ev.epoch == 2 for ev in g.events)
    p.renderer.step()
    assert not any(e.cancelled(ev) for ev in p.renderer._pending)
    assert any(ev.start >= cut for ev in first)  # there was something to cancel


def test_recent_max_reads_the_newest_values_across_the_wrap():
    """cpu_short() looks at the newest 256 callback loads, also when the 2048-entry ring has wrapped."""
    from nomad_muse.engine.ring import recent_max

    ring = np.zeros(2048)
    written = 0
    for k in range(2048 + 100):  # wraps: the newest 100 values sit at indices 0..99
        ring[written % 2048] = 0.1
        written += 1
    ring[(written - 1) % 2048] = 0.9  # the newest value, at index 99
    assert recent_max(ring, written=written, n=256) == 0.9
    ring[(written - 200) % 2048] = 0.95  # index 2047 - 100: still among the newest 256
    assert recent_max(ring, written=written, n=256) == 0.95
    ring[(written - 300) % 2048] = 2.0  # older than the newest 256: ignored
    assert recent_max(ring, written=written, n=256) == 0.95
    assert recent_max(ring, written=0, n=256) == 0.0
    small = np.array([0.3, 0.0, 0.0])
    assert recent_max(small, written=1, n=256) == 0.3
