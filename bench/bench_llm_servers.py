"""Two LLM servers behind one role (``llm.base_url`` as a list): wall time against the ideal.

Two OpenAI-compatible test servers, each in its own process, each taking CAPACITY requests at a
time (429 beyond) and LATENCY_S per request. The client gets both URLs (max_concurrency = CAPACITY,
which is per server). Ideal wall time = requests x latency / (2 x CAPACITY); the figure of merit is
wall / ideal (target <= 1.15). Also: how the requests split between the servers, 429s received, and a
run where one server is killed (SIGKILL) a third of the way through: every request must still be
answered, by the other server.

    .venv/bin/python -m bench.bench_llm_servers [--requests N] [--repeats R] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import threading
import time

from bench._results import write_section
from ragassets.llm import LLMClient, LLMRequest
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets.llm.providers.pool import OpenAIPool
from ragassets_tests.llm_server import LLMTestServer

N_REQUESTS = 1280
LATENCY_S = 0.2
CAPACITY = 32
REPEATS = 5


def requests(n: int, tag: str) -> list[LLMRequest]:
    return [LLMRequest.chat(f"{tag} request {i}: say something about item {i}.", task="bench") for i in range(n)]


def run(urls: list[str], reqs: list[LLMRequest], on_start=None) -> tuple[float, LLMClient, OpenAIPool]:
    pool = OpenAIPool([OpenAIProvider("bench-model", u, timeout_s=30) for u in urls], max_concurrency=CAPACITY,
                      cooldown_s=1.0)
    client = LLMClient(pool, cache=None, max_concurrency=CAPACITY, max_retries=6, backoff_base_s=0.1,
                       progress_interval_s=3600)
    if on_start:
        on_start()
    t0 = time.perf_counter()
    results = client.run(reqs)
    wall = time.perf_counter() - t0
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0].error}: {failed[0].error_detail}")
    return wall, client, pool


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=N_REQUESTS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args(argv)
    n = args.requests
    ideal = n * LATENCY_S / (2 * CAPACITY)
    load = os.getloadavg()[0]
    walls, shares, got_429 = [], [], 0
    # the same load on ONE server of twice the capacity, plain provider: what this machine allows
    with LLMTestServer.subprocess(latency_s=LATENCY_S, capacity=2 * CAPACITY) as one:
        single = LLMClient(OpenAIProvider("bench-model", one.base_url, timeout_s=30), cache=None,
                           max_concurrency=2 * CAPACITY, progress_interval_s=3600)
        single.run(requests(16, "warmup"))
        single_walls = []
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            assert all(r.ok for r in single.run(requests(n, f"one{rep}")))
            single_walls.append(time.perf_counter() - t0)
    with (
        LLMTestServer.subprocess(latency_s=LATENCY_S, capacity=CAPACITY) as a,
        LLMTestServer.subprocess(latency_s=LATENCY_S, capacity=CAPACITY) as b,
    ):
        urls = [a.base_url, b.base_url]
        run(urls, requests(16, "warmup"))
        for rep in range(args.repeats):
            a.reset()
            b.reset()
            wall, _client, pool = run(urls, requests(n, f"r{rep}"))
            walls.append(wall)
            answered = [s["answered"] for s in pool.server_stats()]
            shares.append(min(answered) / n)
            got_429 += a.stats()["counters"].get("capacity_429", 0) + b.stats()["counters"].get("capacity_429", 0)

        # one server killed a third of the way through
        killed_at: list[float] = []

        def kill_later() -> None:
            time.sleep(ideal / 3)
            os.kill(a.pid, signal.SIGKILL)
            killed_at.append(time.perf_counter())

        killer = threading.Thread(target=kill_later, daemon=True)
        kill_wall, kill_client, kill_pool = run(urls, requests(n, "kill"), on_start=killer.start)
        killer.join(5)
    stats = {s["base_url"]: s for s in kill_pool.server_stats()}
    by_a, by_b = stats[urls[0]]["answered"], stats[urls[1]]["answered"]
    # after the kill only one server is left: ideal = time to the kill + the rest at one server's rate
    t_kill = ideal / 3  # both servers until then, one after
    kill_ideal = t_kill + (n - t_kill * 2 * CAPACITY / LATENCY_S) * LATENCY_S / CAPACITY
    median = statistics.median(walls)
    lines = [
        "## Several LLM servers for one role (`bench_llm_servers`)",
        "",
        (f"Two test servers (own processes), each {CAPACITY} requests at a time and {LATENCY_S:g} s per request; "
        f"the client has both URLs (`llm.base_url` as a list, max_concurrency {CAPACITY} per server). "
        f"{n} requests; ideal = requests x latency / (2 x capacity) = {ideal:.2f} s. {args.repeats} cold runs; "
        f"load average before: {load:.1f}."),
        "",
        "| run | wall s (median) | wall s (best) | ideal s | wall / ideal (median) | smaller server share | 429s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        (f"| two servers | {median:.2f} | {min(walls):.2f} | {ideal:.2f} | **{median / ideal:.3f}** | "
        f"{min(shares):.1%} | {got_429} |"),
        (f"| baseline: one server of capacity {2 * CAPACITY}, one URL | {statistics.median(single_walls):.2f} | "
        f"{min(single_walls):.2f} | {ideal:.2f} | {statistics.median(single_walls) / ideal:.3f} | - | - |"),
        (f"| one server SIGKILLed at {t_kill:.2f} s | {kill_wall:.2f} | - | {kill_ideal:.2f} | "
        f"{kill_wall / kill_ideal:.3f} | killed server answered {by_a}, the other {by_b} | - |"),
        "",
        (f"Target wall / ideal <= 1.15 with two servers: **{'met' if median / ideal <= 1.15 else 'NOT met'}**. "
        f"With one server killed, all {n} requests were answered ({kill_client.last_stats.requests} counted, "
        f"failures {dict(kill_client.last_stats.failures) or 0}); the dead server was set aside "
        f"{stats[urls[0]]['set_aside']} time(s) (probed again after a cooldown that doubles while it stays down)."),
    ]
    if args.no_write:
        print("\n".join(lines))
    else:
        write_section("llm_servers", "\n".join(lines))


if __name__ == "__main__":
    main()
