"""The generation flow against the OpenAI-compatible test server (real HTTP, real client)."""

import polars as pl

from ragassets.generation.paraphrase import generate_paraphrases
from ragassets.generation.questions import generate_questions
from ragassets.llm import LLMClient, PromptLibrary
from ragassets.settings import LlmSettings, QuestionsSettings
from ragassets_tests.generation.responders import QUESTION_MARK, model_like
from ragassets_tests.llm_server import LLMTestServer

TEXTS = [
    "Apollo 13 launched on April 11, 1970. It carried three astronauts.",
    "An oxygen tank failed 56 hours into the flight. The crew moved into the lunar module.",
    "UNPARSEABLE chunk about the return to Earth and the splashdown near Samoa.",
]


def _chunks() -> pl.DataFrame:
    return pl.DataFrame({"chunk_id": ["c0", "c1", "c2"], "doc_id": ["d"] * 3, "seq": [0, 1, 2], "text": TEXTS})


def _client(srv) -> LLMClient:
    return LLMClient.from_settings(
        LlmSettings(provider="openai", base_url=srv.base_url, model="test-model", max_repairs=1), cache=None
    )


def test_questions_through_the_server_carry_the_window_and_land_in_the_table():
    seen: list[dict] = []

    def responder(body):
        seen.append(body)
        return model_like(body)

    with LLMTestServer(responder=responder) as srv:
        run = generate_questions(_chunks(), QuestionsSettings(questions_per_chunk=2, min_chunk_words=3),
                                 _client(srv), PromptLibrary(), "apollo")
    firsts = [b for b in seen if len(b["messages"]) == 2]
    prompt = {b["messages"][-1]["content"].split('CURRENT passage:\n"""\n')[1][:12]: b for b in firsts}
    middle = prompt[TEXTS[1][:12]]["messages"][-1]["content"]
    assert TEXTS[0] in middle and TEXTS[2] in middle  # previous and next chunk as context
    first = prompt[TEXTS[0][:12]]["messages"][-1]["content"]
    assert "Previous passage" not in first and TEXTS[1] in first  # one-sided window, not skipped
    assert all(b.get("response_format") for b in firsts)  # structured output asked natively
    q = run.questions
    assert set(q["chunk_id"]) == {"c0", "c1"} and q.height == 4
    assert all(x.startswith(QUESTION_MARK) for x in q["question"])
    assert set(q["answer"]) <= {"Apollo 13 launched on April 11, 1970.", "It carried three astronauts.",
                                "An oxygen tank failed 56 hours into the flight.",
                                "The crew moved into the lunar module."}
    assert set(q["provider"]) == {"openai"} and set(q["model"]) == {"test-model"}
    # the unparseable chunk was asked again once with the error, then recorded as a parse failure
    repairs = [b for b in seen if len(b["messages"]) > 2]
    assert len(repairs) == 1 and "could not be used" in repairs[0]["messages"][-1]["content"]
    c2 = run.outcomes.filter(pl.col("chunk_id") == "c2").row(0, named=True)
    assert c2["status"] == "parse_failure" and c2["error"] == "parse_error"


def test_paraphrases_through_the_server():
    with LLMTestServer(responder=model_like) as srv:
        run = generate_paraphrases(_chunks(), 2, _client(srv), PromptLibrary(), "apollo")
        sent = srv.stats()["chat_requests"]
    assert sent == 6  # 3 chunks x 2 variants, each its own request
    t = run.table
    # variants 0 and 1 get the same reversed text from this responder: the second is a duplicate
    assert t.height == 3 and run.failures == {"duplicate_variant": 3}
    row = t.filter(pl.col("chunk_id") == "c0").row(0, named=True)
    assert row["text"] == "It carried three astronauts. Apollo 13 launched on April 11, 1970."  # preamble cleaned
    assert row["provider"] == "openai" and row["model"] == "test-model"
