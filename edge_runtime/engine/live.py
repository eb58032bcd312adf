"""``muse live``: the engine on a sound card / JACK server, with worker threads and a clean shutdown.

Threads: PortAudio's callback thread runs :meth:`Engine.process`; one thread
per worker (generator, renderer, classifier, analyzer, MIDI in, MIDI out)
loops ``step()`` and sleeps a fraction of a period when idle.  The
interpreter's switch interval is set to :data:`~nomad_muse.engine.config.SWITCH_INTERVAL_S`
(0.5 ms, well below a 5.3 ms period) while the engine runs — measured in
docs/engine.md — so a worker holding the GIL in Python code cannot delay the
callback by a whole default 5 ms slice.

Shutdown (Ctrl-C, ``duration_s``, a worker error, or the audio server going
away): stop flag → join every worker thread (timeout) → close the stream in a
helper thread (timeout: a dead server can block it) → close MIDI ports →
terminate PortAudio (``sd._terminate()``, before anyone stops jackd).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field

from nomad_muse.engine.config import SWITCH_INTERVAL_S, EngineConfig
from nomad_muse.errors import InputError

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 3.0
#: no callback for this long (s) while running means the audio server went away
WATCHDOG_S = 1.0


def _sd():
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise InputError(f"PortAudio is not available ({e}); install libportaudio2") from None
    return sd


def audio_devices() -> list[dict]:
    """Devices PortAudio sees (re-scanned, so a JACK server started after import is found)."""
    sd = _sd()
    try:
        sd._terminate()
    except sd.PortAudioError:  # not initialised (an earlier initialise failed): nothing to re-scan from
        pass
    sd._initialize()
    out = []
    for d in sd.query_devices():
        out.append({"index": d["index"], "name": d["name"], "hostapi": sd.query_hostapis(d["hostapi"])["name"],
                    "in": d["max_input_channels"], "out": d["max_output_channels"], "sr": d["default_samplerate"]})
    return out


def pick_device(device: str | int | None) -> dict:
    """The device to use: by index or name substring, else the default duplex one; InputError with a hint."""
    devs = audio_devices()
    if not devs:
        raise InputError("no audio device found: start a JACK server (e.g. `jackd -d dummy -r 48000 -p 256`) "
                         "or connect a sound card, then run `muse live` again")
    duplex = [d for d in devs if d["in"] >= 1 and d["out"] >= 1]
    if device is None:
        jack = [d for d in duplex if "JACK" in d["hostapi"]]
        if jack or duplex:
            return (jack or duplex)[0]
        raise InputError(f"no device with both input and output; devices: {', '.join(d['name'] for d in devs)}")
    for d in devs:
        if str(device) == str(d["index"]) or str(device).lower() in d["name"].lower():
            if d["in"] < 1 or d["out"] < 1:
                raise InputError(f"audio_device={device!r} ({d['name']}) is not a duplex device (in {d['in']}, out {d['out']})",
                                 field="audio_device")
            return d
    raise InputError(f"audio_device={device!r}: not found; devices: " + "; ".join(f"{d['index']}: {d['name']}" for d in devs),
                     field="audio_device")


@dataclass
class LiveResult:
    seconds: float
    reason: str
    counters: dict
    timings: list[dict]
    latency_frames: tuple[int, int]
    device: str
    sample_rate: int
    block_size: int
    backends: dict
    notes: list[str] = field(default_factory=list)
    midi_ports: dict = field(default_factory=dict)


class _WorkerThread(threading.Thread):
    def __init__(self, worker, runner: "LiveRunner", idle_s: float) -> None:
        super().__init__(name=f"muse-{worker.name}", daemon=True)
        self.worker, self.runner, self.idle_s = worker, runner, idle_s
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.runner.stopping.is_set():
                if not self.worker.step():
                    time.sleep(self.idle_s)
        except BaseException as e:  # noqa: BLE001 - reported by the runner, never swallowed
            self.error = e
            self.runner.stopping.set()


class LiveRunner:
    """Runs a :class:`~nomad_muse.engine.setup.Pipeline` on a duplex audio stream, plus MIDI."""

    def __init__(self, cfg: EngineConfig, active, *, audio_device=None, midi_in: str | None = None,
                 midi_out: str | None = None, client: str = "muse", backing=None, capture_input: bool = False,
                 switch_interval_s: float | None = SWITCH_INTERVAL_S) -> None:
        from nomad_muse.engine.setup import build_pipeline

        self.device = pick_device(audio_device)
        sr = int(self.device["sr"])
        self.notes: list[str] = []
        if sr != cfg.sample_rate:
            self.notes.append(f"sample rate {sr} Hz from the audio server (profile said {cfg.sample_rate})")
            cfg = cfg.replace(sample_rate=sr)
        self.cfg = cfg
        self.p = build_pipeline(cfg, active, realtime=True, backing=backing, capture_input=capture_input,
                                keep_classifier_results=capture_input)
        self.engine = self.p.engine
        self.notes += self.p.notes
        self.midi_in = self.midi_out = None
        from nomad_muse.engine.midi import MidiInput, MidiOutput

        problems: list[InputError] = []  # both ports are tried, so one message names every missing one
        if midi_out != "none":
            try:
                self.midi_out = MidiOutput(self.engine, port=midi_out, client=client)
            except InputError as e:
                problems.append(e)
        if midi_in != "none":
            try:
                self.midi_in = MidiInput(self.engine, self.p.generator, port=midi_in, client=client)
            except InputError as e:
                problems.append(e)
        if problems:
            for m in (self.midi_out, self.midi_in):
                if m is not None:
                    m.close()
            raise InputError("; ".join(map(str, problems)), parts=tuple(problems))
        self.switch_interval_s = switch_interval_s
        self.stopping = threading.Event()
        self.reason = ""
        self.stream = None
        self.threads: list[_WorkerThread] = []
        self.latency_frames = (0, 0)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        sd = _sd()
        self._old_switch = sys.getswitchinterval()
        if self.switch_interval_s is not None:
            sys.setswitchinterval(self.switch_interval_s)
        period = self.cfg.period_s
        # how long each worker sleeps when it had nothing to do (s): the renderer must never let the
        # out ring run dry; MIDI out sends on time to ~1 ms; the others have slack of a hop or more
        idle = {"renderer": period / 4, "generator": period, "classifier": min(period, 0.005), "capture": period,
                "analyzer": 0.02, "midi in": 0.001, "midi out": 0.001}
        workers = list(self.p.workers) + [w for w in (self.midi_in, self.midi_out) if w is not None]
        # generator and renderer first, so the first blocks are ready before the stream starts
        self.p.generator.step()
        self.p.renderer.step()
        for w in workers:
            t = _WorkerThread(w, self, idle.get(w.name, period / 4))
            t.start()
            self.threads.append(t)
        try:
            self.stream = sd.Stream(device=(self.device["index"], self.device["index"]), samplerate=self.cfg.sample_rate,
                                    blocksize=self.cfg.block_size, channels=self.cfg.channels, dtype="float32",
                                    callback=self.engine.process, finished_callback=self._finished)
            self.stream.start()
        except Exception as e:  # noqa: BLE001 - PortAudioError and friends: one line
            self.stop("audio stream failed")
            raise InputError(f"cannot open the audio stream on {self.device['name']}: {e}") from None
        li, lo = self.stream.latency
        self.latency_frames = (round(li * self.cfg.sample_rate), round(lo * self.cfg.sample_rate))

    def _finished(self) -> None:  # PortAudio: the stream ended (stopped, or the server went away)
        if not self.stopping.is_set():
            self.reason = self.reason or "the audio stream stopped: the audio server went away"
            self.stopping.set()

    def poll(self) -> str | None:
        """Call from the main thread every ~0.1 s: a reason to stop, or None."""
        if self.stopping.is_set():
            for t in self.threads:
                if t.error is not None:
                    return f"{t.worker.name} failed: {type(t.error).__name__}: {t.error}"
            return self.reason or "stopped"
        e = self.engine
        if e.last_cb_time and time.perf_counter() - e.last_cb_time > WATCHDOG_S:
            return "no audio callback for 1 s: the audio server went away"
        return None

    def stop(self, reason: str) -> None:
        """Stream first (so the callback never runs without its workers), then workers, then MIDI."""
        self.reason = self.reason or reason
        self.engine.stop_requested = True
        if self.stream is not None:
            s, self.stream = self.stream, None
            closer = threading.Thread(target=lambda: (s.abort(ignore_errors=True), s.close(ignore_errors=True)), daemon=True)
            closer.start()
            closer.join(JOIN_TIMEOUT_S)
            if closer.is_alive():
                self.notes.append("the audio stream did not close within 3 s (server gone); abandoned")
                abandon_portaudio()
        self.stopping.set()
        for t in self.threads:
            t.join(JOIN_TIMEOUT_S)
            if t.is_alive():
                self.notes.append(f"the {t.worker.name} thread did not stop within {JOIN_TIMEOUT_S:g} s; left behind")
        for m in (self.midi_out, self.midi_in):
            if m is not None:
                m.close()
        if hasattr(self, "_old_switch"):
            sys.setswitchinterval(self._old_switch)

    def run(self, duration_s: float | None = None, on_tick=None, tick_s: float = 0.1) -> LiveResult:
        """Start, run until ``duration_s`` / Ctrl-C / an error / the server going away, stop; the summary."""
        self.start()
        t0 = time.perf_counter()
        reason = "duration reached"
        try:
            while True:
                r = self.poll()
                if r is not None:
                    reason = r
                    break
                if duration_s is not None and time.perf_counter() - t0 >= duration_s:
                    break
                if on_tick is not None:
                    try:
                        on_tick(self)
                    except Exception as err:  # noqa: BLE001 - a display problem must not stop the music
                        log.warning("dashboard update failed: %s", err)
                time.sleep(tick_s)
        except KeyboardInterrupt:
            reason = "Ctrl-C"
        finally:
            self.stop(reason)
        return self.result(reason)

    def result(self, reason: str) -> LiveResult:
        import numpy as np

        e = self.engine
        timings = [t.summary() for t in e.timings.values() if t.count]
        n = min(e._cb_i, e.cb_load.size)
        if n:
            ms = e.cb_load[:n] * self.cfg.period_s * 1000  # the last 1024 callbacks
            timings.insert(0, {"module": "callback", "calls": e._cb_i, "p50_ms": float(np.median(ms)),
                               "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
                               "budget_ms": self.cfg.period_s * 1000, "misses": e.counters.callback_overruns,
                               "worst_share": float(ms.max() / (self.cfg.period_s * 1000))})
        return LiveResult(e.frames / self.cfg.sample_rate, reason, e.counters.as_dict(), timings, self.latency_frames,
                          self.device["name"], self.cfg.sample_rate, self.cfg.block_size, self.p.backends, self.notes,
                          {"in": self.midi_in.port if self.midi_in else None, "out": self.midi_out.port if self.midi_out else None})


_abandoned = False


def abandon_portaudio() -> None:
    """The server died under an open stream: PortAudio can no longer be terminated without hanging
    (``Pa_Terminate`` waits on the dead stream), so never call it again — not even at exit."""
    global _abandoned
    _abandoned = True
    try:
        import atexit

        import sounddevice as sd

        atexit.unregister(sd._exit_handler)
    except Exception:  # noqa: BLE001
        pass


def terminate_portaudio() -> None:
    """Release PortAudio (do this before a JACK server it used is stopped); a no-op once abandoned."""
    if _abandoned:
        return
    try:
        import sounddevice as sd

        sd._terminate()
    except Exception:  # noqa: BLE001
        pass
