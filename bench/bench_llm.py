"""LLM client throughput against the OpenAI-compatible test server, and the cost of a warm re-run.

640 chat requests to a server (its own process) that takes 100 ms per request and 64 at a time
(429 beyond). The ideal wall time is requests x latency / capacity = 1.0 s; the figure of merit is
wall / ideal (target <= 1.1). The same requests with max_concurrency 1 give the sequential
baseline (ideal 64 s). A second run over the warm response cache must send nothing.

    .venv/bin/python -m bench.bench_llm [--sequential-requests N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._results import write_section
from ragassets.llm import LLMClient, LLMRequest, ResponseCache
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets_tests.llm_server import LLMTestServer, RemoteServer

N_REQUESTS = 640
LATENCY_S = 0.1
CAPACITY = 64
REPEATS = 5


def requests(n: int, tag: str) -> list[LLMRequest]:
    return [
        LLMRequest.chat(f"{tag} request {i}: say something about item {i}.", task="bench") for i in range(n)
    ]


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process, or of process ``pid``."""
    if pid is None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def run_once(
    base_url: str, reqs: list[LLMRequest], concurrency: int, cache: ResponseCache
) -> tuple[float, LLMClient]:
    provider = OpenAIProvider("bench-model", base_url, timeout_s=30)
    client = LLMClient(provider, cache=cache, max_concurrency=concurrency, progress_interval_s=3600)
    t0 = time.perf_counter()
    results = client.run(reqs)
    wall = time.perf_counter() - t0
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0].error}: {failed[0].error_detail}")
    return wall, client


