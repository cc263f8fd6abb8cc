"""The RAG benchmark runs end to end on a few Apollo 13 chunks (RESULTS.md untouched, pinning undone).
Its timings are not asserted; that every item becomes a line is."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ragassets_tests.conftest import shared_corpus

pytestmark = pytest.mark.slow


def test_bench_rag_conversations_small_run(capsys, data_root) -> None:
    shared_corpus("apollo13")
    from bench import bench_rag_conversations

    results = Path(bench_rag_conversations.__file__).with_name("RESULTS.md")
    before = results.read_bytes() if results.exists() else None
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    bench_rag_conversations.main(["--chunks", "30", "--repeats", "1", "--no-write"])
    out = capsys.readouterr().out
    assert (results.read_bytes() if results.exists() else None) == before
    if cores is not None:
        assert os.sched_getaffinity(0) == cores
    assert re.search(r"32 in flight \(.*\) \| 30 \| 30 \|", out)  # 30 requests, 30 lines
    assert "| hard negatives (one batched search" in out
