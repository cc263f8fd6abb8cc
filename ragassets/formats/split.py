"""A train/eval split that does not leak: no chunk (or document) on both sides.

An example can rest on several chunks (a conversation on its chunk and neighbours, a RAG item on
its gold passage and distractors). Splitting examples one by one would then put a chunk in train
through one example and in eval through another. Instead the examples are grouped: two examples
that share a chunk (``split_by: chunk``) or a document (``split_by: document``) are in one group,
transitively (union-find), and whole groups are dealt to eval in a seeded random order until eval
holds ``eval_share`` of the examples. The same seed and inputs give the same split.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ragassets.formats.examples import Example

SPLIT_BY = ("chunk", "document")


def chunk_keys(chunk_ids: Sequence[str], by: str, doc_of: Mapping[str, str] | None = None) -> set[str]:
    """What must not be on both sides for a line resting on ``chunk_ids``: the chunks, or their documents."""
    if by == "chunk":
        return set(chunk_ids)
    if by == "document":
        if doc_of is None:
            raise ValueError("split_by document needs the chunk -> document map (the chunks table)")
        missing = [c for c in chunk_ids if c not in doc_of]
        if missing:
            raise ValueError(
                f"chunk {missing[0]} is not in chunks: the source table is older than the chunks; rematerialize it"
            )
        return {doc_of[c] for c in chunk_ids}
    raise ValueError(f"split_by must be one of {', '.join(SPLIT_BY)}, got {by!r}")


def _groups(examples: Sequence[Example], by: str, doc_of: Mapping[str, str] | None) -> list[list[int]]:
    parent = list(range(len(examples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, ex in enumerate(examples):
        for key in sorted(chunk_keys(ex.source_chunk_ids, by, doc_of)):
            if key in owner:
                a, b = find(owner[key]), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(examples)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class Split:
    train: list[Example]
    eval: list[Example]
    by: str
    groups: int  # connected groups of examples (by chunk or document)
    eval_groups: int


def split_examples(
    examples: Sequence[Example],
    *,
    eval_share: float,
    by: str = "chunk",
    seed: int = 0,
    doc_of: Mapping[str, str] | None = None,
) -> Split:
    """Train and eval examples, whole groups on one side each (see the module docstring).

    With ``eval_share > 0`` and at least two groups, eval gets at least one group and train keeps at
    least one; with a single group everything is train.
    """
    if not 0.0 <= eval_share < 1.0:
        raise ValueError(f"eval_share must be in [0, 1), got {eval_share}")
    groups = _groups(examples, by, doc_of)
    # a stable order (by the first example id of each group) before the seeded shuffle
    groups.sort(key=lambda g: min(examples[i].example_id for i in g))
    random.Random(seed).shuffle(groups)
    target = eval_share * len(examples)
    in_eval: set[int] = set()
    eval_groups = 0
    if eval_share > 0 and len(groups) >= 2:
        candidates = groups[:-1]  # the last group (in the seeded order) always stays in train
        for g in candidates:
            if len(in_eval) >= target:
                break
            if len(in_eval) + len(g) > target + len(g) / 2:
                continue  # it would overshoot by more than half of itself: try the next group
            in_eval.update(g)
            eval_groups += 1
        if not eval_groups:  # every group is large next to the target: the smallest one goes to eval
            in_eval.update(min(candidates, key=len))
            eval_groups = 1
    train = [ex for i, ex in enumerate(examples) if i not in in_eval]
    evals = [ex for i, ex in enumerate(examples) if i in in_eval]
    return Split(train=train, eval=evals, by=by, groups=len(groups), eval_groups=eval_groups)


def leaked_keys(
    train_chunk_ids: Sequence[Sequence[str]],
    eval_chunk_ids: Sequence[Sequence[str]],
    by: str = "chunk",
    doc_of: Mapping[str, str] | None = None,
) -> set[str]:
    """Chunks (or documents) that occur on both sides, given each line's ``source_chunk_ids``."""
    train: set[str] = set()
    for ids in train_chunk_ids:
        train |= chunk_keys(ids, by, doc_of)
    leaked: set[str] = set()
    for ids in eval_chunk_ids:
        leaked |= chunk_keys(ids, by, doc_of) & train
    return leaked
