"""SQLite files shared by several threads and processes (the LLM and embedding caches).

WAL mode lets readers and one writer work at once, and ``busy_timeout`` makes writers wait for each
other. Two steps escape the busy handler, though: switching a fresh file to WAL and creating the
schema, when several connections open a new file at the same moment (parallel backfills starting
together). SQLite then answers "database is locked" at once; :func:`retry_locked` retries those.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def retry_locked(fn: Callable[[], T], attempts: int = 50, pause_s: float = 0.05) -> T:
    """``fn()``, retried while SQLite says the database is locked (pauses grow linearly, about a
    minute in all); any other error, or the last attempt's, is raised."""
    for i in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(pause_s * (i + 1))
    raise AssertionError("unreachable")


def connect_wal(
    path: str | Path,
    *,
    timeout_s: float = 60.0,
    synchronous: str = "NORMAL",
    schema: str | None = None,
    **connect_kwargs: object,
) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with a busy timeout, ``schema`` (a script of
    ``CREATE ... IF NOT EXISTS``) applied; ``":memory:"`` stays in memory."""
    conn = sqlite3.connect(str(path), timeout=timeout_s, **connect_kwargs)  # type: ignore[arg-type]
    conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    if str(path) != ":memory:":
        retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
    conn.execute(f"PRAGMA synchronous={synchronous}")
    if schema:

        def create() -> None:
            conn.executescript(schema)
            if conn.in_transaction:
                conn.commit()

        retry_locked(create)
    return conn
