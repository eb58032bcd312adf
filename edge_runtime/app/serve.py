"""``muse serve``: the live engine headless, for a rig with no screen.

A supervisor process runs the engine (:class:`nomad_muse.engine.live.LiveRunner`
with the machine profile's configuration) in a **child process** and keeps it
going:

* no audio server yet → the status says "waiting for the audio server" and
  the supervisor retries every ``retry_s`` seconds;
* the audio server goes away mid-run → the child stops cleanly and exits;
  the supervisor counts a restart and starts a fresh child once the server
  is back.  A fresh process is what makes this reliable: PortAudio cannot be
  re-initialised in a process whose stream died under it;
* SIGTERM / SIGINT (systemd stop, Ctrl-C) → forwarded to the child, which
  stops the stream first, then its workers; the supervisor exits 0.

With ``--ui`` the child also serves the live view (:mod:`nomad_muse.ui`, docs/ui.md) on 127.0.0.1: the
supervisor picks the port and the token once, so the URL it prints stays valid across restarts of the child.

Everything goes to a log file; a **status file** (JSON, replaced atomically
about once a second) tells a monitoring script what is happening::

    {"state": "running" | "waiting for the audio server" | "starting" | "stopped",
     "pid", "child_pid", "started", "updated", "uptime_s", "restarts", "attempts",
     "last_error", "engine": {seconds, track_type, family, confidence, counters, timings, backends},
     "ui": {"port"} (with --ui; the token is printed, never written to the status file)}
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

log = logging.getLogger("muse.serve")

EXIT_STOPPED, EXIT_NO_SERVER, EXIT_SERVER_LOST, EXIT_ERROR = 0, 3, 4, 5


def write_status(path: Path, status: dict) -> None:
    """Replace ``path`` atomically with ``status`` as JSON (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(status, indent=1, default=str) + "\n")
    tmp.replace(path)


def _child(opts: dict, status_q) -> None:
    """One engine session in its own process; the exit code says how it ended."""
    import sys

    def on_term(signum, frame):  # systemd stop / supervisor shutdown → a clean stop, like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    logging.basicConfig(filename=opts["log_file"], level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from nomad_muse.engine.config import EngineConfig
    from nomad_muse.engine.live import LiveRunner, terminate_portaudio
    from nomad_muse.errors import MuseError
    from nomad_muse.machine_profile import resolve

    code = EXIT_STOPPED
    try:
        active = resolve(opts["profile"])
        for n in active.notes:
            log.info("profile: %s", n)
        cfg = EngineConfig.from_tuned(active.tuned)
        try:
            runner = LiveRunner(cfg, active, audio_device=opts["audio_device"], midi_in=opts["midi_in"], midi_out=opts["midi_out"],
                                client="muse-serve")
        except MuseError as e:
            status_q.put({"state": "waiting for the audio server", "last_error": str(e)})
            log.warning("cannot start: %s", e)
            sys.exit(EXIT_NO_SERVER)
        for n in runner.notes:
            log.info("engine: %s", n)
        view = None
        if opts.get("ui"):
            from nomad_muse.ui.server import UiServer

            view = UiServer(runner, port=opts["ui"]["port"], token=opts["ui"]["token"], title="muse serve")
            try:
                view.start()
            except MuseError:
                for m in (runner.midi_out, runner.midi_in):
                    if m is not None:
                        m.close()
                raise
            log.info("live view on 127.0.0.1:%d", view.port)

        def tick(r) -> None:
            s = r.engine.snapshot()
            s["backends"] = r.p.backends
            status_q.put({"state": "running", "engine": s})

        status_q.put({"state": "running", "engine": {}})
        log.info("engine running: block %d at %d Hz, backends %s", cfg.block_size, cfg.sample_rate, runner.p.backends)
        try:
            res = runner.run(opts["duration"], on_tick=tick, tick_s=1.0)
        finally:
            if view is not None:
                view.stop()
        log.info("engine stopped: %s after %.1f s; counters %s", res.reason, res.seconds, res.counters)
        status_q.put({"state": "stopped", "last_error": None if res.reason in ("Ctrl-C", "duration reached") else res.reason,
                      "engine": {"seconds": res.seconds, "counters": res.counters, "timings": res.timings}})
        if res.reason not in ("Ctrl-C", "duration reached"):
            code = EXIT_SERVER_LOST
        terminate_portaudio()
    except MuseError as e:
        log.error("%s", e)
        status_q.put({"state": "stopped", "last_error": str(e)})
        code = EXIT_ERROR
    except KeyboardInterrupt:
        code = EXIT_STOPPED
    sys.exit(code)


