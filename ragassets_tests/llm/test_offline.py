"""The offline stand-in: deterministic, every task parses, answers grounded in the source."""

from __future__ import annotations

import json
import re
from collections import Counter

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
from ragassets.llm.providers.offline import find_spans, minimal_instance, paraphrase, task_judge
from ragassets.text.words import words
from ragassets_tests.conftest import SAMPLE

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
    # easy: the whole sentence as a cloze; medium: the clause around the blank; hard: key terms only
    assert "___, the crew of Apollo 13 moved into the lunar module." in qs[0].question
    assert '"The spacecraft was about ___ from Earth."' in qs[1].question
    assert "___" not in qs[2].question and "reported" in qs[2].question and "problem" in qs[2].question


def test_the_medium_question_gives_only_the_clause_around_the_blank(client: LLMClient) -> None:
    sentence = "Because power was limited after the explosion, the crew used the lunar module for 4 days."
    req = task_request(
        "questions", PromptLibrary(), previous="", current=sentence, next="", n=1, difficulties=["medium"]
    )
    (res,) = client.generate_structured([req], GeneratedQuestions)
    (q,) = res.value.questions
    assert q.answer == "4 days" and q.difficulty == "medium"
    assert '"the crew used the lunar module for ___."' in q.question and "power was limited" not in q.question


def test_questions_come_from_prose_not_headings_titles_tables_or_code(client: LLMClient) -> None:
    chunk = (
        "# Board Meeting Minutes, 12 January 2024\n\n"
        "Volunteer roster, spring 2024\n\n"
        "| Item | 2023 spend |\n|---|---|\n| Refrigerator | 640 |\n\n"
        "```python\nlabel = 'lot 7 / 2024'\n```\n\n"
        "The library needs 4 volunteers on 9 March 2024 for packing envelopes."
    )
    res = questions(client, n=10, current=chunk)
    assert res.ok and res.value.questions
    assert {q.evidence for q in res.value.questions} == {
        "The library needs 4 volunteers on 9 March 2024 for packing envelopes."
    }
    assert {q.answer for q in res.value.questions} == {"4", "9 March 2024"}


def test_a_time_of_day_is_one_fact_not_two_numbers() -> None:
    spans = find_spans("Packing starts at 09:00 and ends at 1:30 pm on Saturdays.")
    assert [(s.kind, s.text) for s in spans if s.kind != "name"] == [("time", "09:00"), ("time", "1:30 pm")]


def test_facts_of_a_sentence() -> None:
    kinds = {
        s.kind: s.text for s in find_spans("On 11 April 1970 the 3 astronauts flew 56 hours with Fred Haise.")
    }
    assert kinds == {"date": "11 April 1970", "number": "3", "quantity": "56 hours", "name": "Fred Haise"}
    # a capitalised first word is grammar, not a name; a run of two capitalised words is a name
    assert find_spans("Members borrow seeds.") == []
    assert [s.text for s in find_spans("Jim Lovell spoke.")] == ["Jim Lovell"]


def test_questions_never_ask_about_redaction_placeholders(client: LLMClient) -> None:
    sentence = (
        "Present: <PERSON> (chair), <PERSON> (treasurer) and <US_SSN:9c8ff363d3af3d82> on 8 March 2024."
    )
    assert [s.text for s in find_spans(sentence)] == ["8 March 2024"]
    # the sentence itself is still prose: its date is asked about
    assert [q.answer for q in questions(client, n=3, current=sentence).value.questions] == ["8 March 2024"]


def test_questions_ignore_the_neighbours_and_handle_fact_free_text(client: LLMClient) -> None:
    res = questions(client, n=5, current="it was a quiet night and nothing much happened at all.")
    assert res.ok and res.value.questions == []
    res = questions(client, n=10)
    assert all(q.evidence in CUR for q in res.value.questions)
    assert not any("April 17" in q.answer or "Kennedy" in q.answer for q in res.value.questions)


