"""TRL takes the exports as they are: SFTTrainer trains one step on messages.train.jsonl, GRPOTrainer
one step on grpo.jsonl with the reward functions (None for rows a function cannot score), on the
tiny local Llama. Tiny settings, CPU, no reporting: a few seconds each."""

import polars as pl
import pytest

from ragassets.formats.examples import merge_examples, select_qa
from ragassets.formats.grpo import build_grpo_table, write_grpo_exports
from ragassets.formats.sft import write_sft_exports
from ragassets.formats.split import split_examples
from ragassets.rewards import answer_correctness, format_reward, retrieval_reward
from ragassets_tests.llm.tiny_model import build_tiny_llama

datasets = pytest.importorskip("datasets")
trl = pytest.importorskip("trl")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"))


class WordOverlapRetriever:
    """A stand-in for ragassets.retrieval.Retriever: ranks chunks by shared words with the query."""

    def __init__(self, chunks: dict[str, str]):
        self.chunks = chunks
        self.queries: list[str] = []

    def search_many(self, queries, k):
        from ragassets.retrieval import Hit

        self.queries.extend(queries)
        out = []
        for q in queries:
            qw = set(q.lower().split())
            ranked = sorted(self.chunks, key=lambda c: (-len(qw & set(self.chunks[c].lower().split())), c))
            out.append([Hit(i + 1, c, 0.0, self.chunks[c], "d", ()) for i, c in enumerate(ranked[:k])])
        return out


def test_sft_trainer_trains_a_step_on_messages_train(tiny, tmp_path, scored, conversations, rag_conversations):
    from trl import SFTConfig, SFTTrainer

    examples, _ = merge_examples(["qa", "conversations", "rag_conversations"], qa=select_qa(scored, 0),
                                 conversations=conversations, rag_conversations=rag_conversations)
    split = split_examples(examples, eval_share=0.2, seed=0)
    write_sft_exports(tmp_path / "sft", {"train": split.train, "eval": split.eval})
    train = datasets.load_dataset("json", data_files=str(tmp_path / "sft" / "messages.train.jsonl"), split="train")
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, max_length=128,
                     use_cpu=True, report_to=[], save_strategy="no", logging_steps=1)
    trainer = SFTTrainer(model=str(tiny), args=args, train_dataset=train)
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0


def test_grpo_trainer_trains_a_step_on_grpo_jsonl_with_the_reward_functions(tiny, tmp_path, scored):
    from trl import GRPOConfig, GRPOTrainer

    paraphrases = pl.DataFrame({"paraphrase_id": ["p0", "p1"], "chunk_id": ["k0", "k1"],
                                "text": ["zero chunk reworded", "one chunk reworded"]})
    build = build_grpo_table(scored, paraphrases, "c", min_overall=8, max_answer_words=10)
    assert build.counts() == {"qa": 3, "retrieval": 2}
    write_grpo_exports(build.table, tmp_path / "grpo.jsonl", tmp_path / "grpo.parquet")
    data = datasets.load_dataset("json", data_files=str(tmp_path / "grpo.jsonl"), split="train")
    assert set(data.column_names) == {"example_id", "task", "prompt", "answer", "chunk_id", "paraphrase"}
    parquet = datasets.load_dataset("parquet", data_files=str(tmp_path / "grpo.parquet"), split="train")
    assert parquet["prompt"] == data["prompt"] and parquet["task"] == data["task"]

    seen: dict[str, list] = {}

    def spy(prompts, completions, **kwargs):
        seen.update({k: list(v) for k, v in kwargs.items() if k in ("task", "answer", "chunk_id", "paraphrase")})
        return [0.0] * len(completions)

    retriever = WordOverlapRetriever({"k0": "chunk zero text", "k1": "chunk one text", "k2": "two", "k3": "three"})
    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=4,
                      num_generations=2, max_completion_length=4, use_cpu=True, report_to=[], save_strategy="no",
                      logging_steps=1, seed=0)
    trainer = GRPOTrainer(model=str(tiny), args=args, train_dataset=data,
                          reward_funcs=[answer_correctness, retrieval_reward(retriever, k=2), format_reward, spy])
    result = trainer.train()
    assert result.global_step == 1
    assert set(seen) == {"task", "answer", "chunk_id", "paraphrase"}  # columns reach the rewards as kwargs
    assert len(seen["task"]) == 4
    retrieval_rows = [i for i, t in enumerate(seen["task"]) if t == "retrieval"]
    assert len(retriever.queries) == len(retrieval_rows)  # searched only for retrieval rows
    logged = trainer.state.log_history[0]
    assert any(key.startswith("rewards/answer_correctness") for key in logged)
    assert any(key.startswith("rewards/retrieval_reward") for key in logged)
