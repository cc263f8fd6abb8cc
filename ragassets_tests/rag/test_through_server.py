"""Suitability, RAG answers and segments against the OpenAI-compatible test server (real HTTP)."""

from __future__ import annotations

import json

import polars as pl

from ragassets.llm import ChunkVerdict, LLMClient, PromptLibrary, RagAnswer
from ragassets.rag.answers import (
    answer_requests,
    collect_answers,
    context_chunks,
    rag_conversation_rows,
    scaffolding_report,
)
from ragassets.rag.chat_format import default_chat_format
from ragassets.rag.segments import segment_line_problems
from ragassets.rag.simulate import prepare_rag
from ragassets.rag.suitability import (
    SKIPPED_REASON,
    collect_verdicts,
    keep_everything,
    nothing_kept_message,
    suitability_requests,
)
from ragassets.settings import LlmSettings, RagSettings
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.rag.corpus import synthetic_corpus
from ragassets_tests.rag.responders import SERVER_MARK, rag_like, says_not_suitable_in_prose


def _client(srv) -> LLMClient:
    return LLMClient.from_settings(
        LlmSettings(provider="openai", base_url=srv.base_url, model="test-model", max_repairs=1), cache=None
    )


def _chunks() -> pl.DataFrame:
    chunks, _ = synthetic_corpus(n_docs=2, per_doc=5)
    texts = chunks["text"].to_list()
    texts[3] = "Contents 1 2 3"  # too short: the responder calls it not suitable
    return chunks.with_columns(pl.Series("text", texts))


def test_suitability_verdicts_through_the_server() -> None:
    chunks = _chunks()
    seen = []
    with LLMTestServer(responder=lambda b: seen.append(b) or rag_like(b)) as srv:
        table = collect_verdicts("t", chunks, _client(srv).generate_structured(
            suitability_requests(chunks, PromptLibrary()), ChunkVerdict))
    assert table.columns == ["corpus", "chunk_id", "suitable", "reason", "provider", "model"]
    assert table.filter(~pl.col("suitable"))["chunk_id"].to_list() == [chunks["chunk_id"][3]]
    assert table.filter(~pl.col("suitable"))["reason"].to_list() == ["only 4 words"]
    schema = seen[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["verdict"]["enum"] == ["suitable", "not_suitable"]  # an enum, not a word


def test_a_reply_in_words_keeps_nothing_and_says_why() -> None:
    """augmentoolkit looks for "unsuitable" and keeps what the model called "Not suitable"; here a
    reply without the structured verdict is never a keep."""
    chunks = _chunks()
    with LLMTestServer(responder=says_not_suitable_in_prose) as srv:
        table = collect_verdicts("t", chunks, _client(srv).generate_structured(
            suitability_requests(chunks, PromptLibrary()), ChunkVerdict))
    assert not table["suitable"].any()
    assert all(r.startswith("no verdict (parse_error)") for r in table["reason"])
    msg = nothing_kept_message(table)
    assert "kept none of the 10 chunks" in msg and "10 x 'no verdict (parse_error)" in msg
    assert "skip_filter_chunks: true" in msg


def test_skipping_the_filter_keeps_everything() -> None:
    chunks = _chunks()
    table = keep_everything("t", chunks)
    assert table["suitable"].all() and set(table["reason"]) == {SKIPPED_REASON}


def test_rag_answers_and_lines_through_the_server() -> None:
    chunks = _chunks()
    settings = RagSettings(distractors="random", seed=5, num_items_per_group=3)
    prepared = prepare_rag("t", chunks["chunk_id"].to_list(), chunks, settings)
    blocks = context_chunks(chunks)
    seen = []
    with LLMTestServer(responder=lambda b: seen.append(b) or rag_like(b)) as srv:
        client = _client(srv)
        batch = collect_answers(prepared, blocks, client.generate_structured(
            answer_requests(prepared, blocks, PromptLibrary()), RagAnswer))
    assert len(batch.items) == prepared.height and not batch.failures
    # the prompt carried the source and, as the model will see it, the simulated context
    failed = prepared.filter(pl.col("rag_failed")).row(0, named=True)
    prompt = next(b["messages"][-1]["content"] for b in seen
                  if blocks[failed["chunk_id"]].text in b["messages"][-1]["content"].split("Retrieved context")[0])
    assert "retrieval failed" in prompt
    assert all(f"Source: {blocks[c].source}" in prompt for c in failed["context_chunk_ids"])
    fmt = default_chat_format()
    table = rag_conversation_rows("t", batch, fmt, settings.final_assistant_prompts, 3, settings.seed)
    assert table.height == prepared.height
    assert set(table["question"].map_elements(lambda q: q.startswith(SERVER_MARK), return_dtype=pl.Boolean)) == {True}
    for row in table.iter_rows(named=True):
        line = json.loads(row["segments"])
        assert segment_line_problems(line, bos=fmt.bos, known_texts=[b.text for b in blocks.values()]) == []
        msgs = json.loads(row["messages"])
        assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
        assert row["source_chunk_ids"][0] == row["chunk_id"]
        assert set(row["source_chunk_ids"]) == {row["chunk_id"], *row["context_chunk_ids"]}
        assert all(blocks[c].text in msgs[0]["content"] for c in row["context_chunk_ids"])
    n_bad, _ = scaffolding_report(table, {b.chunk_id: b.text for b in blocks.values()})
    assert n_bad == 0
