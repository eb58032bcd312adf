"""The live view's web server: aiohttp on 127.0.0.1, one page, one server-sent-event stream, one action route.

Threads and queues (the engine never waits for the page)::

    engine (callback + workers) ── public state ──► poll thread "muse-ui-poll" (≤ MAX_RATE_HZ)
                                                        │ builds tick/report frames (JSON text)
                                                        ▼
                                            one-slot mailbox (a newer frame replaces an
                                            untaken one: counted in ``dropped_poll``)
                                                        │ call_soon_threadsafe
                                                        ▼
                                 server thread "muse-ui" (asyncio): fans out to every stream's
                                 own one-slot mailbox per kind (stale frames replaced, counted in
                                 ``dropped_client``); a browser that stops reading only blocks its
                                 own handler in ``write`` — memory stays one frame per kind plus
                                 the socket buffer.

Security (docs/ui.md): the listening socket is bound to ``127.0.0.1`` only; every request — the page, the stream
and the action — must carry the session's random token (``secrets.token_urlsafe(24)``, compared in constant
time) as ``?token=`` or an ``X-Muse-Token`` header; the ``Host`` header must be ``127.0.0.1:PORT`` or
``localhost:PORT`` (DNS rebinding); an ``Origin``, when sent, must be the page's own; anything else is 403.  The
only write actions are the ones in :data:`ACTIONS`, each validated: muting/unmuting a suggestion the page was
shown, and switching the target the view compares with (a shipped or user target by name).

Why aiohttp: one well-kept library gives the HTTP server, streaming responses and a client, with no ASGI server
to pick and wire; it runs in one thread beside the engine (docs/ui.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import socket
import threading
import time

from nomad_muse.errors import InputError, ParameterError
from nomad_muse.ui.frames import IncomingNotes, report_frame, tick_frame

log = logging.getLogger(__name__)

#: the stream never carries more than this many ticks a second (issue 20: ≤ 30)
MAX_RATE_HZ = 30.0
DEFAULT_RATE_HZ = 15.0
#: concurrent event streams (a page each); more are refused with 503
MAX_STREAMS = 8
#: request bodies (the action route) above this are refused
MAX_BODY = 4096
#: kernel send buffer of an event stream (bytes; Linux doubles it)
STREAM_SNDBUF = 128 * 1024
ACTIONS = ("mute", "unmute", "target")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class FrameSlot:
    """A one-slot mailbox between two threads: ``put`` replaces a frame nobody took (and counts it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: dict[str, str] = {}
        self.dropped = 0

    def put(self, kind: str, frame: str) -> None:
        with self._lock:
            if kind in self._frames:
                self.dropped += 1
            self._frames[kind] = frame

    def take(self) -> dict[str, str]:
        with self._lock:
            out, self._frames = self._frames, {}
        return out


class _Stream:
    """One browser's event stream: the latest frame of each kind not yet written."""

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}
        self.event = asyncio.Event()
        self.dropped = 0
        self.sent = 0

    def offer(self, kind: str, frame: str) -> None:
        if kind in self.pending:
            self.dropped += 1
        self.pending[kind] = frame
        self.event.set()


