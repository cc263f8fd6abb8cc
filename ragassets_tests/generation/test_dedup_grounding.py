"""Question dedup (text and embedding) and answer grounding."""

import numpy as np
import pytest

from ragassets.generation.dedup import EXACT, NEAR, dedup_questions
from ragassets.generation.grounding import grounding, token_overlap


def _unit(*rows):
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_normalised_duplicates_are_dropped_and_the_first_kept():
    texts = ["When did the crew launch?", "when did the  crew LAUNCH", "Who commanded the mission?"]
    r = dedup_questions(texts)
    assert r.keep == [True, False, True]
    assert r.reason[1] == EXACT and r.duplicate_of[1] == 0
    assert r.counts() == {EXACT: 1, NEAR: 0}


def test_embedding_near_duplicates_use_the_threshold():
    texts = ["q one", "q two", "q three", "q four"]
    vecs = _unit([1, 0, 0], [0.99, 0.141, 0], [0, 1, 0], [0, 1, 0.4])
    r = dedup_questions(texts, vecs, threshold=0.95)
    assert r.keep == [True, False, True, True]
    assert r.reason[1] == NEAR and r.duplicate_of[1] == 0 and r.similarity[1] == pytest.approx(0.99, abs=1e-3)
    # a looser threshold also merges four into three
    assert dedup_questions(texts, vecs, threshold=0.9).keep == [True, False, True, False]


def test_dedup_compares_only_with_kept_questions():
    # a ~ b and b ~ c, but a and c are apart: b goes, c stays (it resembles only a dropped question)
    a, b, c = [1.0, 0.0], [np.cos(0.3), np.sin(0.3)], [np.cos(0.6), np.sin(0.6)]
    r = dedup_questions(["a", "b", "c"], _unit(a, b, c), threshold=np.cos(0.35))
    assert r.keep == [True, False, True]


def test_dedup_blocks_give_the_same_answer_as_one_block():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 8))
    vecs = _unit(*np.concatenate([base, base + 0.01 * rng.normal(size=base.shape)]))
    texts = [f"t{i}" for i in range(80)]
    whole = dedup_questions(texts, vecs, threshold=0.98, block=1000)
    blocked = dedup_questions(texts, vecs, threshold=0.98, block=7)
    assert whole.keep == blocked.keep and whole.kept == 40


def test_dedup_checks_its_inputs():
    with pytest.raises(ValueError, match="2 questions but 1 embeddings"):
        dedup_questions(["a", "b"], _unit([1, 0]))


def test_token_overlap():
    ctx = "The Apollo 13 crew launched on April 11, 1970, from Kennedy Space Center."
    assert token_overlap("April 11, 1970", ctx) == 1.0
    assert token_overlap("the crew launched from Kennedy", ctx) == 1.0  # reordered words still count
    assert token_overlap("1,970", "in 1970 they flew") == 1.0
    assert token_overlap("It launched in 1969 from Baikonur", ctx) == pytest.approx(1 / 3)
    assert token_overlap("", ctx) == 0.0


def test_grounding_fails_an_ungrounded_answer():
    windows = ["Lovell commanded Apollo 13. The oxygen tank failed 56 hours into the flight."] * 2
    r = grounding(["56 hours", "Neil Armstrong walked on Mars in 1985"], windows, min_overlap=0.6)
    assert r.grounded == [True, False]
    assert r.share_grounded == 0.5
    assert r.methods == ["text", "text"]


def test_grounding_uses_embeddings_for_answers_that_reword_the_text():
    calls = []

    def embed(texts):
        calls.append(list(texts))
        # the reworded answer points the same way as the sentence it paraphrases
        table = {"a tank of oxygen broke": [1, 0], "The oxygen tank failed.": [0.95, 0.31], "Lovell flew.": [0, 1]}
        return _unit(*[table[t] for t in texts])

    r = grounding(["a tank of oxygen broke"], ["Lovell flew. The oxygen tank failed."], min_overlap=0.9,
                  min_cosine=0.9, embed=embed)
    assert r.grounded == [True] and r.methods == ["embedding"] and r.scores[0] > 0.9
    assert len(calls) == 1  # one batch, only for the answer that failed on words
    with pytest.raises(ValueError, match="1 answers but 2 contexts"):
        grounding(["x"], ["y", "z"])


def test_token_overlap_matches_parts_of_joined_tokens():
    assert token_overlap("555", "Call the office on 555-0134 on Thursdays.") == 1.0
    assert token_overlap("2,340 dollars", "a balance of 2,340 dollars") == 1.0
    assert token_overlap("U.S. Navy", "recovered by the U.S. Navy") == 1.0
    assert token_overlap("777", "Call 555-0134.") == 0.0
