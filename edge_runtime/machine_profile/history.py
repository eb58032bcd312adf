"""The run history: every calibration and benchmark run made on this machine (``history.sqlite``).

``muse bench history`` reads it to show change over time.  A corrupt database
is moved aside (kept, not deleted) and a fresh one started, with a warning.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nomad_muse.errors import ParameterError

log = logging.getLogger(__name__)

HISTORY_NAME = "history.sqlite"


class HistoryBusyError(ParameterError):
    """The history database is locked by another process past the wait, or unreadable but intact."""


def _is_busy(e: Exception) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


class RunStore:
    """SQLite history of runs: ``kind`` ("calibrate", "bench", "certify", …), time, fingerprint, a
    one-line summary and the full JSON payload.

    Concurrency (issue 15): a database another process holds locked is waited
    for (``timeout`` seconds, SQLite's busy handler), then refused with a
    :class:`HistoryBusyError` naming the file — never moved aside.  Only a
    file that fails SQLite's own ``PRAGMA quick_check`` (or is not a database
    at all) is renamed to ``*.corrupt-<unix time>`` (kept for inspection) and
    a new one started; :attr:`notes` says so.
    """

    def __init__(self, path: Path | None = None, *, timeout: float = 30.0):
        from nomad_muse.paths import data_dir

        self.path = Path(path) if path else data_dir() / HISTORY_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notes: list[str] = []
        self.timeout = float(timeout)
        try:
            self._con = self._open()
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                raise HistoryBusyError(
                    f"history database {self.path} stayed locked by another process for {self.timeout:g} s; try again when it finishes"
                ) from None
            if not self._corrupt():
                raise HistoryBusyError(f"history database {self.path} cannot be opened ({e}); it passed its integrity check and is kept") from None
            self._move_aside(e)
        except sqlite3.DatabaseError as e:
            self._move_aside(e)

    def _corrupt(self) -> bool:
        """True when the file fails SQLite's integrity check (or cannot be read as a database)."""
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout)
            try:
                row = con.execute("PRAGMA quick_check").fetchone()
            finally:
                con.close()
        except sqlite3.OperationalError as e:
            return not _is_busy(e)
        except sqlite3.DatabaseError:
            return True
        return row is None or row[0] != "ok"

    def _move_aside(self, e: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        self.path.replace(aside)
        msg = f"history database {self.path} was unreadable ({e}); moved to {aside.name}, starting a new one"
        log.warning(msg)
        self.notes.append(msg)
        self._con = self._open()

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout)
        con.text_factory = lambda b: b.decode("utf-8", "replace")  # a damaged row reads as text with U+FFFD, not a crash
        con.execute("PRAGMA busy_timeout = %d" % int(self.timeout * 1000))
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "created TEXT NOT NULL, fingerprint TEXT, summary TEXT, payload TEXT NOT NULL)"
        )
        con.execute("SELECT count(*) FROM runs").fetchone()  # touches the file: corrupt ones fail here
        cols = {r[1] for r in con.execute("PRAGMA table_info(runs)").fetchall()}
        need = {"id", "kind", "created", "fingerprint", "summary", "payload"}
        if not need <= cols:  # another program's database, or another version's: refused, never changed
            con.close()
            raise HistoryBusyError(
                f"history database {self.path} has a table 'runs' without the columns {', '.join(sorted(need - cols))}; "
                "it is not this version's history: move it away (muse starts a new one)")
        con.commit()
        return con

    def add(self, kind: str, payload: Mapping[str, Any], *, summary: str = "", fingerprint: str | None = None) -> int:
        created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            cur = self._con.execute(
                "INSERT INTO runs (kind, created, fingerprint, summary, payload) VALUES (?, ?, ?, ?, ?)",
                (kind, created, fingerprint, summary, json.dumps(payload, default=str)),
            )
            self._con.commit()
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                raise
            raise HistoryBusyError(
                f"history database {self.path} stayed locked by another process for {self.timeout:g} s; the run was not recorded"
            ) from None
        return int(cur.lastrowid)

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first: ``{"id", "kind", "created", "fingerprint", "summary"}``."""
        q = "SELECT id, kind, created, fingerprint, summary FROM runs"
        args: tuple = ()
        if kind:
            q += " WHERE kind = ?"
            args = (kind,)
        q += " ORDER BY id DESC LIMIT ?"
        rows = self._query(q, args + (limit,), all_rows=True)
        return [dict(zip(("id", "kind", "created", "fingerprint", "summary"), r)) for r in rows]

    def get(self, run_id: int) -> dict:
        """One run with its payload; :class:`ParameterError` naming the id if there is none."""
        r = self._query("SELECT id, kind, created, fingerprint, summary, payload FROM runs WHERE id = ?", (int(run_id),))
        if r is None:
            raise ParameterError(f"run {run_id} is not in the history {self.path}; `muse bench history` lists the runs")
        d = dict(zip(("id", "kind", "created", "fingerprint", "summary"), r[:5]))
        try:
            d["payload"] = json.loads(r[5])
        except (TypeError, ValueError, RecursionError) as e:
            raise ParameterError(f"run {run_id} in {self.path} has an unreadable payload ({type(e).__name__}); "
                                 "the rest of the history is fine") from None
        return d

    def _query(self, q: str, args: tuple, *, all_rows: bool = False):
        """Run a read; a database damaged past the open-time check is one line (the file is kept)."""
        try:
            cur = self._con.execute(q, args)
            return cur.fetchall() if all_rows else cur.fetchone()
        except sqlite3.DatabaseError as e:
            if _is_busy(e):
                raise HistoryBusyError(f"history database {self.path} stayed locked by another process for {self.timeout:g} s; "
                                       "try again when it finishes") from None
            raise HistoryBusyError(f"history database {self.path} is damaged ({e}); it is kept as it is: move it away "
                                   "and muse starts a new one") from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
