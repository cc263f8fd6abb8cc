"""The tuned model against its base, on the eval split's questions. No Dagster import.

Each eval question is asked to both models in two modes:

- ``closed_book``: the question alone, as the QA training lines ask it;
- ``retrieval``: the top-k chunks of ``chunk_index`` for the question in the system turn, filled into
  the same RAG system prompt the RAG training lines use (``rag.final_assistant_prompts``), then the
  question.

Decoding is greedy and batched (left padding). One model is loaded: the adapter is switched off for
the base answers (``disable_adapter``), so base and tuned see identical weights otherwise. Answers are
scored against the reference with normalised exact match and token F1 (SQuAD's answer normal form).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ragassets.rewards import final_tag, normalize_answer, token_f1
from ragassets.training.data import check_messages, read_jsonl

MODES = ("closed_book", "retrieval")
MODELS = ("base", "tuned")
Log = Callable[[str], None]

RESULT_SCHEMA = {
    "corpus": pl.String,
    "example_id": pl.String,
    "mode": pl.String,
    "model": pl.String,
    "question": pl.String,
    "reference": pl.String,
    "answer": pl.String,
    "exact_match": pl.Float64,
    "token_f1": pl.Float64,
    "judge_score": pl.Float64,
    "context_chunk_ids": pl.List(pl.String),
    "gold_in_context": pl.Boolean,
    "source_chunk_ids": pl.List(pl.String),
    "new_tokens": pl.Int64,
}


@dataclass(frozen=True)
class EvalQuestion:
    example_id: str
    question: str
    reference: str
    source_chunk_ids: tuple[str, ...]


def eval_questions(path: Path, max_questions: int | None = None) -> list[EvalQuestion]:
    """Question/answer pairs of the eval split: the last user turn and the assistant's answer of
    each line (RAG lines too: their question is asked again in both modes, without their passages)."""
    out = []
    seen = set()
    for n, row in enumerate(read_jsonl(path), 1):
        messages = check_messages(row.get("messages"), f"{path}:{n}")
        users = [m["content"] for m in messages if m["role"] == "user"]
        if messages[-1]["role"] != "assistant" or not users:
            continue
        question, reference = users[-1].strip(), messages[-1]["content"].strip()
        if not question or not reference or question in seen:
            continue
        seen.add(question)
        example_id = str(row.get("example_id") or hashlib.sha256(question.encode()).hexdigest()[:16])
        out.append(EvalQuestion(example_id, question, reference, tuple(row.get("source_chunk_ids") or ())))
    return out[:max_questions] if max_questions else out


def closed_book_messages(q: EvalQuestion) -> list[dict[str, str]]:
    return [{"role": "user", "content": q.question}]


def retrieval_messages(q: EvalQuestion, system_prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": q.question}]


def predicted_answer(text: str) -> str:
    """The answer part of a reply: an ``<answer>`` tag's content when there is one, else the reply."""
    tagged = final_tag(text, "answer")
    return (tagged if tagged is not None else text).strip()


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def generate_greedy(model, tok, conversations: Sequence[list[dict[str, str]]], *, batch_size: int,
                    max_new_tokens: int) -> list[tuple[str, int]]:
    """Greedy answers (text, new tokens) to chat conversations, ``batch_size`` per generate call."""
    import torch

    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    out: list[tuple[str, int]] = []
    stop_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
    for start in range(0, len(texts), batch_size):
        enc = tok(texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        with torch.no_grad():
            generated = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                       pad_token_id=tok.pad_token_id, eos_token_id=sorted(stop_ids) or None)
        for row in generated[:, enc["input_ids"].shape[1] :].tolist():
            n = next((j for j, t in enumerate(row) if t in stop_ids), len(row))
            out.append((tok.decode(row[:n], skip_special_tokens=True).strip(), n))
    return out