def pin(server_pid: int) -> str | None:
    """The server on the last core, this process on the others: the server's CPU then never
    delays the client, as with an LLM server on its own machine. None where affinity is not
    available (or there is a single core)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    if len(cores) < 2:
        return None
    os.sched_setaffinity(server_pid, {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    return f"server on core {cores[-1]}, client on {','.join(map(str, cores[:-1]))}"


def unpin(server_pid: int, cores: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(server_pid, cores)
        os.sched_setaffinity(0, cores)


@dataclass
class Series:
    """REPEATS cold runs: fresh requests and a fresh cache file each time."""

    walls: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)  # s per run
    server_cpu: list[float] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    max_in_flight: int = 0
    capacity_429: int = 0
    limiter_min: int | None = None

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def cold_series(
    srv: RemoteServer, tmp: Path, tag: str, n: int, repeats: int, first_cache: ResponseCache | None = None
) -> Series:
    out = Series()
    for rep in range(repeats):
        cache = (
            first_cache
            if (rep == 0 and first_cache is not None)
            else ResponseCache(tmp / f"{tag}{rep}.sqlite")
        )
        srv.reset()
        c0, s0 = cpu_s(), cpu_s(srv.pid)
        wall, client = run_once(srv.base_url, requests(n, f"{tag}{rep}"), CAPACITY, cache)
        out.client_cpu.append(cpu_s() - c0)
        out.server_cpu.append(cpu_s(srv.pid) - s0)
        out.walls.append(wall)
        stats = srv.stats()
        out.sent.append(stats["chat_requests"])
        out.max_in_flight = max(out.max_in_flight, stats["max_in_flight"])
        out.capacity_429 += stats["counters"].get("capacity_429", 0)
        if client.last_limiter is not None:
            low = client.last_limiter.stats.min_limit
            out.limiter_min = low if out.limiter_min is None else min(out.limiter_min, low)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=N_REQUESTS, help="requests per concurrent run")
    parser.add_argument("--sequential-requests", type=int, default=N_REQUESTS)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="cold runs per concurrent row")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    n_requests, repeats = args.requests, args.repeats
    ideal = n_requests * LATENCY_S / CAPACITY
    load_before = os.getloadavg()[0]
    all_cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        LLMTestServer.subprocess(latency_s=LATENCY_S, capacity=CAPACITY) as srv,
    ):
        tmp = Path(tmp_dir)
        cache = ResponseCache(tmp / "llm_cache.sqlite")
        # warm up imports and code paths on a few throwaway requests
        run_once(srv.base_url, requests(8, "warmup"), CAPACITY, ResponseCache(":memory:"))

        shared = cold_series(srv, tmp, "shared", n_requests, repeats)
        placement = pin(srv.pid)
        try:
            pinned = (
                cold_series(srv, tmp, "pinned", n_requests, repeats, first_cache=cache) if placement else None
            )
            # the warm re-run repeats the first cold run of the main row over its cache file
            srv.reset()
            warm_cache = cache if pinned else ResponseCache(tmp / "shared0.sqlite")
            warm_tag = "pinned0" if pinned else "shared0"
            warm_wall, warm_client = run_once(
                srv.base_url, requests(n_requests, warm_tag), CAPACITY, warm_cache
            )
            warm_sent = srv.stats()["chat_requests"]

            srv.reset()
            n_seq = args.sequential_requests
            seq_wall, _ = run_once(srv.base_url, requests(n_seq, "seq"), 1, ResponseCache(":memory:"))
            seq_ideal = n_seq * LATENCY_S
        finally:
            if placement:
                unpin(srv.pid, all_cores)

    main_series = pinned or shared
    ratio = main_series.median / ideal
    seq_ratio = seq_wall / seq_ideal
    speedup = (seq_wall / n_seq) / (main_series.median / n_requests)

    def row(label: str, s: Series) -> str:
        return (
            f"| {label} | {n_requests} | {max(s.sent)} | {s.median:.3f} | {s.best:.3f} | {ideal:.3f} | "
            f"**{s.median / ideal:.3f}** | {s.best / ideal:.3f} | "
            f"{statistics.median(s.client_cpu) / n_requests * 1000:.2f} | "
            f"{statistics.median(s.server_cpu) / n_requests * 1000:.2f} |"
        )

    rows = [
        (
            "| run | requests | sent to server | wall s (median) | wall s (best) | ideal s | wall / ideal (median) "
            "| wall / ideal (best) | client CPU ms/request | server CPU ms/request |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if pinned:
        rows.append(row(f"concurrent (max_concurrency {CAPACITY}), server on its own core", pinned))
    rows.append(row(f"concurrent (max_concurrency {CAPACITY}), server and client sharing the cores", shared))
    rows += [
        (
            f"| sequential (max_concurrency 1) | {n_seq} | {n_seq} | {seq_wall:.3f} | - | {seq_ideal:.3f} | {seq_ratio:.3f} "
            "| - | - | - |"
        ),
        f"| warm cache re-run | {n_requests} | {warm_sent} | {warm_wall:.3f} | - | 0 | - | - | - | - |",
    ]
    lines = [
        "## LLM client (`bench/bench_llm.py`)",
        "",
        (
            f"{n_requests} chat requests to the OpenAI-compatible test server in its own process "
            f"({LATENCY_S * 1000:.0f} ms per request, capacity {CAPACITY}, 429 beyond). "
            "Ideal = requests x latency / capacity. Target: concurrent wall / ideal <= 1.1 (judged on the "
            "median); warm re-run sends 0. "
            f"Each concurrent row: {repeats} cold runs (fresh requests, fresh cache file, new connections); "
            "walls: "
            + "; ".join(
                f"{name} {', '.join(f'{w:.3f}' for w in s.walls)}"
                for name, s in (("own core", pinned), ("shared", shared))
                if s is not None
            )
            + " s."
        ),
        "",
        *rows,
        "",
        (
            "- The test server stands in for an LLM server, which runs on its own machine (a GPU box) and "
            "spends none of the client's CPU. Here both share 2 cores, so the first row pins the server "
            f"to a core of its own ({placement or 'not possible here'}); the second row lets the scheduler "
            "place both, and each response then waits for the other process to yield the core."
        ),
        (
            f"- per-request speed-up over sequential: {speedup:.1f}x; server max in flight "
            f"{main_series.max_in_flight}, 429s {main_series.capacity_429}; limiter min {main_series.limiter_min}; "
            f"load average at start {load_before:.1f} on {os.cpu_count()} cores"
        ),
        (
            f"- target wall/ideal <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'} ({ratio:.3f}, median); warm "
            f"re-run sent {warm_sent} requests ({warm_client.last_stats.cache_hits} cache hits)"
        ),
    ]
    md = "\n".join(lines)
    if not args.no_write:
        write_section("llm", md)
    print(md)
    if warm_sent:
        raise SystemExit(f"the warm re-run sent {warm_sent} requests; it must send none")


if __name__ == "__main__":
    main()
