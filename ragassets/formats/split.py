"""A train/eval split that does not leak: no chunk (or document) on both sides.

An example can rest on several chunks (a conversation on its chunk and neighbours, a RAG item on
its gold passage and distractors). Splitting examples one by one would then put a chunk in train
through one example and in eval through another. Instead the examples are grouped: two examples
that share a chunk (``split_by: chunk``) or a document (``split_by: document``) are in one group,
transitively (union-find), and whole groups are dealt to eval in a seeded random order until eval
holds ``eval_share`` of the examples. The same seed and inputs give the same split.

RAG items show distractor passages, and on a small corpus they tie nearly every chunk into one group:
dealing groups would then leave eval empty. In that case (groups give eval less than half its share)
chunks are held out instead: in a seeded order, fewest-chunk examples first, an example's chunks are
held out until the examples resting only on held-out chunks fill eval's share. Examples resting only
on the other chunks are train; examples resting on both are left out (``Split.left_out``, counted in
the metadata and the dataset card), so still no chunk is on both sides.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    method: str = "groups"  # groups | held_out (see the module docstring)
    left_out: list[Example] = field(default_factory=list)  # held_out only: examples on both sides' chunks


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
    if eval_share > 0 and len(in_eval) < target / 2:
        held = _hold_out(examples, by, doc_of, target, seed)
        if held is not None:
            in_eval, out = held
            return Split(
                train=[ex for i, ex in enumerate(examples) if i not in in_eval and i not in out],
                eval=[ex for i, ex in enumerate(examples) if i in in_eval],
                by=by, groups=len(groups), eval_groups=0, method="held_out",
                left_out=[ex for i, ex in enumerate(examples) if i in out],
            )
    train = [ex for i, ex in enumerate(examples) if i not in in_eval]
    evals = [ex for i, ex in enumerate(examples) if i in in_eval]
    return Split(train=train, eval=evals, by=by, groups=len(groups), eval_groups=eval_groups)


def _hold_out(
    examples: Sequence[Example], by: str, doc_of: Mapping[str, str] | None, target: float, seed: int
) -> tuple[set[int], set[int]] | None:
    """(eval, left out) example indices from held-out chunks (see the module docstring); None when no
    hold-out leaves both sides non-empty."""
    keys = [chunk_keys(ex.source_chunk_ids, by, doc_of) for ex in examples]
    resting: dict[str, list[int]] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            resting.setdefault(k, []).append(i)
    order = sorted(range(len(examples)), key=lambda i: examples[i].example_id)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: len(keys[i]))  # stable: fewest chunks first, seeded order within
    held: set[str] = set()
    count = [0] * len(examples)
    in_eval: set[int] = set()
    touched: set[int] = set()
    for i in order:
        if len(in_eval) >= target:
            break
        new = keys[i] - held
        if not new:
            continue
        would_touch = touched | {j for k in new for j in resting[k]}
        if len(would_touch) >= len(examples):
            continue  # holding these out would leave nothing for train
        held |= new
        for k in new:
            for j in resting[k]:
                count[j] += 1
                if count[j] == len(keys[j]):
                    in_eval.add(j)
        touched = would_touch
    if not in_eval:
        return None
    return in_eval, touched - in_eval


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