def test_paraphrase_reorders_sentences_and_keeps_every_word(client: LLMClient) -> None:
    reqs = [task_request("paraphrase", PromptLibrary(), text=CUR, variant=v) for v in range(3)]
    texts = [r.text for r in client.run(reqs)]
    assert len(set(texts)) == 3 and all(t != CUR for t in texts)
    assert texts[0].startswith("The spacecraft was about 200,000 miles from Earth. Commander Jim Lovell")
    for t in texts:
        assert Counter(words(t)) == Counter(words(CUR))  # a reordering: nothing added, nothing dropped
    assert paraphrase(CUR, 3) == CUR  # four sentences: the fourth rotation is the text itself
    assert paraphrase("") == ""


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def test_paraphrase_over_the_sample_corpus_keeps_every_word_and_is_deterministic() -> None:
    files = sorted([*SAMPLE.glob("*.md"), *SAMPLE.glob("*.txt")])
    assert files, SAMPLE
    texts = [p for f in files for p in _paragraphs(f.read_text(encoding="utf-8"))]
    reordered = 0
    for t in texts:
        variants = [paraphrase(t, v) for v in range(3)]
        assert variants == [paraphrase(t, v) for v in range(3)]
        for out in variants:
            assert Counter(words(out)) == Counter(words(t)), (t, out)
        reordered += variants[0] != t.strip()
    assert reordered >= 5  # the sample's prose paragraphs of two sentences or more


def test_paraphrase_leaves_headings_lists_tables_code_and_html_untouched() -> None:
    table = "| Variety | Packets |\n|---|---|\n| Provider | 512 |"
    code = "```python\n# First. Second.\nresult = 1\n```"
    html = "<table><tr><td>One. Two.</td><td>12</td></tr></table>"
    heading = "## One. Two."
    items = "- First item. Its detail.\n- Second item. Its detail."
    toc = "5.1 STRUCTURAL AND MECHANICAL SYSTEMS ...... 5-1\n5.2 ELECTRICAL POWER ........ 5-2"
    prose = "The test ran 5 hours after launch. Power was required. The crew agreed."
    text = f"{heading}\n\n{prose}\n\n{table}\n\n{code}\n\n{html}\n\n{items}\n\n{toc}\n\n{prose}"
    out = paraphrase(text, 0)
    for block in (heading, table, code, html, items, toc):
        assert block in out, block
    assert prose not in out  # the prose around them is reordered
    assert out.count("Power was required. The crew agreed. The test ran 5 hours after launch.") == 2
    assert out.count("\n\n") == text.count("\n\n")  # the block structure stays


def test_conversation_alternates_and_quotes_the_passages(client: LLMClient) -> None:
    passages = [{"id": "passage 1", "text": CUR}, {"id": "passage 2", "text": NEXT}]
    req = task_request("conversation", PromptLibrary(), passages=passages, n_turns=3)
    (res,) = client.generate_structured([req], GeneratedConversation)
    turns = res.value.turns
    assert len(turns) == 6 and [t.role for t in turns] == ["user", "assistant"] * 3
    assert all(t.content in CUR for t in turns if t.role == "assistant")  # the main passage comes first
    req = task_request("conversation", PromptLibrary(), passages=passages, n_turns=6)
    (res,) = client.generate_structured([req], GeneratedConversation)
    assert res.value.turns[-1].content in NEXT  # then the related passage


def test_rag_answer_answers_from_the_source_never_the_context(client: LLMClient) -> None:
    for failed in (False, True):
        req = task_request("rag_answer", PromptLibrary(), source=CUR, context=f"Chunk 1\nSource: x\n---\n{PREV}",
                           rag_failed=failed)
        (res,) = client.generate_structured([req], RagAnswer)
        assert res.value.answer == (
            "After the oxygen tank exploded on April 13, 1970, the crew of Apollo 13 moved into the lunar module."
        )
        assert res.value.question.startswith("What do you know about") and res.value.question.endswith("?")


def test_chunk_filter_gives_an_enum_verdict_and_a_one_line_reason(client: LLMClient) -> None:
    toc = "\n".join(f"Chapter {i} ........ {i * 7}" for i in range(1, 12))
    texts = {"prose": CUR, "short": "Table 3.", "toc": toc, "numbers": "12 34 56 78 " * 10,
             "title_list": "\n".join(f"- Volunteer roster item {i}" for i in range(8))}
    reqs = [task_request("chunk_filter", PromptLibrary(), text=t) for t in texts.values()]
    verdicts = {k: r.value for k, r in zip(texts, client.generate_structured(reqs, ChunkVerdict), strict=True)}
    assert verdicts["prose"].suitable and verdicts["prose"].verdict == "suitable"
    for name in ("short", "toc", "numbers", "title_list"):
        assert verdicts[name].verdict == "not_suitable", (name, verdicts[name])
    assert verdicts["short"].reason == "too short (2 words)"
    assert "non-letters" in verdicts["toc"].reason and "non-letters" in verdicts["numbers"].reason
    assert verdicts["title_list"].reason == "no prose statement to ask about"
    assert all("\n" not in v.reason for v in verdicts.values())


