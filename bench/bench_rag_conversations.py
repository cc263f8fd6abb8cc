"""RAG conversations on the Apollo 13 Mission Report through the LLM test server.

1. Hard negatives: the chunks are embedded (MiniLM) into an exact FAISS index, as chunk_index does;
   the cost of selecting each item's nearest non-adjacent chunks (one batched search) and of the whole
   seeded simulation, per item, with hard negatives and with random distractors.
2. The rag_conversations flow through the OpenAI-compatible test server in its own process (pinned
   to its own core where possible, as an LLM server runs on its own machine): a model-like responder
   that takes LATENCY_S per request, MAX_CONCURRENCY in flight. Ideal = requests x latency /
   concurrency (as for the LLM layer and questions); the target is wall / ideal <= 1.1, judged on the
   median of REPEATS cold runs (fresh client, no cache).

Skips (and says so) when ../shared/corpora/apollo13 is absent.

    .venv/bin/python -m bench.bench_rag_conversations
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from contextlib import contextmanager

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from bench._results import peak_rss_mb, shared_corpora, write_section

LATENCY_S = 0.1
MAX_CONCURRENCY = 32
REPEATS = 3


def _serve(conn, latency_s: float) -> None:
    """Child process: the test server answering our RAG prompts; reports its port, waits for stop."""
    from ragassets_tests.llm_server import LLMTestServer
    from ragassets_tests.rag.responders import rag_like

    with LLMTestServer(latency_s=latency_s, responder=rag_like) as srv:
        conn.send(srv.port)
        conn.recv()
    conn.close()


@contextmanager
def server_process(latency_s: float):
    """(base_url, pinning note): the server in a process of its own, on its own core when there are two."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, latency_s), daemon=True)
    proc.start()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    note = "server and client share the cores"
    try:
        if not parent.poll(60):
            raise RuntimeError("the test server process did not report a port within 60 s")
        port = parent.recv()
        if len(cores) >= 2:
            os.sched_setaffinity(proc.pid, {cores[-1]})
            os.sched_setaffinity(0, set(cores[:-1]))
            note = f"server on core {cores[-1]}, client on {','.join(map(str, cores[:-1]))}"
        yield f"http://127.0.0.1:{port}/v1", note
    finally:
        if cores:
            os.sched_setaffinity(0, set(cores))
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=None, help="use only the first N chunks (a smoke run)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    parser.add_argument("--slow-latency", type=float, default=1.0,
                        help="one more run at this latency, closer to a real model's (0: skip)")
    args = parser.parse_args(argv)
    publish = print if args.no_write else lambda md: write_section("rag_conversations", md)
    corpora = shared_corpora()
    folder = corpora / "apollo13" if corpora else None
    if folder is None or not folder.is_dir():
        publish("## RAG conversations\n\nSkipped: ../shared/corpora/apollo13 is absent.")
        return

    from bench.bench_questions import load_chunks
    from ragassets import paths
    from ragassets.embed.cache import CacheStats, EmbeddingCache, embed_documents_cached
    from ragassets.embed.providers import MiniLMEmbedder
    from ragassets.llm import LLMClient, LLMRequest, PromptLibrary, RagAnswer
    from ragassets.rag.answers import (
        answer_requests,
        collect_answers,
        context_chunks,
        iter_answer_requests,
        rag_conversation_rows,
    )
    from ragassets.rag.chat_format import default_chat_format
    from ragassets.rag.neighbours import ChunkNeighbours
    from ragassets.rag.simulate import prepare_rag
    from ragassets.retrieval.index import build_index
    from ragassets.settings import LlmSettings, RagSettings

    chunks, _ = load_chunks(folder)
    if args.chunks:
        chunks = chunks.head(args.chunks)
    ids = chunks["chunk_id"].to_list()
    t0 = time.perf_counter()
    cache_stats = CacheStats()  # the data root's embedding cache: a re-run embeds nothing
    vectors = embed_documents_cached(MiniLMEmbedder(), chunks["text"].to_list(),
                                     EmbeddingCache.under(paths.data_root()), cache_stats)
    embed_s = time.perf_counter() - t0
    index, _ = build_index(vectors)

    # 1. hard negatives and the simulation
    hard = RagSettings(distractors="hard_negative", seed=0)
    neg_walls, sim_walls, rand_walls = [], [], []
    for _ in range(args.repeats):
        nb = ChunkNeighbours(index, ids, vectors, chunks)
        t0 = time.perf_counter()
        nb.hard_negatives(ids, hard.rag_max_chunks)
        neg_walls.append(time.perf_counter() - t0)
        nb = ChunkNeighbours(index, ids, vectors, chunks)
        t0 = time.perf_counter()
        prepared = prepare_rag("apollo13", ids, chunks, hard, hard_negatives=nb.hard_negatives)
        sim_walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        prepare_rag("apollo13", ids, chunks, RagSettings(distractors="random", seed=0))
        rand_walls.append(time.perf_counter() - t0)
    n_items = prepared.height
    fmt = default_chat_format()

    # 2. rag_conversations through the test server, phase by phase
    blocks = context_chunks(chunks)
    prompts = PromptLibrary()

    def flow(client, prepared):
        t0 = time.perf_counter()
        # as the stage does it: the requests are rendered while the first ones are out
        results = client.generate_structured(iter_answer_requests(prepared, blocks, prompts), RagAnswer)
        t2 = time.perf_counter()
        batch = collect_answers(prepared, blocks, results)
        table = rag_conversation_rows("apollo13", batch, fmt, hard.final_assistant_prompts,
                                      hard.num_items_per_group, hard.seed)
        t3 = time.perf_counter()
        if batch.failures:
            raise SystemExit(f"requests failed: {dict(batch.failures)}")
        return {"llm": t2 - t0, "lines": t3 - t2, "wall": t3 - t0, "n": table.height}

    def client_for(base_url):
        llm = LlmSettings(provider="openai", base_url=base_url, model="bench-model", max_concurrency=MAX_CONCURRENCY,
                          timeout_s=30)
        return LLMClient.from_settings(llm, cache=None, progress_interval_s=3600)

    runs, slow = [], None
    stage_requests = answer_requests(prepared, blocks, prompts)
    with server_process(LATENCY_S) as (base_url, pinning):
        flow(client_for(base_url), prepared.head(8))  # warm up
        baseline, same = [], []
        for rep in range(args.repeats):
            runs.append(flow(client_for(base_url), prepared))
            # the LLM layer alone in the same conditions: as many trivial requests through a fresh client
            reqs = [LLMRequest.chat(f"baseline {rep} {i}") for i in range(prepared.height)]
            t0 = time.perf_counter()
            client_for(base_url).run(reqs)
            baseline.append(time.perf_counter() - t0)
            # and the stage's own requests, built beforehand, through the bare client (no parsing, no lines)
            t0 = time.perf_counter()
            client_for(base_url).run(stage_requests)
            same.append(time.perf_counter() - t0)
    if args.slow_latency:
        with server_process(args.slow_latency) as (base_url, _):
            flow(client_for(base_url), prepared.head(8))
            slow = flow(client_for(base_url), prepared)
    walls = [r["wall"] for r in runs]
    lines = runs[0]["n"]
    mid = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    ideal = n_items * LATENCY_S / MAX_CONCURRENCY
    slow_ideal = n_items * args.slow_latency / MAX_CONCURRENCY
    ratio = statistics.median(walls) / ideal
    per_item_us = statistics.median(neg_walls) / n_items * 1e6
    md = "\n".join([
        "## RAG conversations (Apollo 13 Mission Report, `bench/bench_rag_conversations.py`)",
        "",
        (f"{chunks.height} chunks (default chunking), MiniLM vectors ({embed_s:.1f} s, {cache_stats.hits} from the "
         f"embedding cache), exact FAISS index; "
         f"every chunk kept (filter skipped), rag_max_chunks {hard.rag_max_chunks}, failure share "
         f"{prepared['rag_failed'].mean():.2f} (setting {hard.rag_failure_percentage}). Median of {args.repeats} runs."),
        "",
        "| step | items | wall s | per item |",
        "|---|---:|---:|---:|",
        (f"| hard negatives (one batched search, chunk and neighbours left out) | {n_items} | "
         f"{statistics.median(neg_walls):.4f} | **{per_item_us:.0f} µs** |"),
        (f"| simulation, hard negatives | {n_items} | {statistics.median(sim_walls):.4f} | "
         f"{statistics.median(sim_walls) / n_items * 1e6:.0f} µs |"),
        (f"| simulation, random distractors | {n_items} | {statistics.median(rand_walls):.4f} | "
         f"{statistics.median(rand_walls) / n_items * 1e6:.0f} µs |"),
        "",
        ("| rag_conversations through the test server | requests | lines | requests + LLM s | group + segments s "
         "| wall s | ideal s | wall / ideal |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        (f"| {LATENCY_S * 1000:.0f} ms/request, {MAX_CONCURRENCY} in flight ({pinning}) | {n_items} | {lines} | "
         f"{mid['llm']:.2f} | {mid['lines']:.2f} | {statistics.median(walls):.2f} | {ideal:.2f} "
         f"| **{ratio:.2f}** |"),
        (f"| the LLM client alone, the stage's {n_items} requests built beforehand, no parsing | {n_items} | - | - | "
         f"- | {statistics.median(same):.2f} | {ideal:.2f} | {statistics.median(same) / ideal:.2f} |"),
        (f"| the LLM client alone, {n_items} trivial requests | {n_items} | - | - | "
         f"- | {statistics.median(baseline):.2f} | {ideal:.2f} | {statistics.median(baseline) / ideal:.2f} |"),
        *([(f"| {args.slow_latency * 1000:.0f} ms/request (nearer a real model), {MAX_CONCURRENCY} in flight, one run | "
            f"{n_items} | {slow['n']} | {slow['llm']:.2f} | {slow['lines']:.2f} | {slow['wall']:.2f} | {slow_ideal:.2f} | "
            f"**{slow['wall'] / slow_ideal:.3f}** |")] if slow else []),
        "",
        (f"Wall = the whole flow as the stage runs it: requests rendered while the first ones are out (Jinja, JSON "
         f"schema), the LLM calls with parsing, then grouping and rendering the segments; walls "
         f"{', '.join(f'{w:.2f}' for w in walls)} s. At {LATENCY_S * 1000:.0f} ms the LLM client alone is "
         f"{statistics.median(same) / ideal:.2f}x ideal with these requests ({statistics.median(baseline) / ideal:.2f}x "
         f"with trivial ones): each request costs the client and the test server about half a millisecond of CPU, "
         f"and a round of {MAX_CONCURRENCY} answers arriving together waits for it; the stage's own work (parsing, "
         f"grouping, segments) adds {(statistics.median(walls) - statistics.median(same)) / ideal:.2f}x. "
         f"Target wall / ideal <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'} at {LATENCY_S * 1000:.0f} ms"
         + (f"; {'met' if slow['wall'] / slow_ideal <= 1.1 else 'NOT met'} at {args.slow_latency * 1000:.0f} ms" if slow else "")
         + f". Load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. "
         f"Peak RSS {peak_rss_mb():.0f} MiB."),
    ])
    publish(md)


if __name__ == "__main__":
    main()