def plan_ui(port: int | None) -> dict:
    """The live view's port and token (``muse live --ui``; every child of one ``muse serve --ui``): ``port`` or a free one now
    (bound and released, so a restarted child finds the same URL), and a fresh random token."""
    import secrets
    import socket

    from nomad_muse.errors import InputError, ParameterError

    if port is not None and not 0 <= port <= 65535:
        raise ParameterError(f"--port {port}: must be 0 (a free port) or 1–65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port or 0))
        except OSError as e:
            raise InputError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({e.strerror or e}); choose another "
                             "port or leave --port out for a free one") from None
        p = s.getsockname()[1]
    token = secrets.token_urlsafe(24)
    return {"port": p, "token": token, "url": f"http://127.0.0.1:{p}/?token={token}"}


def serve(*, profile: str | None = None, audio_device: str | None = None, midi_in: str | None = None, midi_out: str | None = None,
          log_file: Path, status_file: Path, retry_s: float = 2.0, duration: float | None = None,
          max_restarts: int | None = None, ui: dict | None = None) -> int:
    """Run the engine until SIGTERM/SIGINT, restarting it when the audio server comes back; returns the exit status.
    ``ui``: :func:`plan_ui`'s port and token, to serve the live view from every child."""
    log_file, status_file = Path(log_file), Path(status_file)
    for p in (log_file, status_file):
        p.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=str(log_file), level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    opts = {"profile": profile, "audio_device": audio_device, "midi_in": midi_in, "midi_out": midi_out,
            "log_file": str(log_file), "duration": duration,
            "ui": {"port": ui["port"], "token": ui["token"]} if ui else None}
    ctx = mp.get_context("spawn")
    stop = {"flag": False}
    child: list = [None]

    def on_signal(signum, frame):
        stop["flag"] = True
        c = child[0]
        if c is not None and c.is_alive():
            os.kill(c.pid, signal.SIGTERM)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    status = {"state": "starting", "pid": os.getpid(), "child_pid": None, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "updated": None, "uptime_s": 0.0, "restarts": 0, "attempts": 0, "last_error": None, "engine": {}}
    if ui:
        status["ui"] = {"port": ui["port"]}
    t_start = time.monotonic()

    def publish(**changes) -> None:
        status.update(changes)
        status["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        status["uptime_s"] = round(time.monotonic() - t_start, 1)
        write_status(status_file, status)

    log.info("muse serve starting (pid %d)", os.getpid())
    publish()
    exit_code = 0
    try:
        while not stop["flag"]:
            q = ctx.Queue()
            c = ctx.Process(target=_child, args=(opts, q), name="muse-engine")
            status["attempts"] += 1
            c.start()
            child[0] = c
            publish(child_pid=c.pid)
            ran = False
            while c.is_alive() or not q.empty():
                try:
                    msg = q.get(timeout=0.5)
                except Exception:  # queue.Empty
                    if not c.is_alive():
                        break
                    publish()
                    continue
                ran = ran or msg.get("state") == "running"
                publish(**msg)
            c.join(timeout=10)
            code = c.exitcode
            child[0] = None
            if stop["flag"]:
                break
            if code == EXIT_STOPPED and duration is not None:
                break  # a timed run finished
            if code == EXIT_ERROR:
                exit_code = 1
                log.error("engine failed: %s; not restarting", status.get("last_error"))
                break
            if ran:
                status["restarts"] += 1
                log.warning("engine stopped (%s); restart %d when the audio server is back", status.get("last_error"), status["restarts"])
                if max_restarts is not None and status["restarts"] > max_restarts:
                    exit_code = 1
                    break
            publish(state="waiting for the audio server", child_pid=None)
            deadline = time.monotonic() + retry_s
            while time.monotonic() < deadline and not stop["flag"]:
                time.sleep(0.1)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        c = child[0]
        if c is not None and c.is_alive():
            os.kill(c.pid, signal.SIGTERM)
            c.join(timeout=10)
            if c.is_alive():
                c.kill()
        publish(state="stopped", child_pid=None)
        log.info("muse serve stopped")
    return exit_code
