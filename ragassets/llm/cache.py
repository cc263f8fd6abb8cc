"""The durable response cache that makes LLM stages resumable.

Every answer is written the moment it arrives into SQLite in WAL mode
(``<data root>/llm_cache.sqlite``): one transaction per answer with :meth:`ResponseCache.put`, or,
in a concurrent run, one per turn of the event loop for the answers that arrived in it
(:class:`GroupCommitWriter`). WAL lets several processes (a backfill over many corpora under
Dagster's multiprocess executor) read and write at once; writers wait on each other through
``busy_timeout`` instead of failing. A committed answer survives ``kill -9`` of the writing process:
with ``synchronous=NORMAL`` the WAL is not fsynced on every commit, which only matters on power
loss; pass ``fsync=True`` to pay one fsync per answer for that too.

Failures are recorded in their own table for diagnosis; they are never served as answers, so a
re-run asks again. Accounting rows (``llm_usage``) live in the same file so they accumulate across
runs and processes without a lock of their own. The file holds no secrets: the key is a hash of the
request, and requests never carry credentials.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ragassets.paths import data_root
from ragassets.sqlite_wal import connect_wal, retry_locked

CACHE_FILE = "llm_cache.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    token_source TEXT,
    finish_reason TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    task TEXT,
    reason TEXT NOT NULL,
    detail TEXT,
    attempts INTEGER,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS errors_key ON errors(key);
CREATE TABLE IF NOT EXISTS llm_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    asset TEXT NOT NULL,
    corpus TEXT NOT NULL,
    role TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    failures_by_reason TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    wall_s REAL NOT NULL,
    created_at REAL NOT NULL
);
"""

USAGE_COLUMNS = (
    "run_id",
    "asset",
    "corpus",
    "role",
    "provider",
    "model",
    "requests",
    "sent",
    "cache_hits",
    "failures",
    "failures_by_reason",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "wall_s",
    "created_at",
)


@dataclass(frozen=True)
class CachedAnswer:
    key: str
    provider: str
    model: str
    text: str
    input_tokens: int
    output_tokens: int
    token_source: str | None
    finish_reason: str | None


def default_cache_path(root: Path | None = None) -> Path:
    """``<data root>/llm_cache.sqlite``."""
    return (root or data_root()) / CACHE_FILE


class GroupCommitWriter:
    """Commits the answers that arrive in one event-loop iteration together (group commit).

    ``put`` buffers a row and, for the first row of a batch, schedules :meth:`flush` with
    ``loop.call_soon``: the batch is committed as soon as the loop has run the callbacks that were
    ready with it, before it waits for more network input. So an answer is on disk within the same
    turn of the loop that received it, and a run killed with ``kill -9`` loses at most the answers
    of that one turn, like the requests in flight. A failed commit is kept and raised by
    :meth:`close` (and by the next ``put``), never swallowed by the loop's exception handler.
    """

    def __init__(self, cache: ResponseCache, loop: Any) -> None:
        self.cache = cache
        self.loop = loop
        self.rows: list[dict[str, Any]] = []
        self.commits = 0
        self.written = 0
        self._scheduled = False
        self._error: BaseException | None = None

    def put(self, **row: Any) -> None:
        if self._error is not None:
            raise self._error
        row.setdefault("created_at", time.time())
        self.rows.append(row)
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        rows, self.rows = self.rows, []
        if not rows:
            return
        try:
            self.written += self.cache.put_many(rows)
            self.commits += 1
        except Exception as exc:  # noqa: BLE001 - kept and raised by close()/put()
            self._error = self._error or exc

    def close(self) -> None:
        """Commit what is buffered; raise the first failed commit, if any."""
        self.flush()
        if self._error is not None:
            raise self._error


