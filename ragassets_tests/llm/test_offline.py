"""The offline stand-in: deterministic, every task parses, answers grounded in the source."""

from __future__ import annotations

import json
import re

import pytest

from ragassets.llm import (
    OFFLINE_MODEL,
    TASKS,
    ChunkVerdict,
    GeneratedConversation,
    GeneratedQuestions,
    JudgeVerdict,
    LLMClient,
    LLMRequest,
    PromptLibrary,
    RagAnswer,
    ResponseCache,
    task_request,
)
from ragassets.llm.providers import OfflineProvider
from ragassets.llm.providers.offline import find_spans, paraphrase, reorder_clause, split_sentences

PREV = "The mission was planned for three years. Engineers at Kennedy Space Center prepared the rocket."
CUR = (
    "After the oxygen tank exploded on April 13, 1970, the crew of Apollo 13 moved into the lunar module. "
    "The spacecraft was about 200,000 miles from Earth. Commander Jim Lovell reported the problem to "
    "Mission Control in Houston. Because power was limited, the crew used the lunar module for 4 days."
)
NEXT = "The crew returned safely on April 17. Splashdown occurred in the Pacific Ocean."


@pytest.fixture
def client() -> LLMClient:
    return LLMClient(OfflineProvider(), cache=ResponseCache(":memory:"))


def questions(client: LLMClient, n: int = 3, current: str = CUR):
    req = task_request(
        "questions",
        PromptLibrary(),
        previous=PREV,
        current=current,
        next=NEXT,
        n=n,
        difficulties=["easy", "medium", "hard"][:n] if n <= 3 else ["easy"] * n,
    )
    (res,) = client.generate_structured([req], GeneratedQuestions)
    return res


def test_questions_come_from_facts_of_the_current_chunk(client: LLMClient) -> None:
    res = questions(client)
    assert res.ok and res.provider == "offline" and res.model == OFFLINE_MODEL
    qs = res.value.questions
    assert [q.difficulty for q in qs] == ["easy", "medium", "hard"]
    answers = [q.answer for q in qs]
    assert answers == ["April 13, 1970", "200,000 miles", "Commander Jim Lovell"]
    for q in qs:
        assert q.answer in CUR and q.evidence in CUR  # grounded in the current chunk
        assert q.answer in q.evidence
        assert q.answer not in q.question  # the question does not give the answer away
        assert q.question.endswith("?")
    assert "___" in qs[0].question  # easy: the whole sentence as a cloze
    assert "approximately" in qs[1].question  # medium: reworded


def test_questions_ignore_the_neighbours_and_handle_fact_free_text(client: LLMClient) -> None:
    res = questions(client, n=5, current="it was a quiet night and nothing much happened at all.")
    assert res.ok and res.value.questions == []
    res = questions(client, n=10)
    assert all(q.evidence in CUR for q in res.value.questions)
    assert not any("April 17" in q.answer or "Kennedy" in q.answer for q in res.value.questions)


def test_paraphrase_reorders_clauses_substitutes_words_and_keeps_facts(client: LLMClient) -> None:
    reqs = [task_request("paraphrase", PromptLibrary(), text=CUR, variant=v) for v in range(3)]
    texts = [r.text for r in client.run(reqs)]
    assert len(set(texts)) == 3 and all(t != CUR for t in texts)
    assert texts[0].startswith(
        "The crew of Apollo 13 moved into the lunar module after the oxygen tank exploded"
    )
    for t in texts:
        for fact in ("April 13, 1970", "200,000", "Jim Lovell", "Mission Control", "Houston", "4 days"):
            assert fact in t
        assert sorted(re.findall(r"\d+(?:,\d{3})*", t)) == sorted(re.findall(r"\d+(?:,\d{3})*", CUR))


def test_conversation_alternates_and_quotes_the_source(client: LLMClient) -> None:
    req = task_request("conversation", PromptLibrary(), text=CUR, n_turns=3)
    (res,) = client.generate_structured([req], GeneratedConversation)
    turns = res.value.turns
    assert len(turns) == 6 and [t.role for t in turns] == ["user", "assistant"] * 3
    assert all(t.content in CUR for t in turns if t.role == "assistant")


