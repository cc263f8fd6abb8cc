"""LoRA training on the CPU with the real default base model (SmolLM2-135M-Instruct), and what it buys.

1. ``train_adapter`` (what the ``lora_adapter`` asset runs: fingerprint, checkpoints, progress
   callback, report, atomic save) against a bare TRL run (SFTTrainer + peft LoRA, same rows, same
   settings, same save), alternating, median of ``REPEATS`` each. Figure of merit: wall ratio
   (target <= 1.1), and tokens/s of training on this CPU.
2. The Apollo 13 Mission Report through the whole graph with the offline stand-in (documents to
   training_datasets, chunk_index), then ``N_STEPS`` SFT steps and ``model_eval`` on at most
   ``MAX_QUESTIONS`` eval questions: base vs tuned exact match and token F1, closed-book and with
   retrieval. Skips (and says so) when ../shared/corpora/apollo13 is absent.

    .venv/bin/python -m bench.bench_training          # both parts
    BENCH_TRAINING_PARTS=1 .venv/bin/python -m bench.bench_training
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from bench._results import peak_rss_mb, shared_corpora, write_section

STEPS = int(os.environ.get("BENCH_TRAINING_STEPS", "8"))
REPEATS = int(os.environ.get("BENCH_TRAINING_REPEATS", "2"))
N_STEPS = int(os.environ.get("BENCH_TRAINING_N", "30"))
MAX_QUESTIONS = int(os.environ.get("BENCH_TRAINING_MAX_QUESTIONS", "24"))
WORK = Path(tempfile.gettempdir()) / "ragassets-bench-training"
REPO = Path(__file__).resolve().parents[1]


def _rows(n: int = 64) -> list[dict]:
    """SFT rows of about 170 tokens: a question about a paragraph of the Apollo 13 report (or of the
    bundled sample when the shared corpora are absent), answered by the paragraph."""
    corpora = shared_corpora()
    source = corpora / "apollo13" if corpora and (corpora / "apollo13").is_dir() else REPO / "data/corpora/sample"
    paragraphs = []
    for f in sorted(source.rglob("*.md")) + sorted(source.rglob("*.txt")):
        for p in f.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            words = p.split()
            if len(words) >= 60:
                paragraphs.append(" ".join(words[:110]))
    rows = []
    for i in range(n):
        p = paragraphs[i % len(paragraphs)]
        rows.append({"prompt": [{"role": "user", "content": f"What does the report say about {' '.join(p.split()[:8])}?"}],
                     "completion": [{"role": "assistant", "content": p}]})
    return rows


def _bare_trl(base: Path, rows: list[dict], settings, out: Path) -> tuple[float, int]:
    """The same training with TRL and peft only: load, train, save."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ragassets.training.threads import use_cpu_threads

    t0 = time.perf_counter()
    use_cpu_threads(settings.cpu_threads)  # the same threads as train_adapter
    tok = AutoTokenizer.from_pretrained(str(base))
    args = SFTConfig(output_dir=str(out), max_steps=settings.max_steps, per_device_train_batch_size=settings.batch_size,
                     learning_rate=settings.learning_rate, max_length=settings.max_length, seed=settings.seed,
                     activation_checkpointing=False, bf16=False, use_cpu=True, report_to="none", save_strategy="no",
                     logging_steps=1, disable_tqdm=True, include_num_input_tokens_seen="non_padding")
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32),
        args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
        peft_config=LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                               target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    trainer.train()
    trainer.save_model(str(out / "adapter"))
    return time.perf_counter() - t0, int(trainer.state.num_input_tokens_seen)


def part_overhead(base: Path) -> str:
    from ragassets.settings import TrainingSettings
    from ragassets.training.lora import train_adapter

    rows = _rows()
    # save_steps beyond max_steps: no mid-run checkpoint in either run, the same final save
    settings = TrainingSettings(max_steps=STEPS, batch_size=4, save_steps=STEPS + 1, max_length=512)
    asset, bare, tokens, steps_s = [], [], [], []
    for i in range(REPEATS):
        for kind in ("bare", "asset"):
            out = WORK / f"{kind}{i}"
            shutil.rmtree(out, ignore_errors=True)
            if kind == "bare":
                wall, _ = _bare_trl(base, rows, settings, out)
                bare.append(wall)
            else:
                t0 = time.perf_counter()
                report = train_adapter(base, settings, out, sft_train=rows, log=lambda s: None)
                asset.append(time.perf_counter() - t0)
                tokens.append(report.phases[0].tokens_per_s)
                steps_s.append(report.phases[0].seconds_per_step)
    ratio = statistics.median(asset) / statistics.median(bare)
    load = os.getloadavg()[0]
    return (
        f"{STEPS} SFT steps, batch 4, LoRA r 16 all-linear, float32 on the CPU; rows of about 170 tokens. "
        f"Median of {REPEATS} alternating runs, each wall = load the model + prepare the data + train + save.\n\n"
        "| run | wall s (each) | median s |\n|---|---|---:|\n"
        f"| bare TRL (SFTTrainer + peft) | {', '.join(f'{w:.1f}' for w in bare)} | {statistics.median(bare):.1f} |\n"
        f"| `train_adapter` (the lora_adapter asset's work) | {', '.join(f'{w:.1f}' for w in asset)} | "
        f"{statistics.median(asset):.1f} |\n\n"
        f"Wall ratio asset / bare: **{ratio:.2f}** (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'}). "
        f"Training throughput: **{statistics.median(tokens):.0f} tokens/s**, {statistics.median(steps_s):.2f} s/step. "
        f"Load average at the end {load:.1f} on {os.cpu_count()} cores."
    )


