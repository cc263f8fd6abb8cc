"""Opening a shared SQLite file while another connection holds its lock: waited out, not failed."""

import sqlite3
import threading
import time

import pytest

from ragassets.sqlite_wal import connect_wal, retry_locked


def test_retry_locked_retries_only_lock_errors() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert retry_locked(flaky, pause_s=0.001) == "done" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: nope")

    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(broken, pause_s=0.001)
    assert len(calls) == 1
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_locked(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")), 3, 0.001)


def test_connect_wal_waits_for_a_lock_held_past_its_busy_timeout(tmp_path) -> None:
    path = tmp_path / "shared.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # as a process creating the file at the same moment would
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    t0 = time.monotonic()
    # a 10 ms busy timeout expires long before the lock is released: only the retry gets through
    conn = connect_wal(path, timeout_s=0.01, schema="CREATE TABLE IF NOT EXISTS t (x INTEGER);")
    assert time.monotonic() - t0 >= 0.25
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 1
    holder.close()