class UiServer:
    """The live page for a running :class:`~nomad_muse.engine.live.LiveRunner` (its engine, pipeline and MIDI in).

    ``start()`` binds 127.0.0.1:``port`` (0: a free one) and returns the URL with the token; ``stop()`` closes it.
    """

    def __init__(self, runner, *, port: int = 0, token: str | None = None, rate_hz: float = DEFAULT_RATE_HZ,
                 title: str = "muse live") -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ParameterError(f"port={port!r}: must be 0 (a free port) or 1–65535", field="port")
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise ParameterError(f"UI rate {rate_hz!r} updates/s: must be within (0, {MAX_RATE_HZ:g}]")
        self.runner, self.engine = runner, runner.engine
        self.requested_port, self.port = port, 0
        self.token = token or secrets.token_urlsafe(24)
        self.rate_hz, self.title = float(rate_hz), title
        self.slot = FrameSlot()
        self.frames = 0          # tick frames built
        self.reports = 0         # report frames built
        self.dropped_client = 0  # frames replaced in a stream's mailbox before it was written
        self.refused = 0         # requests answered 403/400/503
        self.errors = 0          # frames that failed to build (logged; the page keeps the last one)
        self.build_cpu_s = 0.0   # CPU time of the poll thread building frames (s), and its worst frame
        self.build_cpu_max_s = 0.0
        self._streams: set[_Stream] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._muted: frozenset[str] = frozenset()
        self._known_keys: set[str] = set()
        aw = getattr(runner.p, "analyzer", None)
        self._engine_target = getattr(aw, "target", None)
        self._view_target = None   # None: the engine's own target
        self._settings = 0         # bumped by every action, so the poller rebuilds the report frame
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._incoming = IncomingNotes()

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def stats(self) -> dict:
        return {"frames": self.frames, "reports": self.reports, "dropped_poll": self.slot.dropped,
                "dropped_client": self.dropped_client, "streams": len(self._streams), "refused": self.refused,
                "errors": self.errors, "rate_hz": self.rate_hz,
                "build_cpu_ms_mean": round(self.build_cpu_s * 1000 / max(self.frames, 1), 3),
                "build_cpu_ms_max": round(self.build_cpu_max_s * 1000, 3)}

    def start(self) -> str:
        try:
            from aiohttp import web  # noqa: F401  (checked here, so a missing library is one clear line)
        except ImportError as e:  # pragma: no cover - a dependency of the package
            raise InputError(f"the live view needs aiohttp ({e}); `pip install aiohttp`") from None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted `muse serve` child rebinds at once
        try:
            sock.bind(("127.0.0.1", self.requested_port))
            sock.listen(16)
        except OSError as e:
            sock.close()
            raise InputError(f"port={self.requested_port}: cannot listen on 127.0.0.1:{self.requested_port} "
                             f"({e.strerror or e}); choose another port or 0 for a free one", field="port") from None
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(sock, ready, failure), name="muse-ui", daemon=True)
        self._thread.start()
        ready.wait(10.0)
        if failure or not ready.is_set():
            self._stop.set()
            raise InputError(f"the live view did not start: {failure[0] if failure else 'timeout'}")
        self._poller = threading.Thread(target=self._poll, name="muse-ui-poll", daemon=True)
        self._poller.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(2.0)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._shutdown.set)
            except RuntimeError:  # loop already closed
                pass
        if self._thread is not None:
            self._thread.join(5.0)

    # -- the poll thread: engine state → frames ----------------------------------------------------
    def _poll(self) -> None:
        period = 1.0 / self.rate_hz
        last_report, last_settings = None, -1
        window_s = float(getattr(self.runner.cfg, "analyzer_window_s", 10.0))
        midi_in = getattr(self.runner, "midi_in", None)
        nxt = time.perf_counter()
        while not self._stop.is_set():
            c0 = time.thread_time()
            try:
                tick = tick_frame(self.engine, self._incoming, midi_in)
                tick["ui"] = self.stats()
                self.slot.put("tick", json.dumps(tick, allow_nan=False, default=_json_default))
                self.frames += 1
                rep, settings = self.engine.report, self._settings
                if rep is not last_report or settings != last_settings:
                    with self._lock:
                        muted, target = self._muted, self._view_target
                    fr = report_frame(rep, target=target or self._engine_target, muted=muted, window_s=window_s)
                    with self._lock:
                        self._known_keys.update(fr.get("all_keys", ()))
                    fr["seq"] = self.reports
                    self.slot.put("report", json.dumps(fr, allow_nan=False, default=_json_default))
                    self.reports += 1
                    last_report, last_settings = rep, settings
            except Exception as e:  # noqa: BLE001 - a display problem must never stop the music
                self.errors += 1
                if self.errors <= 3:
                    log.warning("live view frame failed: %s: %s", type(e).__name__, e)
            dc = time.thread_time() - c0
            self.build_cpu_s += dc
            self.build_cpu_max_s = max(self.build_cpu_max_s, dc)
            loop = self._loop
            if loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(self._fan_out)
                except RuntimeError:
                    break
            nxt += period
            delay = nxt - time.perf_counter()
            if delay < 0:  # behind (a loaded machine): skip the missed ticks instead of bursting
                nxt = time.perf_counter()
                delay = 0.0
            self._stop.wait(delay)

    def _fan_out(self) -> None:  # on the server thread
        for kind, frame in self.slot.take().items():
            for st in list(self._streams):
                before = st.dropped
                st.offer(kind, frame)
                self.dropped_client += st.dropped - before

    # -- the server thread ---------------------------------------------------------------------------
    def _serve(self, sock, ready: threading.Event, failure: list) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main(sock, ready))
        except BaseException as e:  # noqa: BLE001 - reported to start() or logged
            if not ready.is_set():
                failure.append(e)
                ready.set()
            else:
                log.warning("live view server stopped: %s: %s", type(e).__name__, e)
        finally:
            loop.close()

    async def _main(self, sock, ready: threading.Event) -> None:
        from aiohttp import web

        self._shutdown = asyncio.Event()
        app = web.Application(middlewares=[self._make_guard()], client_max_size=MAX_BODY)
        app.router.add_get("/", self._page)
        app.router.add_get("/events", self._events)
        app.router.add_post("/action", self._action)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        self._loop = asyncio.get_running_loop()
        ready.set()
        try:
            await self._shutdown.wait()
        finally:
            for st in list(self._streams):
                st.event.set()
            await runner.cleanup()

    # -- security: every request ---------------------------------------------------------------------
    def _allowed_hosts(self) -> tuple[str, ...]:
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    def _check(self, request) -> str | None:
        """Why this request is refused, or None."""
        host = request.headers.get("Host", "")
        if host.lower() not in self._allowed_hosts():
            return f"Host {host!r} is not this server (DNS rebinding guard)"
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() not in tuple(f"http://{h}" for h in self._allowed_hosts()):
            return f"Origin {origin!r} is not this page"
        given = request.query.get("token") or request.headers.get("X-Muse-Token") or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "missing or wrong token"
        return None

    def _make_guard(self):
        """The middleware every route passes: Host, Origin and token checked before any handler runs."""
        from aiohttp import web

        @web.middleware
        async def guard(request, handler):
            why = self._check(request)
            if why is not None:
                self.refused += 1
                return web.Response(status=403, text=f"forbidden: {why}\n", headers=_HEADERS)
            return await handler(request)

        return guard

    # -- routes ----------------------------------------------------------------------------------------
    async def _page(self, request):
        from aiohttp import web

        from nomad_muse.ui.page import render_page

        nonce = secrets.token_urlsafe(12)
        html = render_page(self.runner, nonce=nonce, title=self.title, rate_hz=self.rate_hz,
                           target=getattr(self._view_target or self._engine_target, "name", None))
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; "
               "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={**_HEADERS, "Content-Security-Policy": csp})

    async def _events(self, request):
        from aiohttp import web

        if len(self._streams) >= MAX_STREAMS:
            self.refused += 1
            return web.Response(status=503, text=f"at most {MAX_STREAMS} live pages at a time\n", headers=_HEADERS)
        resp = web.StreamResponse(headers={**_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        sock = request.transport.get_extra_info("socket") if request.transport is not None else None
        if sock is not None:  # a page that stops reading holds at most this much in the kernel (plus one frame per kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
            except OSError:
                pass
        st = _Stream()
        # the newest frames at once, so a page that opens mid-session is complete after one message
        self._streams.add(st)
        self.engine_kick()
        try:
            await resp.write(b"retry: 1000\n\n")
            while not self._shutdown.is_set():
                await st.event.wait()
                st.event.clear()
                frames, st.pending = st.pending, {}
                for kind, frame in frames.items():
                    await resp.write(f"event: {kind}\ndata: {frame}\n\n".encode())
                    st.sent += 1
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._streams.discard(st)
        return resp

    def engine_kick(self) -> None:
        """Make the poller rebuild the report frame (a new page needs it; it changes only once a second)."""
        self._settings += 1

    async def _action(self, request):
        from aiohttp import web

        def bad(msg: str):
            self.refused += 1
            return web.json_response({"ok": False, "error": msg}, status=400, headers=_HEADERS)

        if request.content_type != "application/json":
            return bad("send application/json")
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return bad("the body is not JSON")
        if not isinstance(body, dict) or set(body) - {"action", "key", "name"}:
            return bad("expected {\"action\": ..., \"key\"|\"name\": ...}")
        act = body.get("action")
        if act not in ACTIONS:
            return bad(f"unknown action {act!r}; the actions are {', '.join(ACTIONS)}")
        if act in ("mute", "unmute"):
            key = body.get("key")
            with self._lock:
                valid = isinstance(key, str) and key in (self._known_keys if act == "mute" else self._muted)
                if not valid:
                    return bad(f"{act}: {key!r} is not a suggestion this page " +
                               ("was shown" if act == "mute" else "has muted"))
                self._muted = self._muted | {key} if act == "mute" else self._muted - {key}
        else:
            name = body.get("name")
            if not isinstance(name, str) or not _TARGET_NAME.match(name):
                return bad(f"target: {name!r} is not a target name")
            from nomad_muse.analyzer.targets import list_targets, load_target

            names = [n for n, _, _ in list_targets()]
            if name not in names:
                return bad(f"target: no target named {name!r}; available: {', '.join(names)}")
            try:
                t = load_target(name)
            except Exception as e:  # noqa: BLE001 - a broken user file: say so, keep the current target
                return bad(f"target {name!r} cannot be read: {e}")
            with self._lock:
                self._view_target = t
        self._settings += 1
        with self._lock:
            out = {"ok": True, "muted": sorted(self._muted),
                   "target": getattr(self._view_target or self._engine_target, "name", None)}
        return web.json_response(out, headers=_HEADERS)


_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY"}


def _json_default(o):
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    raise TypeError(f"not JSON: {type(o).__name__}")