def server_like(body: dict) -> str:
    """The LLM test server as a cooperative model for every prompt of the graph: questions whose answers
    are sentences of the passage, paraphrases, conversations, chunk screening and RAG answers (the
    test responders), and a judge that passes an answer found word for word in its passage."""
    import re

    from ragassets_tests.generation.responders import model_like
    from ragassets_tests.rag.responders import rag_like

    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "You grade question/answer pairs" in system:
        context = re.search(r'Source passage:\n"""\n(.*?)\n"""', user, re.DOTALL)
        answer = re.search(r"^Answer: (.*)$", user, re.MULTILINE)
        norm = lambda t: " ".join(t.lower().split())
        grounded = bool(context and answer and norm(answer.group(1)) in norm(context.group(1)))
        acc, overall = (3, 9) if grounded else (1, 5)
        return json.dumps({"accuracy_reason": "in the passage" if grounded else "not found in the passage",
                           "accuracy": acc, "relevance_reason": "about the passage", "relevance": 2,
                           "clarity_reason": "clear", "clarity": 2, "usefulness_reason": "a fact",
                           "usefulness": 2, "overall": overall})
    if ("Is this passage suitable?" in user or "Write a conversation of exactly" in user
            or "Source passage (what the question is about)" in user):
        return rag_like(body)
    return model_like(body)


def _serve(conn) -> None:
    from ragassets_tests.llm_server import LLMTestServer

    with LLMTestServer(responder=server_like, models=["bench-server-model"]) as srv:
        conn.send(srv.port)
        conn.recv()