class ResponseCache:
    """SQLite-backed answer store keyed by :func:`ragassets.llm.types.cache_key`.

    Safe to share between threads of one process (one connection behind a lock) and between
    processes (WAL + busy timeout). ``path=":memory:"`` gives a throwaway cache for tests.
    """

    def __init__(self, path: str | Path | None = None, *, fsync: bool = False, busy_timeout_s: float = 60.0):
        if path is None:
            path = default_cache_path()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = connect_wal(
            self.path,
            timeout_s=busy_timeout_s,
            synchronous="FULL" if fsync else "NORMAL",
            schema=_SCHEMA,
            isolation_level=None,
            check_same_thread=False,
        )

    def __repr__(self) -> str:
        return f"ResponseCache({self.path!r})"

    # -- answers ------------------------------------------------------------------------------------

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """The cached answers among ``keys``."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, CachedAnswer] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    "SELECT key, provider, model, text, input_tokens, output_tokens, token_source, "
                    f"finish_reason FROM responses WHERE key IN ({marks})",
                    part,
                ).fetchall()
                for row in rows:
                    out[row[0]] = CachedAnswer(*row)
        return out

    def get(self, key: str) -> CachedAnswer | None:
        return self.get_many([key]).get(key)

    def put(
        self,
        key: str,
        *,
        provider: str,
        model: str,
        text: str,
        task: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        token_source: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Store one answer durably (its own transaction). The first answer for a key wins, so
        concurrent writers of the same request never overwrite each other."""
        with self._lock:
            retry_locked(
                lambda: self._conn.execute(
                    "INSERT OR IGNORE INTO responses (key, provider, model, task, text, input_tokens, "
                    "output_tokens, token_source, finish_reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        key,
                        provider,
                        model,
                        task,
                        text,
                        int(input_tokens),
                        int(output_tokens),
                        token_source,
                        finish_reason,
                        time.time(),
                    ),
                )
            )

    def put_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store several answers in one transaction (keys and columns as :meth:`put` takes them).

        A commit costs far more than a row: answers that arrive together (one event-loop iteration
        of a concurrent run) are committed together. Returns the number of rows given."""
        values = [
            (
                r["key"],
                r["provider"],
                r["model"],
                r.get("task"),
                r["text"],
                int(r.get("input_tokens") or 0),
                int(r.get("output_tokens") or 0),
                r.get("token_source"),
                r.get("finish_reason"),
                r.get("created_at") or time.time(),
            )
            for r in rows
        ]
        if not values:
            return 0

        def write() -> None:
            # BEGIN IMMEDIATE takes the write lock up front, so a busy database waits (busy_timeout)
            # instead of failing half-way through the batch
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO responses (key, provider, model, task, text, input_tokens, "
                    "output_tokens, token_source, finish_reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    values,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

        with self._lock:
            retry_locked(write)
        return len(values)

    def record_error(
        self,
        key: str,
        *,
        reason: str,
        detail: str | None,
        provider: str,
        model: str,
        task: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Log a failed request for diagnosis. Never read back as an answer."""
        with self._lock:
            retry_locked(
                lambda: self._conn.execute(
                    "INSERT INTO errors (key, provider, model, task, reason, detail, attempts, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (key, provider, model, task, reason, (detail or "")[:2000], attempts, time.time()),
                )
            )

    def errors(self, key: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT key, provider, model, task, reason, detail, attempts, created_at FROM errors"
        args: tuple[Any, ...] = ()
        if key is not None:
            sql += " WHERE key = ?"
            args = (key,)
        cols = ("key", "provider", "model", "task", "reason", "detail", "attempts", "created_at")
        with self._lock:
            return [
                dict(zip(cols, row, strict=True)) for row in self._conn.execute(sql + " ORDER BY id", args)
            ]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT key FROM responses")}

    # -- accounting -----------------------------------------------------------------------------------

    def append_usage(self, row: dict[str, Any]) -> None:
        """Append one accounting row (see :func:`ragassets.llm.accounting.usage_row`)."""
        values = dict(row)
        values.setdefault("created_at", time.time())
        if not isinstance(values.get("failures_by_reason"), str):
            values["failures_by_reason"] = json.dumps(values.get("failures_by_reason") or {}, sort_keys=True)
        missing = [c for c in USAGE_COLUMNS if c not in values]
        if missing:
            raise ValueError(f"llm_usage row lacks {', '.join(missing)}")
        with self._lock:
            retry_locked(
                lambda: self._conn.execute(
                    f"INSERT INTO llm_usage ({', '.join(USAGE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(USAGE_COLUMNS))})",
                    tuple(values[c] for c in USAGE_COLUMNS),
                )
            )

    def usage_rows(self, corpus: str | None = None) -> list[dict[str, Any]]:
        """All accounting rows (of one corpus when given), oldest first."""
        sql = f"SELECT {', '.join(USAGE_COLUMNS)} FROM llm_usage"
        args: tuple[Any, ...] = ()
        if corpus is not None:
            sql += " WHERE corpus = ?"
            args = (corpus,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        return [dict(zip(USAGE_COLUMNS, r, strict=True)) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
