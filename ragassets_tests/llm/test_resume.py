"""Resume: a run killed with SIGKILL re-sends only the requests that have no stored answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragassets.llm import ResponseCache
from ragassets_tests.llm._resume_worker import batch, client
from ragassets_tests.llm_server import body_key

REPO = Path(__file__).resolve().parents[2]
N = 160


def worker(base_url: str, cache: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "ragassets_tests.llm._resume_worker", base_url, str(cache), str(out), str(N)],
        env=env,
        cwd=REPO,
    )


@pytest.mark.timeout(120)
def test_sigkill_midway_then_rerun_sends_only_unanswered(server_factory, tmp_path: Path) -> None:
    srv = server_factory(latency_s=0.04)
    cache_path = tmp_path / "llm_cache.sqlite"
    out = tmp_path / "out.json"

    proc = worker(srv.base_url, cache_path, out)
    deadline = time.monotonic() + 60
    while srv.stats()["chat_ok"] < N // 3:
        assert proc.poll() is None, "the worker finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert not out.exists()

    # what survived the kill: every answer committed before it
    reqs = batch(N)
    keyer = client(srv.base_url, ResponseCache(":memory:"))
    server_key = {keyer.key(r): body_key({"messages": list(r.messages)}) for r in reqs}
    stored = ResponseCache(cache_path).keys()
    assert N // 3 - 8 <= len(stored) < N  # at most the in-flight ones (4) were lost, plus a few in transit
    first_run_delivered = srv.stats()["ok_keys"]
    assert all(server_key[k] in first_run_delivered for k in stored)

    srv.reset()
    rerun = worker(srv.base_url, cache_path, out)
    assert rerun.wait(60) == 0
    sent = srv.stats()["keys"]
    assert sum(sent.values()) == N - len(stored)  # only the unanswered ones
    assert not set(sent) & {server_key[k] for k in stored}
    resumed = json.loads(out.read_text())

    # an uninterrupted run on a fresh cache gives the same output
    fresh_out = tmp_path / "fresh.json"
    fresh = worker(srv.base_url, tmp_path / "fresh.sqlite", fresh_out)
    assert fresh.wait(60) == 0
    assert resumed == json.loads(fresh_out.read_text())
    assert all(r["ok"] for r in resumed) and [r["id"] for r in resumed] == [str(i) for i in range(N)]

    # and a third run sends nothing at all
    srv.reset()
    again = worker(srv.base_url, cache_path, out)
    assert again.wait(60) == 0
    assert srv.stats()["chat_requests"] == 0
