"""The judge: requests carry the chunk window, answers become scores and verdicts, failures stay as
UNSCORED rows, the distribution adds up, and the flow works through the OpenAI-compatible test server."""

import json
import re

import polars as pl
import pytest

from ragassets.judging import (
    CRITERIA,
    FAIL,
    NEEDS_REVIEW,
    PASS,
    UNSCORED,
    collect_verdicts,
    distribution_chart,
    distribution_table,
    judge_questions,
    judge_requests,
    score_bins,
    score_distribution,
    verdict_of,
)
from ragassets.llm import JudgeVerdict, LLMClient, LLMRequest, PromptLibrary, StructuredResult
from ragassets.settings import LlmSettings
from ragassets_tests.llm_server import LLMTestServer

TEXTS = [
    "Apollo 13 launched on April 11, 1970. It carried three astronauts.",
    "An oxygen tank failed 56 hours into the flight. The crew moved into the lunar module.",
    "The crew splashed down near Samoa on April 17, 1970.",
]


def _chunks() -> pl.DataFrame:
    return pl.DataFrame({"chunk_id": ["c0", "c1", "c2"], "doc_id": ["d"] * 3, "seq": [0, 1, 2], "text": TEXTS})


def _questions() -> pl.DataFrame:
    return pl.DataFrame({
        "question_id": ["q0", "q1", "q2"],
        "chunk_id": ["c0", "c1", "c2"],
        "question": ["When did Apollo 13 launch?", "What failed 56 hours into the flight?", "BROKEN where?"],
        "answer": ["April 11, 1970", "An oxygen tank", "Samoa"],
        "difficulty": ["easy", "medium", "hard"],
    })


def test_verdict_thresholds():
    assert [verdict_of(s, 8, 6) for s in (10, 8, 7, 6, 5, 0, None)] == [
        PASS, PASS, NEEDS_REVIEW, NEEDS_REVIEW, FAIL, FAIL, UNSCORED
    ]
    with pytest.raises(ValueError, match="must not be above pass_threshold"):
        verdict_of(5, 6, 8)


def test_requests_show_the_judge_the_chunk_window():
    reqs = judge_requests(_questions(), _chunks(), PromptLibrary(), window=1)
    assert [r.id for r in reqs] == ["q0", "q1", "q2"] and all(r.task == "judge" for r in reqs)
    middle = reqs[1].messages[-1]["content"]
    assert all(t in middle for t in TEXTS)  # previous, current and next chunk
    assert TEXTS[2] not in reqs[0].messages[-1]["content"]
    assert "What failed 56 hours into the flight?" in middle and "An oxygen tank" in middle
    for name, top in CRITERIA.items():
        assert f"{name} (0-{top})" in middle
    with pytest.raises(ValueError, match="rematerialize questions"):
        judge_requests(_questions().with_columns(pl.lit("gone").alias("chunk_id")), _chunks(), PromptLibrary())


_REQ = LLMRequest.chat("judge")


def _verdict(overall: int, **scores) -> JudgeVerdict:
    base = {"accuracy": 3, "relevance": 2, "clarity": 2, "usefulness": 3, "overall": overall}
    base.update(scores)
    return JudgeVerdict(**base, **{f"{c}_reason": f"{c}  reason\n text" for c in CRITERIA})


def test_collect_keeps_every_pair_with_scores_reasons_and_verdicts():
    results = [
        StructuredResult(_REQ, value=_verdict(9), raw="{}", provider="openai", model="judge-m"),
        StructuredResult(_REQ, value=_verdict(6, usefulness=0), raw="{}", provider="openai", model="judge-m"),
        StructuredResult(_REQ, value=None, raw="nope", provider="openai", model="judge-m", error="parse_error",
                         error_detail="not JSON"),
    ]
    run = collect_verdicts(_questions(), _chunks(), results, "apollo", pass_threshold=8, review_threshold=6)
    t = run.scored
    assert t.height == 3 and t["verdict"].to_list() == [PASS, NEEDS_REVIEW, UNSCORED]
    assert t["overall"].to_list() == [9, 6, None] and t["usefulness"].to_list() == [3, 0, None]
    assert t["doc_id"].to_list() == ["d"] * 3 and set(t["corpus"]) == {"apollo"}
    assert json.loads(t["reasons"][0]) == {c: f"{c} reason text" for c in CRITERIA}
    assert t["judge_error"].to_list() == [None, None, "parse_error"] and run.failures == {"parse_error": 1}
    assert run.failure_examples[0]["question_id"] == "q2" and not run.nothing_scored


