"""Examples from every source, the threshold, and a seeded split that never leaks a chunk or document."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragassets.formats.examples import Example, ExampleError, merge_examples, message_problems, select_qa
from ragassets.formats.split import leaked_keys, split_examples


def test_threshold_keeps_pairs_at_or_above_it_and_zero_keeps_all(scored):
    assert select_qa(scored, 7)["overall"].to_list() == [10, 9, 8, 7, 7]
    assert select_qa(scored, 9.5)["overall"].to_list() == [10]
    assert select_qa(scored, 0).height == scored.height  # the unscored pair too
    with pytest.raises(ValueError, match="0 \\(keep all\\) or more"):
        select_qa(scored, -1)


def test_merge_follows_include_and_keeps_source_chunks(scored, conversations, rag_conversations):
    examples, counts = merge_examples(
        ["qa", "conversations", "rag_conversations"], qa=select_qa(scored, 8), conversations=conversations,
        rag_conversations=rag_conversations,
    )
    assert counts == {"qa": 3, "conversations": 2, "rag_conversations": 1}
    qa = examples[0]
    assert qa.messages == ({"role": "user", "content": "Question number 0?"}, {"role": "assistant", "content": "answer 0"})
    assert qa.source_chunk_ids == ("k0",) and qa.example_id == "q0"
    conv = next(e for e in examples if e.example_id == "conv0")
    assert len(conv.messages) == 4 and conv.source_chunk_ids == ("k1", "k2")
    rag = examples[-1]
    assert rag.messages[0]["role"] == "system" and rag.source_chunk_ids == ("k6", "k7")
    only_qa, counts = merge_examples(["qa"], qa=scored, conversations=conversations)
    assert counts == {"qa": 8} and {e.source for e in only_qa} == {"qa"}
    with pytest.raises(ExampleError, match="materialize conversations or remove it from datasets.include"):
        merge_examples(["qa", "conversations"], qa=scored)


def test_bad_source_rows_are_errors_that_name_the_row(conversations):
    bad = conversations.with_columns(messages=conversations["messages"].str.replace("assistant", "robot"))
    with pytest.raises(ExampleError, match="conversations example conv0: message 1 has role 'robot'"):
        merge_examples(["conversations"], conversations=bad)
    assert message_problems([{"role": "user", "content": "hi"}]) == [
        "turns must alternate user/assistant and end with assistant, got ['user']"
    ]
    assert message_problems([]) == ["no messages"]


def _examples(groups: list[list[str]]) -> list[Example]:
    turn = ({"role": "user", "content": "q"}, {"role": "assistant", "content": "a"})
    return [Example(f"e{i}", "qa", turn, tuple(ids)) for i, ids in enumerate(groups)]


def test_split_is_seeded_and_holds_about_the_eval_share():
    examples = _examples([[f"k{i}"] for i in range(100)])
    a = split_examples(examples, eval_share=0.1, seed=1)
    b = split_examples(examples, eval_share=0.1, seed=1)
    c = split_examples(examples, eval_share=0.1, seed=2)
    assert [e.example_id for e in a.eval] == [e.example_id for e in b.eval]
    assert [e.example_id for e in a.eval] != [e.example_id for e in c.eval]
    assert len(a.eval) == 10 and len(a.train) == 90 and a.groups == 100 and a.eval_groups == 10
    assert split_examples(examples, eval_share=0.0).eval == []
    one = split_examples(_examples([["k"], ["k"]]), eval_share=0.5)
    assert one.eval == [] and len(one.train) == 2  # one group: nothing can be held out without leaking


def test_examples_sharing_a_chunk_stay_together_transitively():
    # e0-e1 share k1, e1-e2 share k2: one group of three; e3 alone
    examples = _examples([["k0", "k1"], ["k1", "k2"], ["k2"], ["k9"]])
    for seed in range(10):
        s = split_examples(examples, eval_share=0.5, seed=seed)
        assert s.groups == 2
        assert {e.example_id for e in s.eval} in ({"e3"}, {"e0", "e1", "e2"})
        assert not leaked_keys([e.source_chunk_ids for e in s.train], [e.source_chunk_ids for e in s.eval])


def test_split_by_document(doc_of):
    examples = _examples([["k0"], ["k1"], ["k2"], ["k3"], ["k4"], ["k5"]])  # documents d0 d0 d1 d1 d2 d2
    s = split_examples(examples, eval_share=0.34, by="document", doc_of=doc_of, seed=3)
    train_docs = {doc_of[c] for e in s.train for c in e.source_chunk_ids}
    eval_docs = {doc_of[c] for e in s.eval for c in e.source_chunk_ids}
    assert s.groups == 3 and eval_docs and not train_docs & eval_docs
    # a chunk-level split of the same examples would put both chunks of a document on different sides
    assert leaked_keys([["k0"]], [["k1"]], by="document", doc_of=doc_of) == {"d0"}
    assert leaked_keys([["k0"]], [["k1"]], by="chunk") == set()
    with pytest.raises(ValueError, match="needs the chunk -> document map"):
        split_examples(examples, eval_share=0.2, by="document")
    with pytest.raises(ValueError, match="split_by must be one of chunk, document"):
        split_examples(examples, eval_share=0.2, by="sentence")


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=3), min_size=1, max_size=40),
    share=st.floats(0.0, 0.9),
    seed=st.integers(0, 1000),
)
def test_no_chunk_is_ever_on_both_sides(groups, share, seed):
    examples = _examples([[f"k{i}" for i in g] for g in groups])
    s = split_examples(examples, eval_share=share, seed=seed)
    assert len(s.train) + len(s.eval) + len(s.left_out) == len(examples) and s.train
    assert not leaked_keys([e.source_chunk_ids for e in s.train], [e.source_chunk_ids for e in s.eval])
    if share > 0 and s.groups >= 2:
        assert s.eval
    held = {c for x in s.eval for c in x.source_chunk_ids}
    for e in s.left_out:  # left out only because it rests partly on held-out chunks
        assert held & set(e.source_chunk_ids) and not set(e.source_chunk_ids) <= held


def test_distractors_tying_every_chunk_together_hold_out_chunks_instead():
    # 20 qa pairs on k0..k19 and RAG items that show their gold chunk and three distractors: one group
    qa = [[f"k{i}"] for i in range(20)]
    rag = [[f"k{i}", f"k{(i + 7) % 20}", f"k{(i + 13) % 20}", f"k{(i + 3) % 20}"] for i in range(20)]
    examples = _examples(qa + rag)
    s = split_examples(examples, eval_share=0.1, seed=0)
    assert s.groups == 1 and s.method == "held_out"
    assert len(s.eval) == 4 and all(len(e.source_chunk_ids) == 1 for e in s.eval)  # qa pairs on held-out chunks
    assert not leaked_keys([e.source_chunk_ids for e in s.train], [e.source_chunk_ids for e in s.eval])
    assert 0 < len(s.left_out) < len(rag) and len(s.train) + len(s.eval) + len(s.left_out) == 40
    assert split_examples(examples, eval_share=0.1, seed=0).eval == s.eval  # seeded


def test_example_needs_a_source_chunk():
    with pytest.raises(ExampleError, match="names no source chunk"):
        _examples([[]])
    assert json.dumps(_examples([["k"]])[0].messages)
