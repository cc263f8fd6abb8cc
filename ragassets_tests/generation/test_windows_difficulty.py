"""Sliding windows (one-sided at document ends, never across documents) and the difficulty mix."""

from collections import Counter

import polars as pl
import pytest

from ragassets.generation.difficulty import assign_difficulties, difficulty_sequence
from ragassets.generation.windows import build_windows


def _chunks(docs: dict[str, int]) -> pl.DataFrame:
    rows = []
    for doc, n in docs.items():
        for seq in range(n):
            rows.append({"chunk_id": f"{doc}{seq}", "doc_id": doc, "seq": seq, "text": f"text {doc}{seq}"})
    # shuffled order: windows must follow seq, documents their first appearance
    return pl.DataFrame(rows).sort("seq", descending=True)


def test_windows_are_one_sided_at_the_ends_and_stay_in_their_document():
    ws = {w.chunk_id: w for w in build_windows(_chunks({"a": 4, "b": 1}), window=1)}
    assert len(ws) == 5  # nobody skipped: AutoDidact would drop a0, a3 and b0
    assert (ws["a0"].previous, ws["a0"].current, ws["a0"].next) == ("", "text a0", "text a1")
    assert (ws["a1"].previous, ws["a1"].next) == ("text a0", "text a2")
    assert (ws["a3"].previous, ws["a3"].next) == ("text a2", "")
    assert (ws["b0"].previous, ws["b0"].next) == ("", "")  # a one-chunk document: no neighbours
    assert ws["a1"].chunk_ids == ("a0", "a1", "a2")
    assert ws["a1"].text == "text a0\n\ntext a1\n\ntext a2"


def test_window_size_two_and_zero():
    ws = {w.chunk_id: w for w in build_windows(_chunks({"a": 5}), window=2)}
    assert ws["a2"].previous_ids == ("a0", "a1") and ws["a2"].next_ids == ("a3", "a4")
    assert ws["a1"].previous_ids == ("a0",)
    assert ws["a1"].previous == "text a0"
    alone = build_windows(_chunks({"a": 3}), window=0)
    assert [(w.previous, w.next) for w in alone] == [("", "")] * 3
    assert [w.chunk_id for w in alone] == ["a0", "a1", "a2"]


def test_windows_reject_a_table_without_the_columns():
    with pytest.raises(ValueError, match="doc_id"):
        build_windows(pl.DataFrame({"chunk_id": ["x"], "text": ["t"]}))


def test_difficulty_sequence_follows_the_mix_in_every_prefix():
    seq = difficulty_sequence(300, {"easy": 0.5, "medium": 0.3, "hard": 0.2})
    counts = Counter(seq)
    assert counts == {"easy": 150, "medium": 90, "hard": 60}
    for n in (10, 37, 101):
        c = Counter(seq[:n])
        assert abs(c["easy"] - 0.5 * n) <= 1 and abs(c["hard"] - 0.2 * n) <= 1


def test_assign_difficulties_spreads_hard_questions_over_chunks():
    labels = assign_difficulties(6, 2, {"easy": 1, "medium": 1, "hard": 1})
    assert all(len(ls) == 2 for ls in labels)
    assert Counter(x for ls in labels for x in ls) == {"easy": 4, "medium": 4, "hard": 4}
    only_hard = assign_difficulties(3, 2, {"hard": 1.0})
    assert only_hard == [["hard", "hard"]] * 3
    with pytest.raises(ValueError, match="unknown difficulty"):
        difficulty_sequence(3, {"trivial": 1.0})
