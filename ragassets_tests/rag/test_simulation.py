"""The frozen retrieval simulation and the chunk_index neighbours it draws hard negatives from."""

from __future__ import annotations

import faiss
import numpy as np
import polars as pl
import pytest

from ragassets.rag.neighbours import ChunkNeighbours
from ragassets.rag.simulate import prepare_rag, simulation_stats
from ragassets.retrieval.index import build_index, write_index_artifact
from ragassets.settings import RagSettings
from ragassets_tests.rag.corpus import embeddings, synthetic_corpus


@pytest.fixture(scope="module")
def corpus():
    chunks, vectors = synthetic_corpus(n_docs=30, per_doc=10)
    index, _ = build_index(vectors)
    return chunks, vectors, ChunkNeighbours(index, chunks["chunk_id"].to_list(), vectors, chunks)


def _adjacent(chunks: pl.DataFrame) -> dict[str, set[str]]:
    return {c: {x for x in (p, n) if x} for c, p, n in chunks.select("chunk_id", "prev_chunk_id", "next_chunk_id").rows()}


def test_hard_negatives_are_near_but_never_the_chunk_or_its_neighbours(corpus) -> None:
    chunks, vectors, nb = corpus
    ids = chunks["chunk_id"].to_list()
    adjacent = _adjacent(chunks)
    negatives = nb.hard_negatives(ids, 3)
    row = {c: i for i, c in enumerate(ids)}
    for cid in ids:
        got = [n.chunk_id for n in negatives[cid]]
        assert len(got) == 3
        assert cid not in got and not (adjacent[cid] & set(got))
        # near: every negative is closer than any chunk of another document
        other_doc = [row[c] for c in ids if c.split("c")[0] != cid.split("c")[0]]
        far = float((vectors[other_doc] @ vectors[row[cid]]).max())
        assert min(n.score for n in negatives[cid]) > far
        # and they are the nearest once the chunk and its neighbours are left out
        sims = vectors @ vectors[row[cid]]
        allowed = [i for i in np.argsort(-sims) if ids[i] != cid and ids[i] not in adjacent[cid]]
        assert got == [ids[i] for i in allowed[:3]]
    assert nb.searches >= len(ids)


def test_related_keeps_neighbours_and_respects_the_cosine(corpus) -> None:
    _chunks, _, nb = corpus
    rel = nb.related(["d0c3"], 2, min_score=0.5)["d0c3"]
    assert {n.chunk_id for n in rel} == {"d0c2", "d0c4"}
    assert nb.related(["d0c3"], 2, min_score=0.9999)["d0c3"] == []


def test_copies_of_the_text_are_never_neighbours() -> None:
    chunks, vectors = synthetic_corpus(n_docs=3, per_doc=6)
    texts = chunks["text"].to_list()
    texts[7] = texts[1]  # d1c1 repeats d0c1 word for word
    chunks = chunks.with_columns(pl.Series("text", texts))
    vectors[7] = vectors[1]
    index, _ = build_index(vectors)
    nb = ChunkNeighbours(index, chunks["chunk_id"].to_list(), vectors, chunks)
    assert "d1c1" not in {n.chunk_id for n in nb.hard_negatives(["d0c1"], 4)["d0c1"]}


def test_from_the_artifact(tmp_path, corpus) -> None:
    chunks, vectors, nb = corpus
    ids = chunks["chunk_id"].to_list()
    index, info = build_index(vectors)
    write_index_artifact(tmp_path / "flat", index, ids, {"model": "synthetic"}, info)
    shuffled = embeddings(chunks, vectors).sample(fraction=1.0, shuffle=True, seed=1)  # table order does not matter
    loaded = ChunkNeighbours.from_artifact(tmp_path / "flat", shuffled, chunks)
    assert {c: [n.chunk_id for n in v] for c, v in loaded.hard_negatives(ids[:20], 2).items()} == {
        c: [n.chunk_id for n in v] for c, v in nb.hard_negatives(ids[:20], 2).items()
    }
    # an approximate (HNSW) index as chunk_index builds it for big corpora: same exclusions
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(vectors)
    write_index_artifact(tmp_path / "hnsw", hnsw, ids, {"model": "synthetic"}, {"index_type": "hnsw"})
    approx = ChunkNeighbours.from_artifact(tmp_path / "hnsw", embeddings(chunks, vectors), chunks)
    adjacent = _adjacent(chunks)
    for cid, negs in approx.hard_negatives(ids, 2).items():
        assert len(negs) == 2 and not ({n.chunk_id for n in negs} & (adjacent[cid] | {cid}))


@pytest.mark.parametrize("mode", ["random", "hard_negative"])
def test_simulation_statistics_on_a_seeded_run(corpus, mode) -> None:
    chunks, _, nb = corpus
    settings = RagSettings(rag_failure_percentage=0.4, rag_max_chunks=3, distractors=mode, seed=11)
    kept = chunks["chunk_id"].to_list()
    table = prepare_rag("t", kept, chunks, settings, hard_negatives=nb.hard_negatives)
    assert table.height == len(kept) == 300
    stats = simulation_stats(table)
    # 300 Bernoulli(0.4) draws: within 3 standard errors (0.085)
    assert abs(stats["failure_share"] - 0.4) < 0.085
    adjacent = _adjacent(chunks)
    sizes = set()
    for cid, failed, n, ctx in table.select("chunk_id", "rag_failed", "n_chunks", "context_chunk_ids").rows():
        assert 1 <= n <= 3 and len(ctx) == n and len(set(ctx)) == n
        sizes.add(n)
        others = [c for c in ctx if c != cid]
        assert (cid not in ctx) if failed else (cid in ctx)
        assert not (set(others) & adjacent[cid]), "a distractor is the chunk's previous or next chunk"
    assert sizes == {1, 2, 3}  # n is uniform in 1..rag_max_chunks: every size occurs
    if mode == "hard_negative":
        row = table.filter(pl.col("rag_failed") & (pl.col("n_chunks") == 3)).row(0, named=True)
        assert set(row["context_chunk_ids"]) == {n.chunk_id for n in nb.hard_negatives([row["chunk_id"]], 3)[row["chunk_id"]]}
    # success cases put the chunk at different places (shuffled)
    positions = {ctx.index(cid) for cid, f, ctx in table.select("chunk_id", "rag_failed", "context_chunk_ids").rows()
                 if not f and len(ctx) == 3}
    assert len(positions) > 1


def test_simulation_is_reproducible_and_seeded(corpus) -> None:
    chunks, _, _nb = corpus
    kept = chunks["chunk_id"].to_list()[:50]
    s = RagSettings(distractors="random", seed=3)
    a = prepare_rag("t", kept, chunks, s)
    b = prepare_rag("t", list(reversed(kept)), chunks, s)
    assert a.equals(b)
    c = prepare_rag("t", kept, chunks, RagSettings(distractors="random", seed=4))
    assert not a.equals(c)
    with pytest.raises(ValueError, match="hard_negative needs"):
        prepare_rag("t", kept, chunks, RagSettings(distractors="hard_negative"))
    with pytest.raises(ValueError, match="not in chunks"):
        prepare_rag("t", ["nope"], chunks, s)


def test_failure_share_follows_the_setting(corpus) -> None:
    chunks, _, _ = corpus
    kept = chunks["chunk_id"].to_list()
    assert not prepare_rag("t", kept, chunks, RagSettings(rag_failure_percentage=0.0, distractors="random"))["rag_failed"].any()
    assert prepare_rag("t", kept, chunks, RagSettings(rag_failure_percentage=1.0, distractors="random"))["rag_failed"].all()