def test_rag_answer_picks_the_best_sentence_and_cites_it(client: LLMClient) -> None:
    contexts = [{"id": "a", "text": PREV}, {"id": "b", "text": CUR}]
    req = task_request(
        "rag_answer", PromptLibrary(), question="How far from Earth was the spacecraft?", contexts=contexts
    )
    (res,) = client.generate_structured([req], RagAnswer)
    assert (
        res.value.answer == "The spacecraft was about 200,000 miles from Earth."
        and res.value.citations == ["b"]
    )
    req = task_request("rag_answer", PromptLibrary(), question="zebra quantum?", contexts=contexts)
    (res,) = client.generate_structured([req], RagAnswer)
    assert res.value.citations == [] and "does not answer" in res.value.answer


def test_chunk_filter_uses_measurable_properties(client: LLMClient) -> None:
    toc = "\n".join(f"Chapter {i} ........ {i * 7}" for i in range(1, 12))
    texts = {"prose": CUR, "short": "Table 3.", "toc": toc, "numbers": "12 34 56 78 " * 10}
    reqs = [task_request("chunk_filter", PromptLibrary(), text=t) for t in texts.values()]
    verdicts = dict(zip(texts, client.generate_structured(reqs, ChunkVerdict), strict=True))
    assert verdicts["prose"].value.keep and verdicts["prose"].value.score > 0.8
    for name in ("short", "toc", "numbers"):
        assert not verdicts[name].value.keep and verdicts[name].value.score < verdicts["prose"].value.score
    assert "too short" in verdicts["short"].value.reason
    assert "table of contents" in verdicts["toc"].value.reason


def test_judge_scores_grounded_answers_above_ungrounded_ones(client: LLMClient) -> None:
    def judge(question: str, answer: str) -> JudgeVerdict:
        req = task_request("judge", PromptLibrary(), question=question, answer=answer, context=CUR)
        (res,) = client.generate_structured([req], JudgeVerdict)
        return res.value

    good = judge("How far from Earth was the spacecraft?", "200,000 miles")
    bad = judge("What colour were the astronauts' boots?", "bright purple velvet")
    assert good.groundedness == 5 and bad.groundedness < 3
    assert good.relevance > bad.relevance and good.overall > bad.overall
    assert judge("far?", "200,000 miles").clarity < good.clarity
    assert "answer terms found in the source" in good.rationale


def test_offline_is_deterministic_and_says_so() -> None:
    reqs = [task_request(t, PromptLibrary(), **v) for t, v in _all_tasks().items()]
    a = LLMClient(OfflineProvider(), cache=None).run(reqs)
    b = LLMClient(OfflineProvider(), cache=None).run(reqs)
    assert [r.text for r in a] == [r.text for r in b]
    assert all(r.ok and r.provider == "offline" and r.model == OFFLINE_MODEL for r in a)
    for r in a:
        spec = TASKS[r.request.task]
        if spec.output is not None:
            spec.output.model_validate(json.loads(r.text))


def test_offline_without_template_variables_reads_the_prompt(client: LLMClient) -> None:
    (res,) = client.run([LLMRequest.chat(CUR, task="chunk_filter")])
    assert json.loads(res.text)["keep"] is True
    (res,) = client.run([LLMRequest.chat("Hello there. How are you? Fine.", task="something_else")])
    assert res.text == "Hello there. How are you?"
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    (res,) = client.run([LLMRequest.chat("q", task="other", json_schema=schema)])
    assert json.loads(res.text) == {"x": 0}


def test_text_helpers() -> None:
    assert split_sentences("Dr. Smith arrived at 5 p.m. on Monday. He left.\n# Heading\n- item one") == [
        "Dr. Smith arrived at 5 p.m. on Monday.",
        "He left.",
        "Heading",
        "item one",
    ]
    kinds = {
        s.kind: s.text for s in find_spans("On 11 April 1970 the 3 astronauts flew 56 hours with Fred Haise.")
    }
    assert kinds == {"date": "11 April 1970", "number": "3", "quantity": "56 hours", "name": "Fred Haise"}
    assert reorder_clause("When Houston called, Lovell answered.") == "Lovell answered when Houston called."
    assert reorder_clause("If so, then what.") == "If so, then what."
    assert paraphrase("") == ""


def _all_tasks() -> dict:
    return {
        "paraphrase": {"text": CUR, "variant": 1},
        "questions": {
            "previous": PREV,
            "current": CUR,
            "next": NEXT,
            "n": 2,
            "difficulties": ["easy", "hard"],
        },
        "conversation": {"text": CUR, "n_turns": 2},
        "rag_answer": {"question": "Who reported the problem?", "contexts": [{"id": "x", "text": CUR}]},
        "chunk_filter": {"text": CUR},
        "judge": {"question": "Who reported the problem?", "answer": "Commander Jim Lovell", "context": CUR},
    }
