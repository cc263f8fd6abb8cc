"""Reward functions for GRPO on ``grpo.jsonl``, in TRL's signature. No Dagster import.

Each takes ``(prompts, completions, **kwargs)`` and returns one float per completion, or ``None``
for a completion it cannot score (TRL then leaves that function out of that sample's reward). The
dataset's other columns arrive as keyword arguments: ``task``, ``answer``, ``chunk_id``,
``paraphrase``, ``example_id``. Completions may be plain strings or conversational
(``[{"role": "assistant", "content": ...}]``).

- :func:`answer_correctness` (qa rows): max of normalised exact match and token F1 between the
  completion's ``<answer>`` and the row's ``answer``;
- :func:`retrieval_reward` (retrieval rows): built from a :class:`~ragassets.retrieval.Retriever`
  over the corpus's ``chunk_index``; the completion's ``<query>`` is searched and the reward is the
  reciprocal rank of the original ``chunk_id`` within the top ``k`` (0 when it is not there);
- :func:`format_reward` (every row): 1 when the reply ends with one non-empty tag of its task
  (``<answer>`` for qa, ``<query>`` for retrieval), 0.5 when the tag is there but not last or
  repeated, 0 otherwise.

::

    from datasets import load_dataset
    from trl import GRPOConfig, GRPOTrainer
    from ragassets.rewards import answer_correctness, format_reward, load_retrieval_reward

    data = load_dataset("json", data_files="data/exports/sample/grpo.jsonl")["train"]
    rewards = [answer_correctness, load_retrieval_reward("sample", k=10), format_reward]
    GRPOTrainer(model="path/to/model", reward_funcs=rewards, train_dataset=data,
                args=GRPOConfig(output_dir="out", num_generations=4)).train()
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RewardFn = Callable[..., list[float | None]]

TAG_OF_TASK = {"qa": "answer", "retrieval": "query"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’–—")


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the last assistant turn of a conversational one."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return str(message.get("content") or "")
    return ""


def tag_contents(text: str, tag: str) -> list[str]:
    """Contents of every ``<tag>...</tag>`` in ``text``, stripped."""
    return [m.strip() for m in re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL | re.IGNORECASE)]


def final_tag(text: str, tag: str) -> str | None:
    """The content of the last ``<tag>`` (None when there is none)."""
    found = tag_contents(text, tag)
    return found[-1] if found else None


def normalize_answer(text: str) -> str:
    """Lower case, punctuation and articles dropped, whitespace collapsed (SQuAD's answer normal form)."""
    text = (text or "").casefold().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """Token-level F1 of the normalised texts."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _column(kwargs: dict[str, Any], name: str, n: int) -> list[Any]:
    value = kwargs.get(name)
    if value is None:
        return [None] * n
    if len(value) != n:
        raise ValueError(f"column {name!r} has {len(value)} values for {n} completions")
    return list(value)


def _predicted_answer(text: str) -> str:
    tagged = final_tag(text, "answer")
    if tagged is not None:
        return tagged
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def answer_correctness(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """max(exact match, token F1) of the final answer against ``answer``; None for rows without one
    (retrieval rows). Without an ``<answer>`` tag the last line of the reply is taken."""
    n = len(completions)
    answers, tasks = _column(kwargs, "answer", n), _column(kwargs, "task", n)
    out: list[float | None] = []
    for completion, reference, task in zip(completions, answers, tasks):
        if reference is None or not str(reference).strip() or (task is not None and task != "qa"):
            out.append(None)
            continue
        predicted = _predicted_answer(completion_text(completion))
        exact = normalize_answer(predicted) == normalize_answer(str(reference))
        out.append(1.0 if exact else token_f1(predicted, str(reference)))
    return out


def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 when the reply ends with exactly one non-empty tag of its task, 0.5 when that tag is there
    but repeated or followed by more text, 0.0 otherwise; None for a task it does not know."""
    n = len(completions)
    out: list[float | None] = []
    for completion, task in zip(completions, _column(kwargs, "task", n)):
        if task is not None and task not in TAG_OF_TASK:
            out.append(None)
            continue
        text = completion_text(completion).strip()
        tags = [TAG_OF_TASK[task]] if task is not None else list(TAG_OF_TASK.values())
        best = 0.0
        for tag in tags:
            found = [c for c in tag_contents(text, tag) if c]
            if not found:
                continue
            ends = re.search(rf"<{tag}>\s*\S.*?</{tag}>\s*$", text, flags=re.DOTALL | re.IGNORECASE) is not None
            best = max(best, 1.0 if ends and len(found) == 1 and text.lower().count(f"<{tag}>") == 1 else 0.5)
        out.append(best)
    return out


def retrieval_reward(retriever: Any, *, k: int = 10) -> RewardFn:
    """A reward function that searches each retrieval completion's ``<query>`` (or its whole text)
    with ``retriever`` (anything with ``search_many(queries, k)`` returning hits with ``chunk_id``,
    such as :class:`ragassets.retrieval.Retriever`) and returns the reciprocal rank of the row's
    ``chunk_id`` in the top ``k`` (0.0 when absent or the query is empty); None for other rows."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        chunk_ids, tasks = _column(kwargs, "chunk_id", n), _column(kwargs, "task", n)
        out: list[float | None] = [None] * n
        pending: list[tuple[int, str]] = []
        for i, (completion, chunk_id, task) in enumerate(zip(completions, chunk_ids, tasks)):
            if chunk_id is None or (task is not None and task != "retrieval"):
                continue
            text = completion_text(completion)
            query = final_tag(text, "query")
            query = (query if query is not None else text).strip()
            if query:
                pending.append((i, query))
            else:
                out[i] = 0.0
        if pending:
            hits = retriever.search_many([q for _, q in pending], k)
            for (i, _), found in zip(pending, hits):
                ranks = [rank for rank, hit in enumerate(found, 1) if hit.chunk_id == chunk_ids[i]]
                out[i] = 1.0 / ranks[0] if ranks else 0.0
        return out

    reward.__name__ = reward.__qualname__ = "retrieval_reward"
    return reward


def load_retrieval_reward(corpus: str, data_root: str | Path | None = None, *, k: int = 10) -> RewardFn:
    """:func:`retrieval_reward` over ``corpus``'s materialized ``chunk_index`` (under ``data_root``,
    default ``$RAGASSETS_DATA_DIR`` or ./data), queries embedded by the embedder that built it."""
    from ragassets.retrieval import Retriever

    return retrieval_reward(Retriever.load(corpus, data_root), k=k)


__all__ = [
    "TAG_OF_TASK",
    "answer_correctness",
    "completion_text",
    "final_tag",
    "format_reward",
    "load_retrieval_reward",
    "normalize_answer",
    "retrieval_reward",
    "token_f1",
]