def test_judge_scores_grounded_answers_above_ungrounded_ones(client: LLMClient) -> None:
    def judge(question: str, answer: str) -> JudgeVerdict:
        req = task_request("judge", PromptLibrary(), question=question, answer=answer, context=CUR)
        (res,) = client.generate_structured([req], JudgeVerdict)
        assert res.ok, res.error_detail
        return res.value

    good = judge("How far from Earth was the spacecraft?", "200,000 miles")
    bad = judge("What colour were the astronauts' boots?", "bright purple velvet")
    assert good.overall > bad.overall and good.relevance > bad.relevance


def test_judge_rubric_from_grounding_question_form_and_answer_length() -> None:
    def judge(question: str, answer: str) -> dict:
        return task_judge({"question": question, "answer": answer, "context": CUR})

    good = judge("How far from Earth was the spacecraft?", "200,000 miles")
    verdict = JudgeVerdict.model_validate(good)
    assert (verdict.accuracy, verdict.clarity, verdict.usefulness) == (3, 2, 3)
    assert verdict.overall == verdict.accuracy + verdict.relevance + verdict.clarity + verdict.usefulness
    assert good["accuracy_reason"] == "stand-in: answer found verbatim in the source"
    assert judge("What colour were the astronauts' boots?", "bright purple velvet")["accuracy"] == 0
    assert judge("far?", "200,000 miles")["clarity"] < good["clarity"]  # too short and no question mark
    assert judge("How far away was the ___ then?", "200,000 miles")["clarity"] == 1
    assert judge("How far from Earth was the spacecraft?", " ".join(["miles"] * 30))["usefulness"] == 2
    assert judge("How far from Earth was the spacecraft?", "")["usefulness"] == 0


def test_minimal_instance_of_an_unknown_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "label": {"enum": ["a", "b"]},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
            "note": {"type": "string"},
        },
        "required": ["label", "items"],
        "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 2}}}},
    }
    assert minimal_instance(schema) == {"label": "a", "items": [{"n": 2}]}


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
    assert json.loads(res.text)["verdict"] == "suitable"
    (res,) = client.run([LLMRequest.chat(PREV, task="judge")])  # no schema given: the task's own
    JudgeVerdict.model_validate(json.loads(res.text))
    (res,) = client.run([LLMRequest.chat("Hello there. How are you? Fine.", task="something_else")])
    assert res.text == "Hello there. How are you?"
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    (res,) = client.run([LLMRequest.chat("q", task="other", json_schema=schema)])
    assert json.loads(res.text) == {"x": 0}


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
        "conversation": {"passages": [{"id": "passage 1", "text": CUR}], "n_turns": 2},
        "rag_answer": {"source": CUR, "context": f"Chunk 1\nSource: x\n---\n{PREV}", "rag_failed": True},
        "chunk_filter": {"text": CUR},
        "judge": {"question": "Who reported the problem?", "answer": "Commander Jim Lovell", "context": CUR},
    }


def test_conversation_and_rag_answer_never_answer_with_a_question(client: LLMClient) -> None:
    text = "How long do tomato seeds stay viable? Tomato seeds stay viable for about five years when kept dry."
    (conv,) = client.generate_structured(
        [task_request("conversation", PromptLibrary(), passages=[{"id": "p", "text": text}], n_turns=2)],
        GeneratedConversation)
    assert [t.content for t in conv.value.turns if t.role == "assistant"] == [
        "Tomato seeds stay viable for about five years when kept dry."]
    (rag,) = client.generate_structured(
        [task_request("rag_answer", PromptLibrary(), source=text, context="", rag_failed=False)], RagAnswer)
    assert rag.value.answer == "Tomato seeds stay viable for about five years when kept dry."