def part_apollo(source: str = "offline") -> str:
    """``source``: ``offline`` (the stand-in) or ``server`` (the LLM test server as a cooperative model)."""
    import multiprocessing as mp

    corpora = shared_corpora()
    if not corpora or not (corpora / "apollo13").is_dir():
        return "Apollo 13: skipped, ../shared/corpora/apollo13 is absent."
    root = WORK / ("apollo" if source == "offline" else f"apollo-{source}") / "data"
    if not (root / "corpora" / "apollo13").is_dir():
        (root / "corpora").mkdir(parents=True, exist_ok=True)
        shutil.copytree(corpora / "apollo13", root / "corpora" / "apollo13")
    (root / "dagster_home").mkdir(exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    env = {**os.environ, "RAGASSETS_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "RAGASSETS_TRAINING_MAX_STEPS": str(N_STEPS), "RAGASSETS_MODEL_EVAL_MAX_QUESTIONS": str(MAX_QUESTIONS),
           # question/answer lines only: RAG contexts link chunks, and the chunk-disjoint split of a corpus whose
           # examples are all linked has nothing left for eval
           "RAGASSETS_DATASETS_INCLUDE": "[qa]"}
    server = None
    if source == "server":
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        server = ctx.Process(target=_serve, args=(child,), daemon=True)
        server.start()
        if not parent.poll(60):
            raise RuntimeError("the test server did not start within 60 s")
        base_url = f"http://127.0.0.1:{parent.recv()}/v1"
        for role in ("LLM", "SMALL_LLM"):
            env |= {f"RAGASSETS_{role}_PROVIDER": "openai", f"RAGASSETS_{role}_BASE_URL": base_url,
                    f"RAGASSETS_{role}_MODEL": "bench-server-model", f"RAGASSETS_{role}_MAX_CONCURRENCY": "16"}
    try:
        return _apollo_run(root, env, source)
    finally:
        if server is not None:
            parent.send("stop")
            server.join(10)
            if server.is_alive():
                server.terminate()


def _apollo_run(root: Path, env: dict, source: str) -> str:
    cli = str(Path(sys.executable).with_name("ragassets"))
    t0 = time.perf_counter()
    have = [root / "warehouse" / "scored_qa" / "corpus=apollo13" / "data.parquet",
            root / "artifacts" / "chunk_index" / "apollo13", root / "artifacts" / "base_model" / "SmolLM2-135M-Instruct"]
    if all(p.exists() for p in have) and os.environ.get("BENCH_TRAINING_REUSE", "1") == "1":
        upstream = subprocess.CompletedProcess([], 0, "upstream reused from an earlier run", "")
    else:
        upstream = subprocess.run([cli, "materialize", "--corpus", "apollo13", "--select",
                                   "+key:training_datasets or +key:chunk_index or key:base_model"],
                                  env=env, capture_output=True, text=True, check=False)
    t_up = time.perf_counter() - t0
    note = ""
    sft = root / "exports" / "apollo13" / "sft"
    if not (sft / "README.md").is_file():  # no dataset card: training_datasets did not write this folder
        if not (root / "warehouse" / "scored_qa" / "corpus=apollo13" / "data.parquet").is_file():
            tail = (upstream.stdout + upstream.stderr)[-1500:]
            return f"Apollo 13 ({source}): the graph did not get to scored_qa:\n\n```\n{tail}\n```"
        n_train, n_eval = _qa_lines_from_scored_qa(root)
        note = (f" training_datasets did not run (upstream: {_first_failure(upstream.stdout + upstream.stderr)}), so the "
                f"bench wrote the SFT files itself from scored_qa's PASS pairs, one chunk in ten held out "
                f"({n_train} train / {n_eval} eval lines).")
    t1 = time.perf_counter()
    mine = subprocess.run([cli, "materialize", "--corpus", "apollo13", "--select", "lora_adapter,model_eval"],
                          env=env, capture_output=True, text=True, check=False)
    t_mine = time.perf_counter() - t1
    summary = root / "exports" / "apollo13" / "model_eval.md"
    if mine.returncode != 0 or not summary.is_file():
        tail = (upstream.stdout + upstream.stderr + mine.stdout + mine.stderr)[-1500:]
        return f"Apollo 13 ({source}): the graph did not get to model_eval:\n\n```\n{tail}\n```"
    report = json.loads((root / "artifacts" / "lora_adapter" / "apollo13" / "adapter" / "training_report.json").read_text())
    phase = report["phases"][0]
    train_lines = len((root / "exports" / "apollo13" / "sft" / "messages.train.jsonl").read_text().splitlines())
    table = summary.read_text().split("\n", 2)[2].strip()
    what = ("the offline stand-in's question/answer pairs" if source == "offline" else
            "question/answer pairs from the LLM test server playing a cooperative model (answers are sentences of "
            "the chunk; its judge passes an answer found in the passage)")
    return (
        f"**Data: {what}** (`datasets.include: [qa]`, {train_lines} SFT training lines), {N_STEPS} SFT steps "
        f"(batch 4; {phase['train_seconds']:.0f} s, {phase['tokens_per_s']:.0f} tokens/s, loss "
        f"{phase['loss'][0][1]:.2f} -> {phase['final_loss']:.2f}), then at most {MAX_QUESTIONS} eval questions "
        f"asked greedily (64 new tokens, retrieval top 3):\n\n{table}\n\n"
        f"Wall: upstream graph {t_up:.0f} s, lora_adapter + model_eval {t_mine:.0f} s; load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.{note}"
    )


def _first_failure(log: str) -> str:
    for line in log.splitlines():
        if "FAILED" in line or "failed" in line:
            return line.strip()[:200]
    return "see its log"


def _qa_lines_from_scored_qa(root: Path) -> tuple[int, int]:
    """messages.{train,eval}.jsonl from scored_qa's PASS pairs, one chunk in ten (by hash) held out."""
    import hashlib

    import polars as pl

    qa = pl.read_parquet(root / "warehouse" / "scored_qa" / "corpus=apollo13" / "data.parquet")
    sft = root / "exports" / "apollo13" / "sft"
    sft.mkdir(parents=True, exist_ok=True)
    out = {"train": [], "eval": []}
    for r in qa.filter(pl.col("verdict") == "PASS").iter_rows(named=True):
        split = "eval" if int(hashlib.sha256(r["chunk_id"].encode()).hexdigest(), 16) % 10 == 0 else "train"
        out[split].append({"messages": [{"role": "user", "content": r["question"]},
                                        {"role": "assistant", "content": r["answer"]}],
                           "source_chunk_ids": [r["chunk_id"]], "source": "qa", "example_id": r["question_id"]})
    for split, lines in out.items():
        (sft / f"messages.{split}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return len(out["train"]), len(out["eval"])


def main() -> None:
    from ragassets.training.base_model import DEFAULT_BASE_MODEL, materialize_base_model

    parts = os.environ.get("BENCH_TRAINING_PARTS", "12")
    WORK.mkdir(parents=True, exist_ok=True)
    if "1" in parts:
        info = materialize_base_model(DEFAULT_BASE_MODEL, WORK / "artifacts" / "base_model")
        text = part_overhead(Path(info.path))
        write_section("training", "## LoRA training (`bench/bench_training.py`)\n\n" + text +
                      f"\n\nPeak RSS {peak_rss_mb():.0f} MiB. GPU: none was lent to this task.")
    if "2" in parts:
        sources = os.environ.get("BENCH_TRAINING_SOURCES", "offline,server").split(",")
        texts = [part_apollo(source) for source in sources]
        write_section("training_apollo", "## Base vs tuned on Apollo 13 (`bench/bench_training.py`, part 2)\n\n"
                      "Apollo 13 Mission Report through the whole graph, once per data source.\n\n"
                      + "\n\n".join(texts))


if __name__ == "__main__":
    main()
