"""Conversations from chunks: plan, ask, collect, and account for every chunk.

1. :func:`plan_conversations`: per chunk, the passages the conversation is grounded in (the chunk
   first, then up to ``max_chunks - 1`` related chunks from ``chunk_index`` at or above
   ``related_min_cosine``) and its length, 2 to 4 exchanges by default (drawn per chunk from
   ``seed``, so a re-run asks the same). Chunks too short to talk about are skipped with a reason.
2. :func:`conversation_requests`: one structured ``conversation`` request per planned chunk.
3. :func:`collect_conversations`: parsed answers become rows; turns are normalised (cut to the length
   asked for, a trailing question dropped) and conversations with fewer exchanges than
   ``min_turns``, roles out of order or an empty turn are dropped and counted by reason.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ragassets.conversations.validate import normalize_turns
from ragassets.llm import GeneratedConversation, task_request
from ragassets.rag.ids import stable_id

CONVERSATIONS_SCHEMA = {
    "corpus": pl.String,
    "conversation_id": pl.String,
    "messages": pl.String,  # JSON list of {"role", "content"}
    "source_chunk_ids": pl.List(pl.String),
    "n_turns": pl.Int64,
    "provider": pl.String,
    "model": pl.String,
}


@dataclass(frozen=True)
class ConversationPlan:
    chunk_id: str
    source_chunk_ids: tuple[str, ...]
    passages: tuple[dict[str, str], ...]
    n_turns: int
    skip: str | None = None


def turns_for(chunk_id: str, seed: int, low: int, high: int) -> int:
    """The number of exchanges asked of ``chunk_id``'s conversation (uniform in low..high)."""
    return random.Random(f"turns:{seed}:{chunk_id}").randint(low, high)


def plan_conversations(chunks: pl.DataFrame, related: Mapping[str, Sequence[Any]], settings: Any) -> list[ConversationPlan]:
    """One plan per chunk (``settings``: the ``conversations`` block; ``related``: chunk_id -> its
    related chunks, best first, e.g. from ChunkNeighbours.related)."""
    text_of = dict(zip(chunks["chunk_id"].to_list(), chunks["text"].to_list(), strict=True))
    plans = []
    for cid in chunks["chunk_id"].to_list():
        others = [n.chunk_id for n in related.get(cid, [])][: settings.max_chunks - 1]
        ids = (cid, *others)
        n = turns_for(cid, settings.seed, settings.min_turns, settings.max_turns)
        short = len(text_of[cid].split()) < settings.min_chunk_words
        plans.append(
            ConversationPlan(
                chunk_id=cid,
                source_chunk_ids=ids,
                passages=tuple({"id": f"passage {k}", "text": text_of[c]} for k, c in enumerate(ids, 1)),
                n_turns=n,
                skip="chunk_too_short" if short else None,
            )
        )
    return plans


def conversation_requests(plans: Sequence[ConversationPlan], prompts: Any, params: Any = None) -> list[Any]:
    """One ``conversation`` request per plan that is not skipped, in plan order."""
    return [
        task_request(
            "conversation", prompts, id=p.chunk_id, params=params, passages=list(p.passages), n_turns=p.n_turns
        )
        for p in plans
        if p.skip is None
    ]


@dataclass
class ConversationsRun:
    table: pl.DataFrame
    outcomes: Counter = field(default_factory=Counter)  # reason -> chunks
    examples: dict[str, str] = field(default_factory=dict)  # reason -> one detail
    requests: int = 0

    @property
    def nothing_answered(self) -> bool:
        """Every request failed in transport (the server or the model name is wrong)."""
        transport = sum(v for k, v in self.outcomes.items() if k.startswith("request_failed"))
        return self.requests > 0 and transport == self.requests


def collect_conversations(
    corpus: str, plans: Sequence[ConversationPlan], results: Sequence[Any], min_turns: int
) -> ConversationsRun:
    """The conversations table and, per reason, the chunks without a conversation."""
    asked = [p for p in plans if p.skip is None]
    run = ConversationsRun(table=pl.DataFrame(schema=CONVERSATIONS_SCHEMA), requests=len(asked))
    run.outcomes.update(p.skip for p in plans if p.skip)
    rows = []
    for plan, res in zip(asked, results, strict=True):
        if not res.ok:
            reason = "parse_failure" if res.error in ("parse_error", "schema_mismatch", "truncated") else "request_failed"
            run.outcomes[reason] += 1
            run.examples.setdefault(reason, f"{plan.chunk_id}: {res.error}: {res.error_detail or ''}"[:300])
            continue
        value: GeneratedConversation = res.value
        messages, problem = normalize_turns(value.turns, plan.n_turns)
        if problem is None and len(messages) // 2 < min_turns:
            problem = f"{len(messages) // 2} exchange(s), fewer than conversations.min_turns ({min_turns})"
            reason = "too_short"
        else:
            reason = "malformed"
        if problem is not None:
            run.outcomes[reason] += 1
            run.examples.setdefault(reason, f"{plan.chunk_id}: {problem}"[:300])
            continue
        run.outcomes["ok"] += 1
        blob = json.dumps(messages, ensure_ascii=False)
        rows.append(
            {
                "corpus": corpus,
                "conversation_id": stable_id("conversation", *plan.source_chunk_ids, blob),
                "messages": blob,
                "source_chunk_ids": list(plan.source_chunk_ids),
                "n_turns": len(messages) // 2,
                "provider": res.provider,
                "model": res.model,
            }
        )
    run.table = pl.DataFrame(rows, schema=CONVERSATIONS_SCHEMA)
    return run


def generate_conversations(
    corpus: str,
    chunks: pl.DataFrame,
    neighbours: Any,
    settings: Any,
    client: Any,
    prompts: Any,
    params: Any = None,
    max_repairs: int | None = None,
) -> ConversationsRun:
    """The whole flow for one corpus: related chunks from ``neighbours`` (a ChunkNeighbours), plans,
    one structured request per chunk through ``client``, and the collected conversations."""
    related = neighbours.related(chunks["chunk_id"].to_list(), settings.max_chunks - 1, settings.related_min_cosine) \
        if settings.max_chunks > 1 and chunks.height else {}
    plans = plan_conversations(chunks, related, settings)
    requests = conversation_requests(plans, prompts, params)
    results = client.generate_structured(requests, GeneratedConversation, max_repairs=max_repairs)
    return collect_conversations(corpus, plans, results, settings.min_turns)
