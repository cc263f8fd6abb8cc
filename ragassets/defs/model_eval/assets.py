"""`model_eval`: the eval split's questions asked to the base and the tuned model, closed-book and with the
top-k chunks of chunk_index; exact match, token F1 and (with a judge) the judge's score."""

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.model_eval.config import ModelEvalConfig
from ragassets.evaluation.model_eval import (
    RESULT_SCHEMA,
    eval_questions,
    evaluate,
    judge_answers,
    load_eval_model,
    per_question_markdown,
    retrieval_contexts,
    scores_chart,
    summary,
    summary_markdown,
)
from ragassets.llm import PromptLibrary
from ragassets.partitions import corpus_partitions
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.retriever import Retriever
from ragassets.training.base_model import BaseModelError, base_model_path
from ragassets.training.data import TrainingDataError
from ragassets.training.lora import ADAPTER_DIR
from ragassets.training.threads import use_cpu_threads

EVAL_FILE = "sft/messages.eval.jsonl"
SUMMARY_FILE = "model_eval.md"
NO_EVAL = ("The eval split of '{corpus}' (exports/{corpus}/sft/messages.eval.jsonl) has no questions: nothing to "
           "compare. The split keeps every chunk on one side; on a small corpus linked by RAG contexts all examples "
           "can land in train. Add documents or raise datasets.eval_share.")


@dg.asset(
    description="Base vs tuned model on the eval split (exports/<corpus>/sft/messages.eval.jsonl): every question "
    "asked closed-book and with the top-k chunks of chunk_index in the RAG system prompt, greedy and batched. "
    "One row per (question, mode, model): answer, exact match, token F1, judge score (model_eval.judge).",
    partitions_def=corpus_partitions,
    deps=["lora_adapter", "base_model", "chunk_index", "training_datasets"],
    group_name="training",
    kinds={"pytorch", "polars", "parquet"},
    pool="training",
)
def model_eval(context: dg.AssetExecutionContext, config: ModelEvalConfig, storage: StorageResource,
               llm: LLMResource) -> dg.Output[pl.DataFrame]:
    """Ask, score, summarise; the summary table is also written to exports/<corpus>/model_eval.md."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    e = settings.model_eval
    try:
        base = base_model_path(settings.training.base_model, storage.root / "artifacts" / "base_model")
        questions = eval_questions(storage.export_dir(corpus) / EVAL_FILE, e.max_questions)
    except (BaseModelError, TrainingDataError) as exc:
        raise dg.Failure(str(exc)) from None
    if not questions:  # an empty table and the reason, not a failed run: the check warns
        context.log.warning(NO_EVAL.format(corpus=corpus))
        results = pl.DataFrame(schema=RESULT_SCHEMA)
    else:
        adapter = storage.artifact_dir("lora_adapter", corpus) / ADAPTER_DIR
        use_cpu_threads(settings.training.cpu_threads)
        model, tok = load_eval_model(base, adapter, settings.training.device)
        contexts = None
        if "retrieval" in e.modes:
            prompt = settings.rag.final_assistant_prompts[0]
            contexts = retrieval_contexts(Retriever.load(corpus, storage.root), prompt, e.top_k)
        results = evaluate(model, tok, questions, corpus=corpus, modes=e.modes, contexts=contexts,
                           batch_size=e.batch_size, max_new_tokens=e.max_new_tokens, log=context.log.info)
    if e.judge and questions:
        results = judge_answers(results, storage.read_table("chunks", corpus), llm.client(context, settings.llm),
                                PromptLibrary(storage.corpus_dir(corpus)), corpus)
    table = summary(results)
    md = summary_markdown(table) if questions else NO_EVAL.format(corpus=corpus)
    (storage.export_dir(corpus) / SUMMARY_FILE).write_text(f"# model_eval: {corpus}\n\n{md}\n", encoding="utf-8")
    context.log.info(f"model_eval {corpus}:\n{md}")
    return dg.Output(results, metadata={
        "questions": len(questions),
        "summary": dg.MetadataValue.md(md),
        **({"scores": dg.MetadataValue.md(scores_chart(table)),
            "per_question": dg.MetadataValue.md(per_question_markdown(results))} if questions else {}),
        **{f"{r['mode']}/{r['model']}/token_f1": float(r["token_f1"]) for r in table.iter_rows(named=True)},
        **{f"{r['mode']}/{r['model']}/exact_match": float(r["exact_match"]) for r in table.iter_rows(named=True)},
        **settings_metadata(settings, config),
    })
