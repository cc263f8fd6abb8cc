"""The offline stand-in: deterministic, every task parses, answers grounded in the source."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import numpy as np
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
from ragassets.llm.providers.offline import (
    LEXICON,
    active_to_passive,
    find_spans,
    front_by_gerund,
    front_purpose,
    front_trailing_clause,
    front_trailing_phrase,
    genitive,
    move_fronted_phrase_back,
    paraphrase,
    passive_to_active,
    reduce_relative,
    reorder_clause,
    split_coordination,
    split_semicolon,
    split_sentences,
    split_which,
    substitute,
    swap_coordination,
)
from ragassets_tests.conftest import SAMPLE, shared_corpus

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


# ---------------------------------------------------------------------------------------------------
# paraphrase: rewording that keeps every fact

TIDEWATER = (
    "The Tidewater Seed Library lends open-pollinated seeds to gardeners in the Millbrook valley. Members "
    "borrow seeds in spring, grow them out, and return a share of the harvested seed in autumn. The library "
    "was founded in 2014 in the back room of the Millbrook public library and moved to the old ferry office "
    "on Quay Street in 2019."
)
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_CAPITALISED = re.compile(r"(?<![\w'\-])[A-Z][A-Za-z'\-]*")


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def _name_tokens(text: str) -> Counter:
    """Capitalised tokens that do not open a sentence, a line or a list item: names, not grammar."""
    out: Counter = Counter()
    for m in _CAPITALISED.finditer(text):
        before = text[: m.start()].rstrip(" \"'(\u201c\u2018[")
        if (
            not before
            or before[-1] in ".!?:;\n"
            or re.search(r"(^|\n)\s*([-*+>]|\d+[.)]|[a-z][.)])$", before)
        ):
            continue
        out[m.group()] += 1
    return out


def assert_facts_kept(original: str, rewritten: str) -> None:
    """Every number of the original, as often as it occurs and no new one; every name token too."""
    assert Counter(_NUMBER.findall(rewritten)) == Counter(_NUMBER.findall(original)), (original, rewritten)
    have = Counter(_CAPITALISED.findall(rewritten))
    missing = {name: n for name, n in _name_tokens(original).items() if have[name] < n}
    assert not missing, (missing, original, rewritten)


def _sample_texts() -> list[str]:
    files = sorted([*SAMPLE.glob("*.md"), *SAMPLE.glob("*.txt")])
    assert files, SAMPLE
    return [p for f in files for p in _paragraphs(f.read_text(encoding="utf-8"))]


def test_paraphrase_rewords_the_tidewater_paragraph_and_keeps_its_facts() -> None:
    texts = [paraphrase(TIDEWATER, v) for v in range(3)]
    assert all(t != TIDEWATER for t in texts) and len(set(texts)) == 3
    for t in texts:
        assert_facts_kept(TIDEWATER, t)
        for fact in (
            "Tidewater Seed Library",
            "open-pollinated",
            "Millbrook valley",
            "2014",
            "2019",
            "Quay Street",
        ):
            assert fact in t
    # the date moves with the verb it belongs to, never over both halves of "founded ... and moved"
    assert "and, in 2019, relocated to the old ferry office on Quay Street." in texts[0]
    assert "was established in 2014" in texts[0]


def test_paraphrase_keeps_numbers_and_names_over_the_sample_corpus() -> None:
    texts = _sample_texts()
    for v in range(3):
        for t in texts:
            assert_facts_kept(t, paraphrase(t, v))


def test_paraphrase_keeps_numbers_and_names_over_the_apollo_report() -> None:
    report = shared_corpus("apollo13") / "mission_report.md"
    paragraphs = _paragraphs(report.read_text(encoding="utf-8"))
    assert len(paragraphs) > 300
    changed = prose = 0
    for v in range(3):
        for p in paragraphs:
            q = paraphrase(p, v)
            assert_facts_kept(p, q)
            if _prose(p.strip()):
                prose += 1
                changed += " ".join(q.split()) != " ".join(p.split())
    assert changed / prose > 0.97  # prose is reworded (and whatever is not prose is copied)


def test_paraphrase_leaves_headings_tables_code_and_html_untouched() -> None:
    table = "| Variety | Packets | Note |\n|---|---|---|\n| Provider | 512 | performed approximately well |"
    code = "```python\n# approximately the same\nresult = performed(approximately=1)\n```"
    html = "<table><tr><td>Performed approximately</td><td>12</td></tr></table>"
    heading = "## Performance approximately as required"
    toc = "5.1 STRUCTURAL AND MECHANICAL SYSTEMS ...... 5-1\n5.2 ELECTRICAL POWER ........ 5-2"
    prose = "The test was performed approximately 5 hours after launch because power was required."
    blocks = [heading, prose, table, code, html, toc, "    indented = performed code", prose]
    text = "\n\n".join(blocks)
    for v in range(3):
        out = paraphrase(text, v)
        for block in (table, code, html, heading, toc, "    indented = performed code"):
            assert block in out, (v, block)
        assert out.count(prose) == 0  # the prose around them is reworded
        assert out.count("\n\n") == text.count("\n\n")  # the block structure stays


def test_paraphrase_keeps_list_markers_and_quotes() -> None:
    text = 'Steps:\n\n- The valve was opened approximately 5 minutes later.\n- The crew said "it performed well."'
    out = paraphrase(text, 0)
    lines = out.splitlines()
    assert lines[2].startswith("- ") and lines[3].startswith("- ") and "approximately" not in lines[2]
    assert out.count('"') == 2


def test_paraphrase_variants_differ_and_are_deterministic() -> None:
    report = SAMPLE / "handbook.md"
    texts = [TIDEWATER, CUR, report.read_text(encoding="utf-8")]
    for text in texts:
        variants = [paraphrase(text, v) for v in range(3)]
        assert len(set(variants)) == 3, variants
        assert variants == [paraphrase(text, v) for v in range(3)]  # same input, same output


def test_restructurings() -> None:
    v: frozenset[str] = frozenset()
    assert (
        front_trailing_phrase("The library moved to the old ferry office on Quay Street in 2019.", v)
        == "In 2019, the library moved to the old ferry office on Quay Street."
    )
    assert (
        move_fronted_phrase_back("In 2019, the library moved to the old ferry office.", v)
        == "The library moved to the old ferry office in 2019."
    )
    assert move_fronted_phrase_back("In addition, the library moved to the old ferry office.", v) is None
    assert (
        front_trailing_clause("The crew used the lunar module for 4 days because power was limited.", v)
        == "Because power was limited, the crew used the lunar module for 4 days."
    )
    assert (
        swap_coordination("The tanks held a mixture of oxygen and hydrogen.", v)
        == "The tanks held a mixture of hydrogen and oxygen."
    )
    assert (
        split_which("The oxygen tank exploded at 56 hours, which caused a loss of power.", v)
        == "The oxygen tank exploded at 56 hours. This caused a loss of power."
    )
    assert (
        split_semicolon(
            "The sun filter made viewing very difficult; the reticle lines were hard to see at all.", v
        )
        == "The sun filter made viewing very difficult. The reticle lines were hard to see at all."
    )
    assert (
        split_coordination("The crew reopened the valves, and the engines functioned normally thereafter.", v)
        == "The crew reopened the valves. The engines functioned normally thereafter."
    )
    assert (
        passive_to_active(
            "The light did not illuminate after the condition was sensed by the guidance system.", v
        )
        == "The light did not illuminate after the guidance system sensed the condition."
    )
    assert (
        active_to_passive("The crew reopened the quad D valves.", v)
        == "The quad D valves were reopened by the crew."
    )
    assert genitive("He checked the status of the crew.", v) == "He checked the crew's status."
    assert (
        reduce_relative("The apex cover, which was located upwind of the spacecraft, was recovered.", v)
        == "The apex cover, located upwind of the spacecraft, was recovered."
    )
    assert (
        front_purpose("The system was reactivated four times to pressurize the water tank.", v)
        == "To pressurize the water tank, the system was reactivated four times."
    )
    assert (
        front_by_gerund("The crew started the system manually by switching to the backup position.", v)
        == "By switching to the backup position, the crew started the system manually."
    )


def test_restructurings_refuse_what_would_change_the_meaning() -> None:
    v: frozenset[str] = frozenset()
    # the phrase belongs to a participle, an inner clause or an infinitive, not to the main verb
    assert (
        front_trailing_phrase(
            "Vibration was greater during injection than that experienced during Apollo 8.", v
        )
        is None
    )
    assert front_trailing_phrase("The crew reported that the tank failed at 56 hours.", v) is None
    # after a copula the phrase is the predicate: fronting it leaves "..., the next meeting is."
    assert front_trailing_phrase("The next meeting is on 8 March 2024.", v) is None
    assert front_trailing_phrase("The launch was at 13:13 on 11 April 1970.", v) is None
    assert (
        front_trailing_clause("It was expected that the current would rise until the plume broke contact.", v)
        is None
    )
    assert front_purpose("The crew could not determine any procedure to keep the angle constant.", v) is None
    # an order that matters, a name, an amount
    assert swap_coordination("Rates were 0.16 in pitch and yaw, and 0.60 in roll, respectively.", v) is None
    assert (
        swap_coordination(
            "Support was provided by the Department of Defense and offers of help were made.", v
        )
        is None
    )
    assert passive_to_active("The pressure was increased by the heaters.", v) is None
    assert split_which("This resolver is in the optics head, which is vented to a vacuum.", v) is None
    assert genitive("The impact of the lunar module ascent stage was recorded.", v) is None
    # "2014" stays with "founded": the sentence joins two verbs, so "in 2019" is not moved to the front
    assert not front_trailing_phrase(TIDEWATER.split(". ")[2], v).startswith("In 2019")


def test_synonyms_follow_their_context() -> None:
    assert len(LEXICON) > 500
    out = substitute(
        "An important test was performed about 5 hours after launch and the crew talked about it."
    )
    assert (
        out
        == "A significant test was carried out approximately 5 hours after launch and the crew talked about it."
    )
    # past or participle by context; a phrasal verb and a compound modifier are left alone
    assert substitute("The gauge indicated 5 psi. The errors displayed to the crew were small.") == (
        "The gauge showed 5 psi. The errors shown to the crew were small."
    )
    assert substitute("The crew used up the fuel.") == "The crew used up the fuel."
    assert "quantity indication" in substitute("At 46 hours the quantity indication was lost.")
    # capitalised words other than a sentence's first are names
    assert substitute("Mission Control Performed a check.") == "Mission Control Performed a check."


# ---------------------------------------------------------------------------------------------------
# measured: cosine of original and paraphrase under the MiniLM embedder, against the fidelity band

FIDELITY_BAND = (0.6, 0.995)  # ParaphraseSettings.fidelity_band's default


def _prose(paragraph: str) -> bool:
    """A paragraph of prose of 200+ characters: what the paraphraser rewords (headings, tables, HTML,
    tables of contents and all-capitals blocks are copied unchanged on purpose)."""
    letters = [c for c in paragraph if c.isalpha()]
    return (
        len(paragraph) >= 200
        and paragraph.lstrip()[:1] not in "|#<!`"
        and sum(c.islower() for c in letters) >= 0.7 * len(letters)
        and not re.search(r"\.{4,}|\u00b7{2,}", paragraph)
    )


@pytest.fixture(scope="module")
def minilm():
    from ragassets.embed.providers import EmbedderError, MiniLMEmbedder

    try:
        embedder = MiniLMEmbedder(batch_size=64)
        embedder.embed_documents(["warm up"])
    except (FileNotFoundError, ImportError, EmbedderError) as exc:
        pytest.skip(f"the MiniLM embedder is not available: {exc}")
    return embedder


def test_paraphrases_of_apollo_paragraphs_fall_in_the_fidelity_band(minilm, record_property) -> None:
    from ragassets.settings import ParaphraseSettings

    assert tuple(ParaphraseSettings.model_fields["fidelity_band"].default) == FIDELITY_BAND
    report = shared_corpus("apollo13") / "mission_report.md"
    prose = [p.strip() for p in _paragraphs(report.read_text(encoding="utf-8")) if _prose(p.strip())]
    assert len(prose) >= 200
    sample = [prose[i * len(prose) // 100] for i in range(100)]  # 100, spread over the whole report
    t0 = time.perf_counter()
    rewritten = [paraphrase(p, 0) for p in sample]
    rewrite_s = time.perf_counter() - t0
    vectors = minilm.embed_documents(sample + rewritten)
    cos = np.einsum("ij,ij->i", vectors[:100], vectors[100:])
    low, high = FIDELITY_BAND
    share = float(((cos >= low) & (cos < high)).mean())
    record_property("share_in_band", share)
    print(
        f"paraphrase fidelity: {share:.0%} of {len(sample)} in [{low}, {high}); median cosine {np.median(cos):.4f}"
    )
    assert rewrite_s < 2.0  # rules, not a model: ~1 ms a paragraph
    assert share >= 0.8, (
        f"only {share:.0%} of the paraphrases are in the band; cosines: {np.sort(cos).round(4)}"
    )
    assert cos.min() >= low  # nothing drifts: the same facts in other words


def test_questions_never_ask_about_redaction_placeholders():
    from ragassets.llm.providers.offline import find_spans

    sentence = "Present: <PERSON> (chair), <PERSON> (treasurer) and <US_SSN:9c8ff363d3af3d82> on 8 March 2024."
    spans = find_spans(sentence)
    assert [s.text for s in spans] == ["8 March 2024"]