def load_eval_model(base: Path, adapter: Path, device: str = "auto"):
    """The base model with the adapter attached (switched off for base answers), and its tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    cuda = torch.cuda.is_available() and device != "cpu"
    model = AutoModelForCausalLM.from_pretrained(
        str(base), dtype=torch.bfloat16 if cuda else torch.float32, local_files_only=True
    )
    model = PeftModel.from_pretrained(model, str(adapter)).to("cuda" if cuda else "cpu").eval()
    tok = AutoTokenizer.from_pretrained(str(adapter if (adapter / "tokenizer_config.json").is_file() else base),
                                        local_files_only=True)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


def evaluate(
    model,
    tok,
    questions: Sequence[EvalQuestion],
    *,
    corpus: str,
    modes: Sequence[str] = MODES,
    contexts: Callable[[Sequence[EvalQuestion]], list[tuple[str, list[str]]]] | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 64,
    log: Log = print,
) -> pl.DataFrame:
    """One row per (question, mode, model) with the answer and its scores.

    ``contexts(questions)`` gives, per question, the retrieval system prompt and the chunk ids in it
    (needed for the ``retrieval`` mode). ``model`` is a PeftModel: its adapter is disabled for base.
    """
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown model_eval mode(s) {unknown}; use {', '.join(MODES)}")
    rows: list[dict[str, Any]] = []
    for mode in modes:
        if mode == "retrieval":
            if contexts is None:
                raise ValueError("the retrieval mode needs a retriever (chunk_index)")
            ctx = contexts(questions)
            convs = [retrieval_messages(q, system) for q, (system, _) in zip(questions, ctx, strict=True)]
            ctx_ids = [ids for _, ids in ctx]
        else:
            convs = [closed_book_messages(q) for q in questions]
            ctx_ids = [[] for _ in questions]
        for which in MODELS:
            log(f"model_eval: {len(convs)} questions, {mode}, {which} model")
            if which == "base":
                with model.disable_adapter():
                    answers = generate_greedy(model, tok, convs, batch_size=batch_size, max_new_tokens=max_new_tokens)
            else:
                answers = generate_greedy(model, tok, convs, batch_size=batch_size, max_new_tokens=max_new_tokens)
            for q, (text, n_new), ids in zip(questions, answers, ctx_ids, strict=True):
                pred = predicted_answer(text)
                rows.append({
                    "corpus": corpus,
                    "example_id": q.example_id,
                    "mode": mode,
                    "model": which,
                    "question": q.question,
                    "reference": q.reference,
                    "answer": text,
                    "exact_match": exact_match(pred, q.reference),
                    "token_f1": token_f1(pred, q.reference),
                    "judge_score": None,
                    "context_chunk_ids": list(ids),
                    "gold_in_context": bool(set(ids) & set(q.source_chunk_ids)) if mode == "retrieval" else None,
                    "source_chunk_ids": list(q.source_chunk_ids),
                    "new_tokens": n_new,
                })
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def summary(results: pl.DataFrame) -> pl.DataFrame:
    """Mean scores per mode and model (the evaluation table)."""
    return (
        results.group_by("mode", "model")
        .agg(
            pl.len().alias("questions"),
            pl.col("exact_match").mean().round(4),
            pl.col("token_f1").mean().round(4),
            pl.col("judge_score").mean().round(3),
            pl.col("gold_in_context").mean().round(4).alias("gold_retrieved"),
        )
        .sort("mode", "model")
    )


def summary_markdown(table: pl.DataFrame) -> str:
    lines = ["| mode | model | questions | exact match | token F1 | judge | gold chunk retrieved |",
             "|---|---|---|---|---|---|---|"]

    def fmt(v: Any, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    for r in table.iter_rows(named=True):
        lines.append(f"| {r['mode']} | {r['model']} | {r['questions']} | {fmt(r['exact_match'])} | "
                     f"{fmt(r['token_f1'])} | {fmt(r['judge_score'], 2)} | {fmt(r['gold_retrieved'], 2)} |")
    return "\n".join(lines)


def per_question_markdown(results: pl.DataFrame, limit: int = 20) -> str:
    """Base and tuned answers side by side, per question and mode (cut to ``limit`` questions)."""
    def cell(text: Any, n: int = 100) -> str:
        s = " ".join(str(text or "").split()).replace("|", "\\|")
        return s if len(s) <= n else s[: n - 1] + "…"

    wide = results.pivot(on="model", index=["example_id", "mode", "question", "reference"],
                         values=["answer", "token_f1"], aggregate_function="first")
    lines = ["| mode | question | reference | base answer | F1 | tuned answer | F1 |", "|---|---|---|---|---|---|---|"]
    for r in wide.sort("mode", "example_id").head(limit * 2).iter_rows(named=True):
        lines.append(
            f"| {r['mode']} | {cell(r['question'], 80)} | {cell(r['reference'], 60)} | {cell(r.get('answer_base'))} | "
            f"{(r.get('token_f1_base') or 0):.2f} | {cell(r.get('answer_tuned'))} | {(r.get('token_f1_tuned') or 0):.2f} |"
        )
    return "\n".join(lines)


def scores_chart(table: pl.DataFrame) -> str:
    """Grouped bars: exact match and token F1 per mode, base next to tuned (Markdown with a PNG)."""
    from ragassets.plots import figure_markdown, new_figure

    fig = new_figure((6.0, 3.2))
    axes = fig.subplots(1, 2, sharey=True)
    modes = sorted(set(table["mode"].to_list()))
    for ax, metric, title in zip(axes, ("exact_match", "token_f1"), ("exact match", "token F1")):
        width = 0.38
        for i, which in enumerate(MODELS):
            vals = []
            for mode in modes:
                hit = table.filter((pl.col("mode") == mode) & (pl.col("model") == which))
                vals.append(float(hit[metric][0]) if hit.height else 0.0)
            xs = [k + (i - 0.5) * width for k in range(len(modes))]
            ax.bar(xs, vals, width=width, label=which)
        ax.set_xticks(range(len(modes)), modes)
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small")
    return figure_markdown(fig, "Base vs tuned model")


def not_worse(table: pl.DataFrame, mode: str = "retrieval", tolerance: float = 0.0) -> tuple[bool, dict[str, float]]:
    """Whether the tuned model's token F1 in ``mode`` is at least base's minus ``tolerance``."""
    def f1(which: str) -> float:
        hit = table.filter((pl.col("mode") == mode) & (pl.col("model") == which))
        return float(hit["token_f1"][0]) if hit.height else float("nan")

    base, tuned = f1("base"), f1("tuned")
    return tuned >= base - tolerance, {"base_f1": base, "tuned_f1": tuned, "delta": tuned - base}


def retrieval_contexts(retriever, prompt: str, k: int):
    """A ``contexts`` function for :func:`evaluate`: the top-``k`` chunks for each question, filled into
    ``prompt`` (a RAG system prompt with ``{data}``) the way the RAG training lines show them."""
    from ragassets.rag.answers import chunk_source
    from ragassets.rag.segments import ContextChunk, fill_prompt

    def contexts(questions: Sequence[EvalQuestion]) -> list[tuple[str, list[str]]]:
        out = []
        for hits in retriever.search_many([q.question for q in questions], k):
            chunks = [ContextChunk(h.chunk_id, chunk_source(h.heading_path, h.doc_id), h.text) for h in hits]
            out.append((fill_prompt(prompt, chunks), [h.chunk_id for h in hits]))
        return out

    return contexts


def judge_answers(results: pl.DataFrame, chunks: pl.DataFrame, client: Any, prompts: Any, corpus: str) -> pl.DataFrame:
    """``results`` with ``judge_score`` filled by the LLM judge (the rubric of ``scored_qa``, overall 1-10):
    each model answer is graded against the question's source chunk. Rows without a known source chunk,
    or whose judgment failed, keep a null score."""
    from ragassets.judging import judge_questions

    known = set(chunks["chunk_id"].to_list())
    rows = [
        {"question_id": f"{r['example_id']}:{r['mode']}:{r['model']}", "chunk_id": r["source_chunk_ids"][0],
         "question": r["question"], "answer": predicted_answer(r["answer"]) or "(no answer)"}
        for r in results.iter_rows(named=True)
        if r["source_chunk_ids"] and r["source_chunk_ids"][0] in known
    ]
    if not rows:
        return results
    run = judge_questions(pl.DataFrame(rows), chunks, client, prompts, corpus, pass_threshold=0, review_threshold=0)
    scores = dict(run.scored.select("question_id", "overall").iter_rows())
    keys = [f"{e}:{m}:{w}" for e, m, w in results.select("example_id", "mode", "model").iter_rows()]
    return results.with_columns(
        pl.Series("judge_score", [scores.get(k) for k in keys], dtype=pl.Float64)
    )
