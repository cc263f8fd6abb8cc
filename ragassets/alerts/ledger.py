"""The alert ledger: which alerts were sent, and the CLI's sensor cursors. No Dagster import.

A small SQLite file under the data root (``alerts/ledger.sqlite``). An alert is *claimed* before it
is sent, with ``INSERT OR IGNORE`` on its key: only the first claimer sends, so the Dagster daemon,
a re-evaluated sensor tick and ``ragassets materialize`` (which evaluates the alert sensors once
after its runs) never send the same alert twice, even at the same moment from two processes.
The claim is kept even when every sink fails; the failure is recorded and logged, not retried,
so a broken webhook cannot turn into an alert storm.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_alerts (
    key TEXT PRIMARY KEY,
    claimed_at REAL NOT NULL,
    delivered TEXT,
    failed TEXT
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


class AlertLedger:
    """Dedup ledger and cursor store in one SQLite file (created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # a fresh connection per operation: safe across threads and processes; 30 s busy timeout
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def claim(self, key: str) -> bool:
        """Reserve ``key``; True if this caller is the first (and so must send the alert)."""
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO sent_alerts (key, claimed_at) VALUES (?, ?)", (key, time.time())
            )
            return cur.rowcount == 1

    def record(self, key: str, delivered: list[str], failed: list[str]) -> None:
        """Note which sinks delivered the alert and which failed."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE sent_alerts SET delivered = ?, failed = ? WHERE key = ?",
                (",".join(delivered), ",".join(failed), key),
            )

    def was_sent(self, key: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM sent_alerts WHERE key = ?", (key,)).fetchone() is not None

    def outcome(self, key: str) -> tuple[list[str], list[str]] | None:
        """``(delivered, failed)`` sink names of a claimed alert, or None if never claimed."""
        with self._connect() as conn:
            row = conn.execute("SELECT delivered, failed FROM sent_alerts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return [s for s in (row[0] or "").split(",") if s], [s for s in (row[1] or "").split(",") if s]

    def count(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM sent_alerts").fetchone()[0]

    def get_cursor(self, name: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, value, time.time()),
            )