def test_rubric_bounds_are_enforced_by_the_schema():
    with pytest.raises(ValueError):
        JudgeVerdict(accuracy=4, relevance=2, clarity=2, usefulness=3, overall=9)
    with pytest.raises(ValueError):
        JudgeVerdict(accuracy=3, relevance=2, clarity=2, usefulness=3, overall=11)


def test_distribution_sums_to_the_total_and_shows_every_bin():
    overall = [10, 9, 9, 8, 7, 6, 3, 0, None]
    verdicts = [verdict_of(s, 8, 6) for s in overall]
    dist = score_distribution(overall, verdicts)
    assert dist.total == 9 and sum(dist.verdicts.values()) == dist.total
    assert sum(dist.bins.values()) + dist.verdicts[UNSCORED] == dist.total
    assert dist.verdicts == {PASS: 4, NEEDS_REVIEW: 2, FAIL: 2, UNSCORED: 1}
    assert dist.bins == {0: 1, 1: 0, 2: 0, 3: 1, 4: 0, 5: 0, 6: 1, 7: 1, 8: 1, 9: 2, 10: 1}
    assert dist.pass_rate == pytest.approx(4 / 9) and dist.mean_score == pytest.approx(52 / 8)
    table = distribution_table(dist, 8, 6)
    rows = [r for r in table.splitlines() if re.match(r"\| \d+ \|", r)]
    assert len(rows) == 11 and sum(int(r.split("|")[2]) for r in rows) == 8
    assert "| 9 | 2 | 25.0% | PASS | 3 |" in table  # 10 and 9 and 9: kept at >= 9
    assert "| unscored | 1 |" in table and "| **total** | **9** |" in table
    assert distribution_chart(dist, 8, 6).startswith("![Judge overall scores (n = 8)](data:image/png;base64,")
    with pytest.raises(ValueError, match="outside 0..10"):
        score_bins([11])


def _judge_like(body: dict) -> str:
    """A model-like judge: scores from the question's first word, BROKEN gets prose."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")  # repairs add turns after it
    question = re.search(r"^Question: (.*)$", user, re.MULTILINE).group(1)
    if question.startswith("BROKEN"):
        return "I cannot grade this."
    overall = 9 if question.startswith("When") else 5
    return json.dumps({"accuracy_reason": "supported", "accuracy": 3 if overall == 9 else 1,
                       "relevance_reason": "on topic", "relevance": 2, "clarity_reason": "clear", "clarity": 2,
                       "usefulness_reason": "a fact", "usefulness": 2, "overall": overall})


def test_judging_through_the_test_server():
    with LLMTestServer(responder=_judge_like) as srv:
        client = LLMClient.from_settings(
            LlmSettings(provider="openai", base_url=srv.base_url, model="test-model", max_repairs=1), cache=None
        )
        run = judge_questions(_questions(), _chunks(), client, PromptLibrary(), "apollo",
                              pass_threshold=8, review_threshold=6)
        sent = srv.stats()["chat_requests"]
    assert sent == 4  # three pairs, and one repair for the prose answer
    t = run.scored
    assert t["verdict"].to_list() == [PASS, FAIL, UNSCORED]
    assert t["overall"].to_list() == [9, 5, None] and set(t["judge_model"]) == {"test-model"}
    assert run.failures == {"parse_error": 1}


def test_judging_with_the_offline_stand_in():
    from ragassets.llm.providers.offline import OfflineProvider

    questions = _questions().with_columns(
        pl.Series("answer", ["April 11, 1970", "bright purple velvet", "Samoa"]),
        pl.Series("question", ["When did Apollo 13 launch?", "What colour were the boots?", "Where?"]),
    )
    run = judge_questions(questions, _chunks(), LLMClient(OfflineProvider(), cache=None), PromptLibrary(), "apollo",
                          pass_threshold=8, review_threshold=6)
    t = run.scored
    assert t["judge_provider"].to_list() == ["offline"] * 3 and not run.failures
    assert t["verdict"].to_list()[:2] == [PASS, FAIL]  # grounded and well formed; an answer not in the source
    assert t["overall"][2] < t["overall"][0]  # a one-word question is less clear
    assert (t["overall"] == t["accuracy"] + t["relevance"] + t["clarity"] + t["usefulness"]).all()
    assert all(r.startswith("stand-in: ") for r in json.loads(t["reasons"][0]).values())
