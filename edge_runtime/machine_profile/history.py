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


class RunStore:
    """SQLite history of runs: ``kind`` ("calibrate", "bench", "certify", …), time, fingerprint, a
    one-line summary and the full JSON payload.

    A corrupt database file is renamed to ``*.corrupt-<unix time>`` (kept for
    inspection) and a new one is started; :attr:`notes` says so.
    """

    def __init__(self, path: Path | None = None):
        from nomad_muse.paths import data_dir

        self.path = Path(path) if path else data_dir() / HISTORY_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notes: list[str] = []
        try:
            self._con = self._open()
        except sqlite3.DatabaseError as e:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.replace(aside)
            msg = f"history database {self.path} was unreadable ({e}); moved to {aside.name}, starting a new one"
            log.warning(msg)
            self.notes.append(msg)
            self._con = self._open()

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path)
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "created TEXT NOT NULL, fingerprint TEXT, summary TEXT, payload TEXT NOT NULL)"
        )
        con.execute("SELECT count(*) FROM runs").fetchone()  # touches the file: corrupt ones fail here
        con.commit()
        return con

    def add(self, kind: str, payload: Mapping[str, Any], *, summary: str = "", fingerprint: str | None = None) -> int:
        created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        cur = self._con.execute(
            "INSERT INTO runs (kind, created, fingerprint, summary, payload) VALUES (?, ?, ?, ?, ?)",
            (kind, created, fingerprint, summary, json.dumps(payload, default=str)),
        )
        self._con.commit()
        return int(cur.lastrowid)

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict]:
        """Newest first: ``{"id", "kind", "created", "fingerprint", "summary"}``."""
        q = "SELECT id, kind, created, fingerprint, summary FROM runs"
        args: tuple = ()
        if kind:
            q += " WHERE kind = ?"
            args = (kind,)
        q += " ORDER BY id DESC LIMIT ?"
        rows = self._con.execute(q, args + (limit,)).fetchall()
        return [dict(zip(("id", "kind", "created", "fingerprint", "summary"), r)) for r in rows]

    def get(self, run_id: int) -> dict:
        """One run with its payload; :class:`ParameterError` naming the id if there is none."""
        r = self._con.execute(
            "SELECT id, kind, created, fingerprint, summary, payload FROM runs WHERE id = ?", (int(run_id),)
        ).fetchone()
        if r is None:
            raise ParameterError(f"run {run_id} is not in the history {self.path}; `muse bench history` lists the runs")
        d = dict(zip(("id", "kind", "created", "fingerprint", "summary"), r[:5]))
        d["payload"] = json.loads(r[5])
        return d

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
