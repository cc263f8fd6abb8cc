"""recall@k on a hand-made case, questions.json round trip, paraphrase cleaning, fidelity, ids."""

import json

import numpy as np
import pytest

from ragassets.generation.ids import paraphrase_id, question_id
from ragassets.generation.paraphrase import clean_paraphrase, fidelity_report, pair_cosines
from ragassets.generation.questions_json import QuestionsFileError, read_questions_json, write_questions_json
from ragassets.generation.recall import rank_of_truth, recall_at_k, same_text_groups


def test_recall_at_k_on_a_hand_made_case():
    retrieved = [
        ["c1", "c2", "c3", "c4", "c5"],  # rank 1
        ["c2", "c1", "c3", "c4", "c5"],  # rank 2
        ["c3", "c4", "c5", "c6", "c2"],  # rank 5
        ["c7", "c8", "c9", "c6", "c5"],  # absent
    ]
    r = recall_at_k(retrieved, ["c1", "c1", "c2", "c1"], k_max=5)
    assert r.ranks == [1, 2, 5, None]
    assert r.recall_at(1) == 0.25
    assert r.recall_at(2) == 0.5
    assert r.recall_at(5) == 0.75
    assert r.curve() == {1: 0.25, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.75}
    assert r.mrr == pytest.approx((1 + 0.5 + 0.2) / 4)
    with pytest.raises(ValueError, match="depth 6"):
        r.recall_at(6)


def test_recall_counts_a_chunk_with_the_same_text_as_the_original():
    groups = same_text_groups(["a", "b", "c"], ["boilerplate", "boilerplate", "other"])
    assert groups == {"a": {"a", "b"}, "b": {"a", "b"}}
    assert same_text_groups(["a", "b"], ["one two\nthree", "one  two three"]) == {"a": {"a", "b"}, "b": {"a", "b"}}
    r = recall_at_k([["b", "a"], ["a", "c"]], ["a", "c"], k_max=2, equivalent=groups)
    assert r.ranks == [1, 2]
    assert rank_of_truth(["x", "y"], "z") is None


def test_questions_json_round_trip(tmp_path):
    rows = [
        {"chunk_id": "c1", "question": "Which year?", "answer": "1970", "difficulty": "easy", "question_id": "q1",
         "corpus": "apollo", "provider": "offline", "model": "m"},
        {"chunk_id": "c2", "question": "Who flew “Aquarius”?", "answer": "Lovell, Haise", "difficulty": "hard",
         "question_id": "q2", "corpus": "apollo", "provider": "offline", "model": "m"},
    ]
    path = tmp_path / "exports" / "apollo" / "questions.json"
    assert write_questions_json(path, rows) == 2
    raw = json.loads(path.read_text(encoding="utf-8"))
    # AutoDidact's keys first, in its order, plus our question_id; nothing else leaks into the file
    assert list(raw[0]) == ["chunk_id", "question", "answer", "difficulty", "question_id"]
    assert "“Aquarius”" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    back = read_questions_json(path)
    assert back == [{k: r[k] for k in ("chunk_id", "question", "answer", "difficulty", "question_id")} for r in rows]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"chunk_id": "c"}', "expected a JSON list"),
        ('[{"chunk_id": "c", "question": "q", "answer": "a", "difficulty": "easy"}]', "lacks question_id"),
        ('[{"chunk_id": "c", "question": "q", "answer": "a", "difficulty": "expert", "question_id": "x"}]',
         "difficulty 'expert'"),
        ('[{"chunk_id": "c", "question": " ", "answer": "a", "difficulty": "easy", "question_id": "x"}]',
         "empty or non-text 'question'"),
        ("[{", "not valid JSON"),
    ],
)
def test_questions_json_reader_names_the_problem(tmp_path, content, message):
    path = tmp_path / "questions.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QuestionsFileError, match=message):
        read_questions_json(path)


def test_writer_refuses_bad_rows(tmp_path):
    with pytest.raises(QuestionsFileError, match="difficulty"):
        write_questions_json(tmp_path / "q.json", [{"chunk_id": "c", "question": "q", "answer": "a",
                                                    "difficulty": "extreme", "question_id": "i"}])
    assert not (tmp_path / "q.json").exists()


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Here is the rewritten passage:\n\nThe crew slept after the burn.", "The crew slept after the burn."),
        ('"""\nThe crew slept.\n"""', "The crew slept."),
        ("```text\nThe crew slept.\n```", "The crew slept."),
        ("Sure! Here's a paraphrase:\nThe crew slept.", "The crew slept."),
        ("The crew slept: here is why.", "The crew slept: here is why."),
        (None, ""),
    ],
)
def test_clean_paraphrase(raw, clean):
    assert clean_paraphrase(raw) == clean


def test_fidelity_band_counts_copies_and_drift():
    rep = fidelity_report([0.999, 0.9, 0.8, 0.3, 0.7], (0.6, 0.995))
    assert (rep.n, rep.too_close, rep.too_far, rep.outside) == (5, 1, 1, 2)
    assert rep.share_outside == 0.4
    a = np.eye(3, dtype=np.float32)
    b = np.asarray([[1, 0, 0], [0, 0.6, 0.8], [0, 0, -1]], dtype=np.float32)
    assert pair_cosines(a, b).tolist() == pytest.approx([1.0, 0.6, -1.0])
    with pytest.raises(ValueError):
        fidelity_report([0.5], (0.9, 0.8))


def test_ids_are_stable_and_distinct():
    assert paraphrase_id("c1", 0, "t") == paraphrase_id("c1", 0, "t")
    assert len({paraphrase_id("c1", 0, "t"), paraphrase_id("c1", 1, "t"), paraphrase_id("c2", 0, "t"),
                paraphrase_id("c1", 0, "u")}) == 4
    assert question_id("c1", "When  did it launch?") == question_id("c1", "When did it launch?")
    assert question_id("c1", "q?") != question_id("c2", "q?")
    assert len(question_id("c1", "q?")) == 16
