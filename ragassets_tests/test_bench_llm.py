"""The LLM benchmark runs end to end (small numbers, RESULTS.md untouched). Its timings are not
asserted here; what is: every request reaches the server once, and the warm re-run sends none."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bench import bench_llm

RESULTS = Path(bench_llm.__file__).with_name("RESULTS.md")


def test_bench_llm_small_run(capsys) -> None:
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    bench_llm.main(["--requests", "64", "--sequential-requests", "3", "--repeats", "1", "--no-write"])
    out = capsys.readouterr().out
    assert (RESULTS.read_bytes() if RESULTS.exists() else None) == before
    if cores is not None:
        assert os.sched_getaffinity(0) == cores  # the pinning is undone
    assert re.search(r"\| warm cache re-run \| 64 \| 0 \|", out)
    assert re.search(r"sharing the cores \| 64 \| 64 \|", out)
    assert "warm re-run sent 0 requests (64 cache hits)" in out
