"""One progress display for every long ``muse`` job (evaluate, certify, bundle, calibrate, bench, demo).

On a terminal it is a transient rich progress bar (a spinner when the total is unknown) on stderr.
Otherwise (a log file, a pipe, systemd, CI) it prints at most one plain line every ``MUSE_PROGRESS_S``
seconds (default 10) while it runs (the first one interval after the start), and one line when it ends,
so a long job is never silent and a short one is not noisy. A job that stops on a user error
(:class:`~nomad_muse.errors.MuseError`) prints no closing line: the command's one error line says it. Always on stderr: ``--json`` output on stdout stays parseable.
Rich draws the terminal bar; the plain lines are a dozen lines of our own because rich's progress
prints nothing at all when the console is not a terminal.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console

DEFAULT_INTERVAL_S = 10.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("MUSE_PROGRESS_S", DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


@dataclass
class Job:
    """What a running job reports: ``update(message, completed=, total=)``; ``advance()`` counts one item."""

    name: str
    total: float | None
    _console: Console
    _bar: object | None = None
    _task: int | None = None
    _interval_s: float = DEFAULT_INTERVAL_S
    _t0: float = field(default_factory=time.monotonic)
    _last: float = -1e9
    message: str = ""
    completed: float = 0.0

    def update(self, message: str | None = None, *, completed: float | None = None, total: float | None = None) -> None:
        if message is not None:
            self.message = message
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if self._bar is not None:
            self._bar.update(self._task, description=self._describe(), completed=self.completed, total=self.total)
            return
        now = time.monotonic()
        if now - self._last >= self._interval_s:
            self._last = now
            self._console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def advance(self, message: str | None = None, step: float = 1.0) -> None:
        self.update(message, completed=self.completed + step)

    def _describe(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name

    def _count(self) -> str:
        if not self.total:
            return f" ({self.completed:g} so far)" if self.completed else ""
        if self.total == 1.0 and self.completed <= 1.0:  # a fraction
            return f" {100 * self.completed:.0f} %"
        return f" {self.completed:g}/{self.total:g} ({100 * self.completed / self.total:.0f} %)"

    def line(self) -> str:
        """The plain progress line: ``NAME: MESSAGE 3/10 (30 %) — 12 s``."""
        return f"{self._describe()}{self._count()} — {time.monotonic() - self._t0:.0f} s"


@contextmanager
def job(name: str, *, total: float | None = None, console: Console | None = None):
    """Show progress for the block's job; yields a :class:`Job`. ``total``: item count, 1.0 for a fraction, None unknown."""
    con = console or Console(stderr=True)
    j = Job(name, total, con, _interval_s=_interval())
    if con.is_terminal:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.percentage:>3.0f} %"), TimeElapsedColumn(), console=con, transient=True) as bar:
            j._bar, j._task = bar, bar.add_task(name, total=total)
            yield j
        return
    j._last = j._t0  # the first plain line comes one interval in: bad input fails before any progress noise
    stop = threading.Event()
    beat = None
    if j._interval_s >= 1.0:  # a heartbeat, so a job that reports rarely (a 2-minute paced run) still prints
        def heartbeat() -> None:
            while not stop.wait(j._interval_s / 2):
                if time.monotonic() - j._last >= j._interval_s:
                    j.update()

        beat = threading.Thread(target=heartbeat, name=f"progress {name}", daemon=True)
        beat.start()
    from nomad_muse.errors import MuseError

    ok, user_error = False, False
    try:
        yield j
        ok = True
    except MuseError:
        user_error = True
        raise
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=5)
        if not user_error:
            con.print(f"{name}: {'done' if ok else 'stopped'} in {time.monotonic() - j._t0:.0f} s",
                      highlight=False, markup=False, soft_wrap=True)
