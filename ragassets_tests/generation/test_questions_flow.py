"""The questions flow without Dagster: plan, collect (filters, failures), dedup, outcomes, coverage;
and paraphrase collection. Real LLM clients: the offline provider and the test server."""

import json

import polars as pl
import pytest

from ragassets.generation.paraphrase import collect_paraphrases, generate_paraphrases, paraphrase_requests
from ragassets.generation.questions import (
    apply_dedup,
    collect_questions,
    coverage_breakdown,
    generate_questions,
    outcomes_frame,
    plan_questions,
    question_requests,
)
from ragassets.llm import (
    GeneratedQuestion,
    GeneratedQuestions,
    LLMClient,
    PromptLibrary,
    Result,
    StructuredResult,
)
from ragassets.llm.providers.offline import OfflineProvider
from ragassets.settings import QuestionsSettings

TEXTS = [
    "# Apollo 13\n\nApollo 13 launched on April 11, 1970, from Kennedy Space Center.",
    "The oxygen tank number 2 failed 56 hours into the flight, and the crew moved into Aquarius.",
    "Lovell, Swigert and Haise returned to Earth on April 17, 1970, near Samoa.",
    "Contents",
]


def _chunks() -> pl.DataFrame:
    return pl.DataFrame(
        {"chunk_id": [f"c{i}" for i in range(4)], "doc_id": ["d"] * 4, "seq": list(range(4)), "text": TEXTS}
    )


def _ok(*qs: tuple[str, str, str]) -> StructuredResult:
    value = GeneratedQuestions(questions=[GeneratedQuestion(question=q, answer=a, difficulty=d) for q, a, d in qs])
    return StructuredResult(request=None, value=value, raw="{}", provider="fake", model="fake-1")


def _failed(reason: str) -> StructuredResult:
    return StructuredResult(request=None, value=None, raw="oops", error=reason, error_detail=f"{reason}: details",
                            provider="fake", model="fake-1")


def test_plan_skips_short_chunks_and_deals_difficulties():
    plans = plan_questions(_chunks(), QuestionsSettings(questions_per_chunk=3, min_chunk_words=3))
    assert [p.skip for p in plans] == [None, None, None, "chunk_too_short"]
    assert [p.difficulties for p in plans[:2]] == [["easy", "medium", "hard"]] * 2
    reqs = question_requests(plans, PromptLibrary())
    assert len(reqs) == 3 and reqs[1].inputs["previous"] == TEXTS[0] and reqs[1].inputs["next"] == TEXTS[2]
    assert reqs[0].inputs["previous"] == "" and reqs[0].inputs["n"] == 3


def test_every_chunk_gets_an_outcome_with_the_reason():
    s = QuestionsSettings(questions_per_chunk=2, min_chunk_words=3, min_question_words=3)
    plans = plan_questions(_chunks(), s)
    results = [
        _ok(("When did Apollo 13 launch?", "April 11, 1970", "easy"), ("Why?", "no", "hard")),  # one filtered
        _failed("parse_error"),
        _ok(("When did Apollo 13 launch exactly?", "April 11, 1970", "medium"),
            ("when did apollo 13 LAUNCH?", "April 11, 1970", "easy")),  # both duplicates of chunk 0's
    ]
    batch = collect_questions(plans, results, s, "apollo")
    assert batch.filter_counts == {"question_too_short": 1}
    dedup = apply_dedup(batch, 0.99, embed=None)
    assert dedup.counts() == {"normalised_duplicate": 1, "near_duplicate": 0}
    out = {r["chunk_id"]: r for r in outcomes_frame(batch, "apollo").to_dicts()}
    assert out["c0"]["status"] == "ok" and out["c0"]["kept"] == 1 and out["c0"]["filtered"] == 1
    assert out["c1"]["status"] == "parse_failure" and out["c1"]["error"] == "parse_error"
    assert out["c1"]["detail"] == "parse_error: details"
    assert out["c2"]["status"] == "ok" and out["c2"]["duplicates"] == 1  # "exactly" differs in words
    assert out["c3"]["status"] == "chunk_too_short" and out["c3"]["requested"] == 0
    dropped = json.loads(out["c2"]["dropped"])
    assert dropped[0]["reason"] == "normalised_duplicate"
    assert dropped[0]["duplicate_of"] == batch.rows[0]["question_id"]
    cov = coverage_breakdown(outcomes_frame(batch, "apollo"))
    assert cov["covered"] == 2 and cov["coverage"] == 0.5
    assert cov["without_questions"]["parse_failure"] == 1 and cov["without_questions"]["chunk_too_short"] == 1


