"""Paraphrase retrieval baseline and question throughput on the Apollo 13 Mission Report.

1. recall@1 / recall@5 / MRR of paraphrase -> original chunk: every chunk is paraphrased by the
   offline paraphraser, embedded by the offline embedder (MiniLM) and searched against the FAISS
   index of the chunks; also the fidelity band figures of the same pairs.
2. questions/s with the offline provider: the questions flow (windows, requests, parsing, filters)
   with and without embedding dedup.
3. questions/s through the OpenAI-compatible test server (its own process; a model-like responder
   that takes LATENCY_S per request; MAX_CONCURRENCY in flight). The ideal wall time, as in the LLM
   layer's benchmark, is requests x latency / concurrency; the figure of merit is wall / ideal.

Skips (and says so) when ../shared/corpora/apollo13 is absent.

    .venv/bin/python -m bench.bench_questions
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from bench._results import peak_rss_mb, shared_corpora, write_section

LATENCY_S = 0.1
MAX_CONCURRENCY = 32


def _serve(conn, latency_s: float) -> None:
    """Child process: the test server with the model-like responder; reports its port, waits for stop."""
    from ragassets_tests.generation.responders import model_like
    from ragassets_tests.llm_server import LLMTestServer

    with LLMTestServer(latency_s=latency_s, responder=model_like) as srv:
        conn.send(srv.port)
        conn.recv()  # any message: stop
    conn.close()


@contextmanager
def server_process(latency_s: float):
    """The test server in a process of its own (so it does not share this process's GIL)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, latency_s), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the test server process did not report a port within 60 s")
        yield f"http://127.0.0.1:{parent.recv()}/v1"
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def load_chunks(folder: Path):
    from ragassets.defs.documents.assets import documents_frame
    from ragassets.embed.minilm import minilm_model_path
    from ragassets.ingest.corpus import ingest_corpus
    from ragassets.settings import Settings
    from ragassets.text.chunking import Chunker, chunk_frame
    from ragassets.text.tokens import load_token_counter

    s = Settings()
    docs = documents_frame("apollo13", ingest_corpus(folder, s.documents))
    chunker = Chunker(load_token_counter(minilm_model_path()), s.chunks.chunk_size, s.chunks.chunk_overlap)
    return chunk_frame(docs, chunker), s


def _row(name: str, r: dict[str, float], ideal_s: float | None = None) -> str:
    ratio = f"**{r['wall_s'] / ideal_s:.2f}**" if ideal_s else "-"
    return (f"| {name} | {r['requests']} | {r['questions']} | {r['build_s']:.2f} | {r['llm_s']:.2f} | "
            f"{r['collect_s']:.2f} | {r['wall_s']:.2f} | {r['questions'] / r['wall_s']:,.1f} | {ratio} |")


def timed_questions(chunks, qs, client, prompts, embed=None) -> dict[str, float]:
    """The questions flow phase by phase: building requests (templates, schemas), the LLM calls
    (parsing and repairs included), and collecting + dedup."""
    from ragassets.generation.questions import (
        apply_dedup,
        collect_questions,
        plan_questions,
        question_requests,
    )
    from ragassets.llm import GeneratedQuestions

    t0 = time.perf_counter()
    plans = plan_questions(chunks, qs)
    reqs = question_requests(plans, prompts)
    t1 = time.perf_counter()
    results = client.generate_structured(reqs, GeneratedQuestions)
    t2 = time.perf_counter()
    batch = collect_questions(plans, results, qs, "apollo13")
    apply_dedup(batch, qs.dedup_cosine, embed)
    t3 = time.perf_counter()
    return {"requests": len(reqs), "questions": len(batch.rows), "build_s": t1 - t0, "llm_s": t2 - t1,
            "collect_s": t3 - t2, "wall_s": t3 - t0}


def main() -> None:
    corpora = shared_corpora()
    folder = corpora / "apollo13" if corpora else None
    if folder is None or not folder.is_dir():
        msg = "## Questions and paraphrases\n\nSkipped: ../shared/corpora/apollo13 is absent."
        print(msg)
        return

    from ragassets.embed.providers import MiniLMEmbedder
    from ragassets.generation.paraphrase import fidelity_report, generate_paraphrases, pair_cosines
    from ragassets.generation.recall import same_text_groups, search_recall
    from ragassets.llm import LLMClient, PromptLibrary
    from ragassets.llm.providers.offline import OfflineProvider
    from ragassets.retrieval.index import build_index
    from ragassets.settings import LlmSettings

    chunks, settings = load_chunks(folder)
    prompts = PromptLibrary()
    embedder = MiniLMEmbedder()

    # 1. paraphrase -> original retrieval baseline
    t0 = time.perf_counter()
    chunk_vecs = embedder.embed_documents(chunks["text"].to_list())
    embed_chunks_s = time.perf_counter() - t0
    index, _ = build_index(chunk_vecs)
    t0 = time.perf_counter()
    para = generate_paraphrases(chunks, 1, LLMClient(OfflineProvider(), cache=None), prompts, "apollo13").table
    para_s = time.perf_counter() - t0
    para_vecs = embedder.embed_queries(para["text"].to_list())
    ids = chunks["chunk_id"].to_list()
    recall = search_recall(index, ids, para_vecs, para["chunk_id"].to_list(), 10,
                           same_text_groups(ids, chunks["text"].to_list()))
    by_id = dict(zip(ids, range(len(ids))))
    cos = pair_cosines(chunk_vecs[[by_id[c] for c in para["chunk_id"]]], para_vecs)
    fid = fidelity_report(cos, settings.paraphrase.fidelity_band)

    # 2. questions/s, offline provider
    qs = settings.questions
    offline = LLMClient(OfflineProvider(), cache=None, progress_interval_s=3600)
    off = timed_questions(chunks, qs, offline, prompts)
    off_dd = timed_questions(chunks, qs, offline, prompts, embed=lambda t: embedder.embed_documents(t))

    # 3. questions/s through the test server
    with server_process(LATENCY_S) as base_url:
        llm = LlmSettings(provider="openai", base_url=base_url, model="bench-model", max_concurrency=MAX_CONCURRENCY,
                          timeout_s=30)
        warm = LLMClient.from_settings(llm, cache=None, progress_interval_s=3600)
        timed_questions(chunks.head(8), qs, warm, prompts)  # connections, imports
        client = LLMClient.from_settings(llm, cache=None, progress_interval_s=3600)
        srv = timed_questions(chunks, qs, client, prompts)
    n_req, srv_q = srv["requests"], srv["questions"]
    ideal_s = n_req * LATENCY_S / MAX_CONCURRENCY

    per_request = srv_q / max(n_req, 1)
    lines = [
        "## Questions and paraphrases (Apollo 13 Mission Report)",
        "",
        (f"{chunks.height} chunks (default chunking, MiniLM tokenizer); offline paraphraser, MiniLM embedder "
         f"(chunks embedded in {embed_chunks_s:.1f} s), exact FAISS index."),
        "",
        "| paraphrase -> original | value |",
        "|---|---|",
        f"| paraphrases searched | {recall.n} |",
        f"| recall@1 | **{recall.recall_at(1):.3f}** |",
        f"| recall@5 | **{recall.recall_at(5):.3f}** |",
        f"| recall@10 | {recall.recall_at(10):.3f} |",
        f"| MRR | {recall.mrr:.3f} |",
        f"| cosine(original, paraphrase) mean / median | {fid.mean:.3f} / {fid.median:.3f} |",
        (f"| outside the fidelity band {list(fid.band)} | {fid.share_outside:.1%} "
         f"({fid.too_close} copies, {fid.too_far} drifted) |"),
        f"| offline paraphrasing | {para.height / para_s:,.0f} paraphrases/s |",
        "",
        "| questions | requests | questions | build s | LLM s | collect+dedup s | wall s | questions/s | wall / ideal |",
        "|---|---|---|---|---|---|---|---|---|",
        _row("offline provider, text dedup", off),
        _row("offline provider, + MiniLM embedding dedup", off_dd),
        _row(f"test server ({LATENCY_S * 1000:.0f} ms/request, {MAX_CONCURRENCY} in flight)", srv, ideal_s),
        "",
        (f"LLM phase alone through the test server: {srv['llm_s']:.2f} s, ideal {ideal_s:.2f} s, "
         f"**{srv['llm_s'] / ideal_s:.2f}x** ideal; building the {n_req} requests (Jinja render, JSON schema) took "
         f"{srv['build_s']:.2f} s before the first was sent."),
        "",
        (f"Ideal = requests x latency / concurrency (as in the LLM layer's benchmark), i.e. "
         f"{MAX_CONCURRENCY / LATENCY_S * per_request:,.0f} questions/s at {per_request:.2f} questions per request. "
         "Offline questions per chunk are bounded by the facts (dates, numbers, names) a chunk holds; chunks "
         f"without any get none. Peak RSS {peak_rss_mb():.0f} MiB."),
    ]
    md = "\n".join(lines)
    write_section("questions", md)


if __name__ == "__main__":
    main()
