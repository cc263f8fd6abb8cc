"""The figures behind the checks, on hand-made cases with the real offline embedder and FAISS."""

import json

import polars as pl
import pytest

from ragassets.generation.evaluation import (
    evaluate_coverage,
    evaluate_fidelity,
    evaluate_grounding,
    evaluate_paraphrase_retrieval,
    invalid_difficulties,
    unknown_chunk_refs,
)
from ragassets.retrieval.index import build_index, write_index_artifact

CHUNKS = pl.DataFrame(
    {
        "chunk_id": ["launch", "tank", "splash", "dup"],
        "doc_id": ["d", "d", "d", "d"],
        "seq": [0, 1, 2, 3],
        "text": [
            "Apollo 13 lifted off from Kennedy Space Center on April 11, 1970, at 13:13 local time.",
            "Fifty-six hours into the flight, oxygen tank number 2 exploded in the service module.",
            "The command module Odyssey splashed down in the Pacific Ocean near Samoa on April 17.",
            "The command module Odyssey splashed down in the Pacific Ocean near Samoa on April 17.",
        ],
    }
)


@pytest.fixture
def chunk_index_dir(tmp_path, minilm):
    index, info = build_index(minilm.embed_documents(CHUNKS["text"].to_list()))
    write_index_artifact(tmp_path / "chunk_index", index, CHUNKS["chunk_id"].to_list(), minilm.spec(), info)
    return tmp_path / "chunk_index"


def test_retrieval_numbers_on_a_hand_made_case(chunk_index_dir):
    paraphrases = pl.DataFrame(
        {
            "paraphrase_id": ["p1", "p2", "p3", "p4"],
            "chunk_id": ["launch", "tank", "splash", "launch"],
            "text": [
                "On April 11, 1970 at 13:13 local time, Apollo 13 launched from Kennedy Space Center.",
                "In the service module, oxygen tank 2 blew up 56 hours after launch.",
                # found as 'dup', which has the same text as 'splash': counts as the original
                "Near Samoa, on April 17, Odyssey, the command module, landed in the Pacific.",
                # labelled 'launch' but it is the tank chunk's text: the original is not first
                "Fifty-six hours into the flight, oxygen tank number 2 exploded in the service module.",
            ],
        }
    )
    ev = evaluate_paraphrase_retrieval(chunk_index_dir, paraphrases, CHUNKS, depth=10)
    assert ev.recall.k_max == 4  # depth cut to the index size
    assert ev.recall.ranks[:3] == [1, 1, 1]
    assert ev.recall.ranks[3] is not None and ev.recall.ranks[3] > 1
    assert ev.recall_at_1 == 0.75
    assert ev.recall_at_5 == 1.0  # recall@4 for a four-chunk index
    assert ev.indexed == 4 and ev.embedder.startswith("minilm:")
    assert ev.missed == [{"paraphrase_id": "p4", "chunk_id": "launch", "rank": ev.recall.ranks[3]}]


def test_retrieval_sample_limits_the_queries(chunk_index_dir):
    paraphrases = pl.DataFrame({"paraphrase_id": [f"p{i}" for i in range(4)], "chunk_id": CHUNKS["chunk_id"],
                                "text": CHUNKS["text"]})
    ev = evaluate_paraphrase_retrieval(chunk_index_dir, paraphrases, CHUNKS, sample=2)
    assert ev.recall.n == 2 and ev.recall_at_1 == 1.0


def test_fidelity_flags_copies_and_drift(minilm):
    paraphrases = pl.DataFrame(
        {
            "paraphrase_id": ["copy", "good", "drift", "orphan"],
            "chunk_id": ["launch", "tank", "splash", "gone"],
            "text": [
                CHUNKS["text"][0],
                "The service module's oxygen tank 2 exploded 56 hours into the mission.",
                "Bake the bread at 220 degrees for forty minutes until golden.",
                "whatever",
            ],
        }
    )
    ev = evaluate_fidelity(paraphrases, CHUNKS, minilm.embed_documents, (0.6, 0.995))
    assert ev.orphans == 1 and ev.report.n == 3
    assert (ev.report.too_close, ev.report.too_far) == (1, 1)
    assert {e["paraphrase_id"]: e["kind"] for e in ev.examples} == {"copy": "copy", "drift": "drifted"}


def _questions(rows):
    return pl.DataFrame(rows, schema=["question_id", "chunk_id", "question", "answer", "difficulty"], orient="row")


def test_grounding_check_fails_on_an_ungrounded_answer(minilm):
    q = _questions([
        ("q1", "tank", "When did the tank fail?", "Fifty-six hours into the flight", "easy"),
        ("q2", "tank", "Where did Apollo 13 launch from?", "Kennedy Space Center", "medium"),  # in the window
        ("q3", "splash", "Who commanded the mission?", "Neil Armstrong, on his second Mars mission", "hard"),
    ])
    ev = evaluate_grounding(q, CHUNKS, window=1, min_overlap=0.6, min_cosine=0.7, embed=minilm.embed_documents)
    assert ev.result.grounded == [True, True, False]
    assert ev.share == pytest.approx(2 / 3)
    assert [e["question_id"] for e in ev.examples] == ["q3"]
    # without the window, the launch answer is not in the tank chunk
    alone = evaluate_grounding(q, CHUNKS, window=0, min_overlap=0.6, min_cosine=0.95, embed=None)
    assert alone.result.grounded == [True, False, False]


def test_reference_and_difficulty_problems():
    q = _questions([("q1", "tank", "a?", "b", "easy"), ("q2", "nowhere", "c?", "d", "expert")])
    assert unknown_chunk_refs(q, CHUNKS) == ["nowhere"]
    assert invalid_difficulties(q) == {"expert": 1}


def test_coverage_gives_the_reason_for_every_chunk_without_questions():
    q = _questions([("q1", "launch", "a?", "b", "easy")])
    outcomes = pl.DataFrame(
        {
            "chunk_id": ["launch", "tank", "splash"],
            "status": ["ok", "parse_failure", "dedup"],
            "error": [None, "parse_error", None],
            "detail": [None, "no JSON object found", None],
            "dropped": ["[]", "[]", json.dumps([{"reason": "near_duplicate"}])],
        }
    )
    ev = evaluate_coverage(q, outcomes, CHUNKS)
    assert (ev.chunks, ev.covered, ev.coverage) == (4, 1, 0.25)
    assert ev.reasons["parse_failure"] == 1 and ev.reasons["dedup"] == 1 and ev.reasons["unaccounted"] == 1
    assert ev.examples["parse_failure"][0]["detail"] == "no JSON object found"
    assert ev.examples["dedup"][0]["dropped"] == ["near_duplicate"]