def test_a_chunk_whose_questions_all_duplicate_earlier_ones_says_dedup():
    s = QuestionsSettings(questions_per_chunk=1, min_chunk_words=3)
    plans = plan_questions(_chunks(), s)
    same = ("When did Apollo 13 launch?", "April 11, 1970", "easy")
    batch = collect_questions(plans, [_ok(same), _ok(same), _ok()], s, "apollo")
    apply_dedup(batch, 0.95, embed=None)
    statuses = dict(outcomes_frame(batch, "apollo").select("chunk_id", "status").iter_rows())
    assert statuses == {"c0": "ok", "c1": "dedup", "c2": "none_returned", "c3": "chunk_too_short"}


def test_surplus_questions_are_cut_to_the_number_asked_for():
    s = QuestionsSettings(questions_per_chunk=1, min_chunk_words=3)
    plans = plan_questions(_chunks(), s)
    many = _ok(("When did Apollo 13 launch?", "April 11, 1970", "easy"),
               ("Where did Apollo 13 launch from?", "Kennedy Space Center", "easy"))
    batch = collect_questions(plans, [many, _ok(), _ok()], s, "apollo")
    assert len(batch.rows) == 1 and batch.surplus == 1


def test_generate_questions_with_the_offline_provider():
    s = QuestionsSettings(questions_per_chunk=2, min_chunk_words=3)
    client = LLMClient(OfflineProvider(), cache=None)
    run = generate_questions(_chunks(), s, client, PromptLibrary(), "apollo")
    q = run.questions
    assert q.columns == ["corpus", "question_id", "chunk_id", "question", "answer", "difficulty", "provider", "model"]
    assert q.height >= 4 and set(q["provider"]) == {"offline"}
    assert set(q["chunk_id"]) <= {"c0", "c1", "c2"}
    assert q["question_id"].n_unique() == q.height
    # answers are spans of the current chunk
    text = dict(zip(_chunks()["chunk_id"], _chunks()["text"]))
    assert all(a in text[c] for c, a in q.select("chunk_id", "answer").iter_rows())
    assert run.counts()["requests"] == 3


def test_paraphrase_requests_carry_variant_and_seed():
    from ragassets.llm import SamplingParams

    reqs = paraphrase_requests(_chunks().head(2), 3, PromptLibrary(), SamplingParams(temperature=0.9))
    assert [(r.id, r.inputs["variant"], r.params.seed) for r in reqs[:3]] == [("c0", 0, 0), ("c0", 1, 1), ("c0", 2, 2)]
    assert len(reqs) == 6 and reqs[0].params.temperature == 0.9
    with pytest.raises(ValueError, match="at least 1"):
        paraphrase_requests(_chunks(), 0, PromptLibrary())


def test_paraphrase_failures_are_counted_not_rows():
    reqs = paraphrase_requests(_chunks().head(3), 1, PromptLibrary())
    results = [
        Result(request=reqs[0], key="k0", provider="p", model="m", text="Here is the rewritten passage:\nNew words."),
        Result(request=reqs[1], key="k1", provider="p", model="m", error="timeout", error_detail="took too long"),
        Result(request=reqs[2], key="k2", provider="p", model="m", text='""" """'),
    ]
    run = collect_paraphrases(reqs, results, "apollo")
    assert run.table.height == 1 and run.table["text"][0] == "New words."
    assert run.failures == {"timeout": 1, "empty_output": 1}
    assert {e["chunk_id"] for e in run.failure_examples} == {"c1", "c2"}


def test_generate_paraphrases_offline():
    client = LLMClient(OfflineProvider(), cache=None)
    run = generate_paraphrases(_chunks(), 2, client, PromptLibrary(), "apollo")
    t = run.table
    assert t.columns == ["corpus", "paraphrase_id", "chunk_id", "variant", "text", "provider", "model"]
    assert t["paraphrase_id"].n_unique() == t.height
    assert set(t["variant"]) <= {0, 1} and set(t["provider"]) == {"offline"}
    # numbers and names survive the offline rewrite
    first = t.filter(pl.col("chunk_id") == "c0")["text"][0]
    assert "April 11, 1970" in first and "Kennedy Space Center" in first
