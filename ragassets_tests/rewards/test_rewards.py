"""Reward functions on hand-made completions: TRL's signature, None where a function cannot score."""

import polars as pl
import pytest

from ragassets.embed.cache import EmbeddingCache
from ragassets.rewards import (
    answer_correctness,
    completion_text,
    format_reward,
    normalize_answer,
    retrieval_reward,
    token_f1,
)

TEXTS = [
    "The number 2 oxygen tank in the service module failed at about 56 hours into the mission.",
    "The crew used the lunar module as a lifeboat during the return to earth.",
    "Carbon dioxide was removed with adapted lithium hydroxide cartridges from the command module.",
    "The spacecraft splashed down in the Pacific Ocean near Samoa on April 17, 1970.",
]


def _chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_answer_normal_form_and_token_f1():
    assert normalize_answer("The  Lunar Module!") == "lunar module"
    assert token_f1("the lunar module", "Lunar module") == 1.0
    assert token_f1("lunar module lifeboat", "lunar module") == pytest.approx(0.8)
    assert token_f1("", "x") == 0.0 and token_f1("nothing shared", "lunar module") == 0.0


def test_answer_correctness_exact_partial_wrong_and_unscorable():
    completions = [
        "It was used as a lifeboat.\n<answer>The lunar module</answer>",  # exact after normalising
        _chat("<answer>lunar module lifeboat</answer>"),  # conversational, partial
        "<answer>the command module</answer>",  # one word of two right
        "I think it was the Moon",  # no tag: the last line is the answer
        "<answer>anything</answer>",  # a retrieval row: not scored here
        "<answer>x</answer>",  # a qa row without reference answer: not scored
    ]
    scores = answer_correctness(
        [None] * 6,
        completions,
        answer=["lunar module", "lunar module", "lunar module", "the Moon", None, None],
        task=["qa", "qa", "qa", "qa", "retrieval", "qa"],
    )
    assert scores[0] == 1.0
    assert scores[1] == pytest.approx(0.8)
    assert scores[2] == pytest.approx(0.5)
    assert scores[3] == pytest.approx(2 * (1 / 5) * 1 / (1 / 5 + 1))  # "i think it was moon" vs "moon"
    assert scores[4] is None and scores[5] is None


def test_format_reward_per_task():
    scores = format_reward(
        [None] * 6,
        ["thinking...\n<answer>42</answer>", "<answer>42</answer> and more text", "42", "<query>oxygen tank</query>",
         "<answer>oxygen tank</answer>", "<answer></answer>"],
        task=["qa", "qa", "qa", "retrieval", "retrieval", "qa"],
    )
    assert scores == [1.0, 0.5, 0.0, 1.0, 0.0, 0.0]
    assert format_reward([None], ["<answer>a</answer><answer>b</answer>"], task=["qa"]) == [0.5]
    assert format_reward([None], ["<query>x</query>"], task=["unknown"]) == [None]
    assert format_reward([None], ["<query>x</query>"]) == [1.0]  # no task column: either tag counts


def test_completion_text_forms():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "a"}]) == "a"
    assert completion_text({"role": "assistant", "content": "b"}) == "b"


def test_column_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="column 'answer' has 1 values for 2 completions"):
        answer_correctness([None, None], ["a", "b"], answer=["a"])


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    from ragassets.embed.providers import MiniLMEmbedder
    from ragassets.retrieval import Retriever
    from ragassets.retrieval.build import build_chunk_index

    n = len(TEXTS)
    chunks = pl.DataFrame({
        "corpus": ["apollo"] * n, "chunk_id": [f"c{i}" for i in range(n)], "doc_id": ["d"] * n,
        "seq": list(range(n)), "heading_path": [["Report"]] * n, "text": TEXTS,
    })
    embedder = MiniLMEmbedder(batch_size=16)
    built = build_chunk_index("apollo", chunks, embedder, EmbeddingCache(tmp_path_factory.mktemp("c") / "e.sqlite"))
    return Retriever(built.index, built.ids, chunks, embedder)


def test_retrieval_reward_is_the_reciprocal_rank_of_the_original_chunk(retriever):
    reward = retrieval_reward(retriever, k=3)
    assert reward.__name__ == "retrieval_reward"  # TRL logs it under this name
    completions = [
        "<query>lithium hydroxide cartridges carbon dioxide</query>",  # finds c2 first
        _chat("splashdown Pacific Samoa"),  # no tag: the whole reply is the query
        "<query>lithium hydroxide cartridges carbon dioxide</query>",  # ... but the original was c3
        "<query>   </query>",  # empty query: nothing found
        "<answer>oxygen</answer>",  # a qa row
    ]
    scores = reward(
        [None] * 5, completions, chunk_id=["c2", "c3", "c3", "c0", "c0"],
        task=["retrieval", "retrieval", "retrieval", "retrieval", "qa"],
    )
    assert scores[0] == 1.0 and scores[1] == 1.0
    assert scores[2] in (0.0, 0.5, 1 / 3) and scores[2] < 1.0
    assert scores[3] == 0.0 and scores[4] is None
    hits = retriever.search("lithium hydroxide cartridges carbon dioxide", k=3)
    rank = [h.chunk_id for h in hits].index("c3") + 1 if "c3" in [h.chunk_id for h in hits] else None
    assert scores[2] == (1 / rank if rank else 0.0)
    with pytest.raises(ValueError, match="k must be positive"):
        retrieval_reward(retriever, k=0)
