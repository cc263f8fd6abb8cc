"""Base vs tuned on eval questions: prompts per mode, batched greedy answers, scores, the table and chart."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from ragassets.evaluation.model_eval import (
    EvalQuestion,
    eval_questions,
    evaluate,
    exact_match,
    generate_greedy,
    load_eval_model,
    not_worse,
    per_question_markdown,
    predicted_answer,
    retrieval_contexts,
    scores_chart,
    summary,
    summary_markdown,
)
from ragassets.retrieval.retriever import Hit
from ragassets.settings import TrainingSettings
from ragassets.training.lora import train_adapter
from ragassets_tests.training.conftest import sft_rows


def test_scores_use_the_answer_tag_and_squad_normal_form() -> None:
    assert predicted_answer("Thinking...\n<answer>The Lunar Module</answer>") == "The Lunar Module"
    assert exact_match("the lunar module.", "Lunar Module") == 1.0
    assert exact_match("lunar", "Lunar Module") == 0.0


def test_eval_questions_take_the_last_question_and_answer(tmp_path: Path) -> None:
    path = tmp_path / "messages.eval.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": "Q1?"}, {"role": "assistant", "content": "A1"}],
         "source_chunk_ids": ["c1"], "example_id": "e1"},
        {"messages": [{"role": "system", "content": "ctx"}, {"role": "user", "content": "Q2?"},
                      {"role": "assistant", "content": "A2"}, {"role": "user", "content": "Q3?"},
                      {"role": "assistant", "content": "A3"}], "source_chunk_ids": ["c2", "c3"], "example_id": "e2"},
        {"messages": [{"role": "user", "content": "Q1?"}, {"role": "assistant", "content": "A1 again"}],
         "source_chunk_ids": ["c1"], "example_id": "e3"},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    qs = eval_questions(path)
    assert [(q.example_id, q.question, q.reference, q.source_chunk_ids) for q in qs] == [
        ("e1", "Q1?", "A1", ("c1",)), ("e2", "Q3?", "A3", ("c2", "c3"))]
    assert len(eval_questions(path, max_questions=1)) == 1


class _Retriever:
    def search_many(self, queries, k):
        return [[Hit(i + 1, f"c{i}", 0.9, f"passage {i} for {q}", "doc1", ("Report", "Part")) for i in range(k)]
                for q in queries]


def test_retrieval_contexts_fill_the_rag_prompt() -> None:
    fn = retrieval_contexts(_Retriever(), "Retrieved:\n\n{data}", k=2)
    [(system, ids)] = fn([EvalQuestion("e", "When?", "Then", ("c1",))])
    assert ids == ["c0", "c1"]
    assert system.startswith("Retrieved:\n\nChunk 1\nSource: Report > Part\n---\npassage 0 for When?")


@pytest.fixture(scope="module")
def adapter(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("adapter")
    report = train_adapter(tiny_model, TrainingSettings(max_steps=2, batch_size=2, learning_rate=5e-2), work,
                           sft_train=sft_rows(), log=lambda s: None)
    return Path(report.path)


def test_evaluate_asks_both_models_in_both_modes(tiny_model: Path, adapter: Path) -> None:
    from transformers import AutoModelForCausalLM

    model, tok = load_eval_model(tiny_model, adapter, "cpu")
    qs = [EvalQuestion(f"e{i}", f"Where did the crew shelter ({i})?", "In the lunar module.", ("c1",))
          for i in range(3)]
    results = evaluate(model, tok, qs, corpus="t", contexts=retrieval_contexts(_Retriever(), "Ctx:\n{data}", 2),
                       batch_size=2, max_new_tokens=6, log=lambda s: None)
    assert results.height == 3 * 2 * 2
    assert results.group_by("mode", "model").len().height == 4
    retrieval = results.filter(pl.col("mode") == "retrieval")
    assert retrieval["gold_in_context"].to_list() == [True] * 6
    assert retrieval["context_chunk_ids"].to_list()[0] == ["c0", "c1"]
    assert results.filter(pl.col("mode") == "closed_book")["gold_in_context"].null_count() == 6
    # base answers come from the same weights with the adapter switched off: the plain base model agrees
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True).eval()
    convs = [[{"role": "user", "content": q.question}] for q in qs]
    expected = [a for a, _ in generate_greedy(plain, tok, convs, batch_size=2, max_new_tokens=6)]
    base_closed = results.filter((pl.col("mode") == "closed_book") & (pl.col("model") == "base"))
    assert base_closed["answer"].to_list() == expected
    # batching does not change greedy answers
    one_by_one = [a for a, _ in generate_greedy(plain, tok, convs, batch_size=1, max_new_tokens=6)]
    assert one_by_one == expected
    table = summary(results)
    assert table.height == 4 and set(table["questions"].to_list()) == {3}
    assert "| retrieval | tuned | 3 |" in summary_markdown(table)
    assert "data:image/png;base64," in scores_chart(table)
    assert per_question_markdown(results).count("\n") == 1 + 6


def test_not_worse_compares_tuned_with_base_in_retrieval_mode() -> None:
    table = pl.DataFrame({"mode": ["retrieval", "retrieval", "closed_book", "closed_book"],
                          "model": ["base", "tuned", "base", "tuned"], "token_f1": [0.50, 0.49, 0.1, 0.4]})
    assert not_worse(table, "retrieval", tolerance=0.02)[0]
    ok, figures = not_worse(table, "retrieval", tolerance=0.0)
    assert not ok and figures["delta"] == pytest.approx(-0.01)


def test_judge_scores_each_answer_against_its_source_chunk() -> None:
    from ragassets.evaluation.model_eval import RESULT_SCHEMA, judge_answers
    from ragassets.llm import LLMClient, PromptLibrary
    from ragassets.llm.providers.offline import OfflineProvider

    chunks = pl.DataFrame({
        "chunk_id": ["c1", "c2"], "doc_id": ["d", "d"], "seq": [0, 1],
        "text": ["The crew moved into the lunar module Aquarius after the oxygen tank exploded.",
                 "Mission Control in Houston planned the return."],
    })
    row = {"corpus": "t", "mode": "closed_book", "question": "Where did the crew move?", "reference": "Aquarius",
           "exact_match": 0.0, "token_f1": 0.0, "judge_score": None, "context_chunk_ids": [],
           "gold_in_context": None, "new_tokens": 3}
    results = pl.DataFrame([
        {**row, "example_id": "e1", "model": "base", "answer": "Into the lunar module Aquarius.", "source_chunk_ids": ["c1"]},
        {**row, "example_id": "e1", "model": "tuned", "answer": "Bananas are yellow.", "source_chunk_ids": ["c1"]},
        {**row, "example_id": "e2", "model": "base", "answer": "x", "source_chunk_ids": ["unknown"]},
    ], schema=RESULT_SCHEMA)
    judged = judge_answers(results, chunks, LLMClient(OfflineProvider(), cache=None), PromptLibrary(), "t")
    scores = judged["judge_score"].to_list()
    assert scores[0] is not None and scores[1] is not None and scores[2] is None
    assert scores[0] > scores[1]  # a grounded answer outscores an unrelated one
