"""Judging throughput on the Apollo 13 Mission Report's questions, through the OpenAI-compatible
test server, and the cost of re-reading the verdicts (a new formatting threshold asks nothing).

1. Questions: the Apollo report chunked with the defaults, questions written by the offline provider
   (the questions flow without embedding dedup), so the judge has a realistic set of pairs.
2. Judging through the test server (its own process, pinned to its own core where possible; it takes
   LATENCY_S per request and CAPACITY at a time, and answers JSON matching the judge's schema):
   ``judge_questions`` end to end (requests with each pair's chunk window, the LLM calls, the
   verdict table). Ideal = requests x latency / concurrency; the figure of merit is wall / ideal
   (target <= 1.1), judged on the median of REPEATS cold runs.
3. A re-run over a warm response cache: sends nothing (this is what a new threshold costs: nothing,
   since ``training_datasets`` reads the verdicts and never asks the judge).

Skips (and says so) when ../shared/corpora/apollo13 is absent.

    .venv/bin/python -m bench.bench_judge [--repeats N] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from bench._results import peak_rss_mb, shared_corpora, write_section

LATENCY_S = 0.1
CAPACITY = 64
REPEATS = 5
MODEL = "bench-judge"


def apollo_questions(folder: Path):
    from bench.bench_questions import load_chunks
    from ragassets.generation.questions import generate_questions
    from ragassets.llm import LLMClient, PromptLibrary
    from ragassets.llm.providers.offline import OfflineProvider

    chunks, settings = load_chunks(folder)
    client = LLMClient(OfflineProvider(), cache=None, progress_interval_s=3600)
    run = generate_questions(chunks, settings.questions, client, PromptLibrary(), "apollo13")
    return chunks, run.questions, settings


def judge_once(base_url: str, chunks, questions, settings, cache=None) -> tuple[float, object, object]:
    from ragassets.judging import judge_questions
    from ragassets.llm import LLMClient, PromptLibrary
    from ragassets.settings import LlmSettings

    llm = LlmSettings(provider="openai", base_url=base_url, model=MODEL, max_concurrency=CAPACITY, timeout_s=30)
    client = LLMClient.from_settings(llm, cache=cache, progress_interval_s=3600)
    judge = settings.judge
    t0 = time.perf_counter()
    run = judge_questions(questions, chunks, client, PromptLibrary(), "apollo13",
                          pass_threshold=judge.pass_threshold, review_threshold=judge.review_threshold,
                          window=judge.window, params=client.sampling(temperature=judge.temperature))
    wall = time.perf_counter() - t0
    if run.failures:
        raise SystemExit(f"judging failed for {sum(run.failures.values())} pairs: {dict(run.failures)}")
    return wall, run, client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="cold runs")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--slow-latency", type=float, default=1.0,
                        help="one more run at this latency, closer to a real model's (0: skip)")
    args = parser.parse_args(argv)
    corpora = shared_corpora()
    folder = corpora / "apollo13" if corpora else None
    if folder is None or not folder.is_dir():
        print("## Judging\n\nSkipped: ../shared/corpora/apollo13 is absent.")
        return

    from bench.bench_llm import cpu_s, pin, unpin
    from ragassets.judging import score_distribution
    from ragassets.llm import ResponseCache
    from ragassets_tests.llm_server import LLMTestServer

    t0 = time.perf_counter()
    chunks, questions, settings = apollo_questions(folder)
    questions_s = time.perf_counter() - t0
    n = questions.height
    ideal = n * LATENCY_S / CAPACITY
    all_cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    walls: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        LLMTestServer.subprocess(latency_s=LATENCY_S, capacity=CAPACITY, models=[MODEL]) as srv,
    ):
        judge_once(srv.base_url, chunks, questions.head(16), settings)  # imports, connections
        placement = pin(srv.pid)
        try:
            sent, client_cpu, server_cpu, loads = [], [], [], []
            for _ in range(args.repeats):
                srv.reset()
                c0, s0 = cpu_s(), cpu_s(srv.pid)
                wall, run, _client = judge_once(srv.base_url, chunks, questions, settings)
                client_cpu.append(cpu_s() - c0)
                server_cpu.append(cpu_s(srv.pid) - s0)
                loads.append(os.getloadavg()[0])
                walls.append(wall)
                sent.append(srv.stats()["chat_requests"])
            cache = ResponseCache(Path(tmp_dir) / "llm_cache.sqlite")
            judge_once(srv.base_url, chunks, questions, settings, cache=cache)
            srv.reset()
            warm_wall, _, _ = judge_once(srv.base_url, chunks, questions, settings, cache=cache)
            warm_sent = srv.stats()["chat_requests"]
        finally:
            if placement:
                unpin(srv.pid, all_cores)
    slow_wall = slow_ideal = None
    if args.slow_latency:
        with LLMTestServer.subprocess(latency_s=args.slow_latency, capacity=CAPACITY, models=[MODEL]) as srv:
            judge_once(srv.base_url, chunks, questions.head(16), settings)
            placement_slow = pin(srv.pid)
            try:
                slow_wall, _, _ = judge_once(srv.base_url, chunks, questions, settings)
            finally:
                if placement_slow:
                    unpin(srv.pid, all_cores)
        slow_ideal = n * args.slow_latency / CAPACITY
    median = statistics.median(walls)
    dist = score_distribution(run.scored["overall"].to_list(), run.scored["verdict"].to_list())
    lines = [
        "## Judging (Apollo 13 Mission Report)",
        "",
        (f"{chunks.height} chunks, {n} questions written by the offline provider ({questions_s:.1f} s), each judged "
         f"with its chunk window through the test server ({LATENCY_S * 1000:.0f} ms/request, {CAPACITY} at a time, "
         f"JSON answers matching the rubric's schema; {placement or 'server and client share the cores'})."),
        "",
        ("| run | pairs | sent | wall s (median) | wall s (best) | ideal s | wall / ideal (median) | wall / ideal "
         "(best) | pairs/s | client CPU ms/pair | server CPU ms/pair |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
        (f"| judge_questions, {args.repeats} cold runs | {n} | {max(sent)} | {median:.3f} | {min(walls):.3f} | "
         f"{ideal:.3f} | **{median / ideal:.3f}** | {min(walls) / ideal:.3f} | {n / median:,.0f} | "
         f"{statistics.median(client_cpu) / n * 1000:.2f} | {statistics.median(server_cpu) / n * 1000:.2f} |"),
        *([(f"| judge_questions at {args.slow_latency * 1000:.0f} ms/request (nearer a real model), one run | {n} | {n} | "
            f"{slow_wall:.3f} | - | {slow_ideal:.3f} | **{slow_wall / slow_ideal:.3f}** | - | {n / slow_wall:,.0f} | - | - |")]
          if slow_wall else []),
        (f"| the same over a warm response cache | {n} | {warm_sent} | {warm_wall:.3f} | - | 0 | - | - | "
         f"{n / warm_wall:,.0f} | - | - |"),
        "",
        (f"Ideal = pairs x latency / concurrency; wall covers the whole of `judge_questions` (windows, "
         f"{n} requests rendered while the first ones are out, the calls, the verdict table). Target wall / ideal "
         f"<= 1.1: {'met' if median / ideal <= 1.1 else 'NOT met'} at {LATENCY_S * 1000:.0f} ms"
         + (f", {'met' if slow_wall / slow_ideal <= 1.1 else 'NOT met'} at {args.slow_latency * 1000:.0f} ms"
            if slow_wall else "")
         + f"; at {LATENCY_S * 1000:.0f} ms each pair's half millisecond of client and server CPU, paid while a "
         f"round of {CAPACITY} answers waits, is a tenth of the latency (load average {statistics.median(loads):.1f} on "
         f"{os.cpu_count()} cores during the cold runs; the CPU columns show what one pair costs). The warm re-run sent {warm_sent} requests: a new "
         f"formatting threshold re-reads `scored_qa` and never asks the judge. Verdicts from the schema-filling "
         f"test server are arbitrary ({dist.verdicts}); they only prove the parse path. Peak RSS "
         f"{peak_rss_mb():.0f} MiB."),
    ]
    md = "\n".join(lines)
    if args.no_write:
        print(md)
    else:
        write_section("judge", md)


if __name__ == "__main__":
    main()
