"""Conversations: planning with related chunks, the requests, validation, and the flow through the
OpenAI-compatible test server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ragassets.conversations import (
    collect_conversations,
    conversation_problems,
    conversation_requests,
    normalize_turns,
    plan_conversations,
    unknown_chunk_ids,
)
from ragassets.conversations.generate import turns_for
from ragassets.llm import ConversationTurn, GeneratedConversation, LLMClient, PromptLibrary
from ragassets.rag.neighbours import ChunkNeighbours
from ragassets.retrieval.index import build_index
from ragassets.settings import ConversationsSettings, LlmSettings
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.rag.corpus import synthetic_corpus
from ragassets_tests.rag.responders import SERVER_MARK, rag_like


@pytest.fixture(scope="module")
def corpus():
    chunks, vectors = synthetic_corpus(n_docs=3, per_doc=6)
    index, _ = build_index(vectors)
    return chunks, ChunkNeighbours(index, chunks["chunk_id"].to_list(), vectors, chunks)


def test_plans_ground_each_conversation_in_its_chunk_and_related_ones(corpus) -> None:
    chunks, nb = corpus
    s = ConversationsSettings(max_chunks=3, related_min_cosine=0.5, min_chunk_words=5)
    related = nb.related(chunks["chunk_id"].to_list(), s.max_chunks - 1, s.related_min_cosine)
    plans = plan_conversations(chunks, related, s)
    by_id = {p.chunk_id: p for p in plans}
    assert by_id["d1c3"].source_chunk_ids == ("d1c3", *(n.chunk_id for n in related["d1c3"]))
    assert set(by_id["d1c3"].source_chunk_ids) == {"d1c3", "d1c2", "d1c4"}
    assert all(1 <= len(p.source_chunk_ids) <= 3 and p.source_chunk_ids[0] == p.chunk_id for p in plans)
    assert {p.n_turns for p in plans} <= {2, 3, 4} and len({p.n_turns for p in plans}) > 1
    assert [p.n_turns for p in plans] == [p.n_turns for p in plan_conversations(chunks, related, s)]
    # nothing related above the cosine: the chunk alone
    alone = plan_conversations(chunks, nb.related(["d0c0"], 2, 0.9999), s)
    assert next(p for p in alone if p.chunk_id == "d0c0").source_chunk_ids == ("d0c0",)
    short = plan_conversations(chunks, {}, ConversationsSettings(min_chunk_words=100))
    assert {p.skip for p in short} == {"chunk_too_short"}
    reqs = conversation_requests(plans[:2], PromptLibrary())
    assert reqs[0].inputs["n_turns"] == plans[0].n_turns
    assert all(p["text"] in reqs[0].messages[-1]["content"] for p in plans[0].passages)


def test_turns_are_seeded_per_chunk() -> None:
    draws = [turns_for(f"c{i}", 0, 2, 4) for i in range(200)]
    assert set(draws) == {2, 3, 4}
    assert draws == [turns_for(f"c{i}", 0, 2, 4) for i in range(200)]
    assert draws != [turns_for(f"c{i}", 1, 2, 4) for i in range(200)]


def _turns(*pairs):
    return [ConversationTurn(role=r, content=c) for r, c in pairs]


def test_normalize_and_validate() -> None:
    msgs, problem = normalize_turns(_turns(("user", " q1 "), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2"),
                                           ("user", "q3")), 4)
    assert problem is None and msgs == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                                        {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    msgs, _ = normalize_turns(_turns(*[("user", "q"), ("assistant", "a")] * 5), 3)
    assert len(msgs) == 6
    _, problem = normalize_turns(_turns(("assistant", "a"), ("user", "q")), 2)
    assert "roles must alternate" in problem
    _, problem = normalize_turns(_turns(("user", "q"), ("assistant", "   ")), 2)
    assert "message 1 is empty" in problem
    assert conversation_problems([{"role": "user", "content": "q"}]) == [
        "the conversation ends with the user: the last question has no answer"]
    assert conversation_problems("x") == ["messages is not a non-empty list"]
    assert unknown_chunk_ids([["a", "b"], ["c"]], {"a", "c"}) == ["b"]


def test_collect_counts_every_outcome() -> None:
    plans = plan_conversations(*_tiny(), ConversationsSettings(min_turns=2, max_turns=2, min_chunk_words=3))
    ok = SimpleNamespace(ok=True, provider="p", model="m", error=None, error_detail=None,
                         value=GeneratedConversation(turns=_turns(("user", "q1"), ("assistant", "a1"),
                                                                  ("user", "q2"), ("assistant", "a2"))))
    short = SimpleNamespace(ok=True, provider="p", model="m", error=None, error_detail=None,
                            value=GeneratedConversation(turns=_turns(("user", "q1"), ("assistant", "a1"))))
    bad = SimpleNamespace(ok=False, provider="p", model="m", error="parse_error", error_detail="no JSON", value=None)
    run = collect_conversations("t", plans, [ok, short, bad], min_turns=2)
    assert run.outcomes == {"ok": 1, "too_short": 1, "parse_failure": 1}
    assert run.table.columns == ["corpus", "conversation_id", "messages", "source_chunk_ids", "n_turns", "provider",
                                 "model"]
    row = run.table.row(0, named=True)
    assert row["n_turns"] == 2 and json.loads(row["messages"])[3]["content"] == "a2"
    assert "fewer than conversations.min_turns" in run.examples["too_short"]


def _tiny():
    import polars as pl

    chunks = pl.DataFrame({"chunk_id": ["a", "b", "c"], "text": ["one two three four"] * 3})
    return chunks, {}


def test_conversations_through_the_server(corpus) -> None:
    chunks, nb = corpus
    s = ConversationsSettings(min_chunk_words=5)
    related = nb.related(chunks["chunk_id"].to_list(), s.max_chunks - 1, s.related_min_cosine)
    plans = plan_conversations(chunks, related, s)
    seen = []
    with LLMTestServer(responder=lambda b: seen.append(b) or rag_like(b)) as srv:
        client = LLMClient.from_settings(LlmSettings(provider="openai", base_url=srv.base_url, model="test-model"),
                                         cache=None)
        results = client.generate_structured(conversation_requests(plans, PromptLibrary()), GeneratedConversation)
    run = collect_conversations("t", plans, results, s.min_turns)
    assert run.table.height == chunks.height and run.outcomes == {"ok": chunks.height}
    text_of = dict(zip(chunks["chunk_id"], chunks["text"]))
    for row in run.table.iter_rows(named=True):
        msgs = json.loads(row["messages"])
        assert conversation_problems(msgs) == []
        assert row["n_turns"] == len(msgs) // 2 == next(p.n_turns for p in plans if p.chunk_id == row["source_chunk_ids"][0])
        assert msgs[0]["content"].startswith(SERVER_MARK)
        assert msgs[1]["content"] in text_of[row["source_chunk_ids"][0]]
        assert row["provider"] == "openai" and row["model"] == "test-model"
    prompt = seen[0]["messages"][-1]["content"]
    assert "Main passage" in prompt and "Related passage" in prompt
    assert len(set(run.table["conversation_id"])) == run.table.height
