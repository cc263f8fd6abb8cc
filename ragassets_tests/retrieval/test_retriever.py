"""The Retriever and the search CLI over an index built with MiniLM."""

import io
import json

import numpy as np
import polars as pl
import pytest

from ragassets import paths
from ragassets.embed.cache import EmbeddingCache
from ragassets.retrieval.build import build_chunk_index, write_chunks_jsonl
from ragassets.retrieval.cli_search import search_command
from ragassets.retrieval.index import IndexArtifactError, IndexConfig, build_index, write_index_artifact
from ragassets.retrieval.retriever import Retriever, self_retrieval
from ragassets.storage import write_table


@pytest.fixture
def built(minilm, chunks, tmp_path):
    return build_chunk_index("apollo", chunks, minilm, EmbeddingCache(tmp_path / "cache.sqlite"))


def test_build_embeds_every_chunk_into_a_fixed_size_column(built, chunks, minilm, tmp_path):
    assert built.embeddings.columns == ["corpus", "chunk_id", "vector"]
    assert built.embeddings.schema["vector"] == pl.Array(pl.Float32, 384)
    assert built.ids == chunks["chunk_id"].to_list()
    assert built.info["index_type"] == "flat" and built.cache.misses == len(chunks)
    again = build_chunk_index("apollo", chunks, minilm, EmbeddingCache(tmp_path / "cache.sqlite"))
    assert again.cache.hits == len(chunks) and again.cache.misses == 0
    assert np.allclose(again.embeddings["vector"].to_numpy(), built.embeddings["vector"].to_numpy())


def test_search_finds_the_relevant_chunk(built, chunks, minilm):
    r = Retriever(built.index, built.ids, chunks, minilm)
    hits = r.search("How did the astronauts get rid of CO2?", k=3)
    assert hits[0].chunk_id == "c02" and hits[0].rank == 1
    assert hits[0].heading_path == ("Report", "Section 2") and "lithium hydroxide" in hits[0].text
    assert hits[0].score >= hits[1].score >= hits[2].score
    assert len(r.search("splashdown", k=50)) == len(chunks)  # k above n gives every chunk once
    many = r.search_many(["lifeboat", "seismometers"], k=1)
    assert [h[0].chunk_id for h in many] == ["c01", "c05"]


def test_index_and_table_disagreeing_is_an_error(built, chunks, minilm):
    with pytest.raises(IndexArtifactError, match="rematerialize chunk_index"):
        Retriever(built.index, built.ids, chunks.filter(pl.col("chunk_id") != "c03"), minilm)
    other, _ = build_index(np.eye(6, 8, dtype=np.float32))
    with pytest.raises(IndexArtifactError, match="8-dim"):
        Retriever(other, built.ids, chunks, minilm)


def test_self_retrieval_rate_and_duplicates(built, chunks, minilm):
    r = Retriever(built.index, built.ids, chunks, minilm)
    res = self_retrieval(r, chunks, sample=100)
    assert res["rate"] == 1.0 and res["sampled"] == len(chunks)
    # an index whose rows are shuffled against the ids finds the wrong chunks
    shuffled = Retriever(built.index, list(reversed(built.ids)), chunks, minilm)
    assert self_retrieval(shuffled, chunks)["rate"] < 0.5
    # duplicate texts: rank 1 may be either copy
    dup = pl.concat([chunks, chunks.head(1).with_columns(pl.lit("c99").alias("chunk_id"))])
    vecs = minilm.embed_documents(dup["text"].to_list())
    index, _ = build_index(vecs)
    assert self_retrieval(Retriever(index, dup["chunk_id"].to_list(), dup, minilm), dup)["rate"] == 1.0
    # copies whose line breaks fall elsewhere (a paragraph repeated on another PDF page) tie as well
    first = chunks["text"][0]
    assert " " in first
    rewrapped = pl.concat(
        [
            chunks,
            chunks.head(1).with_columns(pl.lit("c98").alias("chunk_id"), pl.lit(first.replace(" ", "\n", 3)).alias("text")),
            chunks.head(1).with_columns(pl.lit("c99").alias("chunk_id"), pl.lit(first.replace(" ", "  ")).alias("text")),
        ]
    )
    index, _ = build_index(minilm.embed_documents(rewrapped["text"].to_list()))
    res = self_retrieval(Retriever(index, rewrapped["chunk_id"].to_list(), rewrapped, minilm), rewrapped)
    assert res["rate"] == 1.0, res["misses"]


def write_corpus(root, built, chunks, minilm):
    write_table(chunks, paths.table_path("chunks", "apollo", root))
    write_index_artifact(paths.artifact_dir("chunk_index", "apollo", root), built.index, built.ids,
                         minilm.spec(), built.info)


def test_load_from_a_data_root_and_cli(built, chunks, minilm, tmp_path, capsys):
    root = tmp_path / "data"
    write_corpus(root, built, chunks, minilm)
    r = Retriever.load("apollo", root)
    assert r.embedder.model == minilm.model and len(r) == len(chunks)
    assert r.search("Pacific Ocean landing", k=1)[0].chunk_id == "c03"
    out = io.StringIO()
    assert search_command("apollo", "Pacific Ocean landing", 2, root, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1. ") and "c03" in lines[0] and "[Report > Section 3]" in lines[0]
    assert "Samoa" in lines[1] and len(lines) == 4
    out = io.StringIO()
    search_command("apollo", "fuel cells", 1, root, as_json=True, out=out)
    assert json.loads(out.getvalue())["chunk_id"] == "c04"


def test_cli_errors_say_what_to_materialize(tmp_path, capsys):
    assert search_command("nothing", "q", 3, tmp_path / "data") == 2
    assert "materialize chunk_index" in capsys.readouterr().err


def test_cli_subcommand_is_registered(built, chunks, minilm, tmp_path, monkeypatch, capsys):
    from ragassets.cli import main

    root = tmp_path / "data"
    write_corpus(root, built, chunks, minilm)
    monkeypatch.setenv("RAGASSETS_DATA_DIR", str(root))
    assert main(["search", "--corpus", "apollo", "lifeboat", "-k", "1"]) == 0
    assert "c01" in capsys.readouterr().out


def test_chunks_jsonl_export(chunks, tmp_path):
    path = write_chunks_jsonl(chunks, tmp_path / "exports" / "apollo" / "chunks.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == len(chunks) and rows[0]["heading_path"] == ["Report", "Section 0"]
    assert set(rows[0]) == set(chunks.columns)


def test_approximate_retriever_round_trip(minilm, chunks, tmp_path):
    vecs = minilm.embed_documents(chunks["text"].to_list())
    index, info = build_index(vecs, IndexConfig(index_type="hnsw"))
    d = tmp_path / "idx"
    write_index_artifact(d, index, chunks["chunk_id"].to_list(), minilm.spec(), info)
    from ragassets.retrieval.index import load_index_artifact

    idx, ids, _spec, manifest = load_index_artifact(d)
    r = Retriever(idx, ids, chunks, minilm, manifest)
    assert self_retrieval(r, chunks)["rate"] == 1.0 and manifest["recall_at_10"] == 1.0


def test_self_retrieval_reuses_cached_vectors_for_symmetric_embedders(built, chunks, minilm, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")  # filled by the build fixture
    r = Retriever(built.index, built.ids, chunks, minilm)
    assert minilm.symmetric
    before = cache.count()
    assert self_retrieval(r, chunks, cache=cache)["rate"] == 1.0
    assert cache.count() == before  # nothing new was embedded
    shuffled = Retriever(built.index, list(reversed(built.ids)), chunks, minilm)
    assert self_retrieval(shuffled, chunks, cache=cache)["rate"] < 0.5


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_similar_to_chunk_gives_distractors_without_the_gold_chunk(minilm, chunks, kind):
    dup = pl.concat([chunks, chunks.slice(4, 1).with_columns(pl.lit("c99").alias("chunk_id"))])
    vecs = minilm.embed_documents(dup["text"].to_list())
    index, _ = build_index(vecs, IndexConfig(index_type=kind, ivf_nlist=2, ivf_nprobe=2))
    r = Retriever(index, dup["chunk_id"].to_list(), dup, minilm)
    near = r.similar_to_chunk("c04", k=3)  # fuel cells; c99 is an exact copy of it
    assert len(near) == 3 and [h.rank for h in near] == [1, 2, 3]
    assert {h.chunk_id for h in near}.isdisjoint({"c04", "c99"})
    assert near[0].chunk_id == "c00"  # the other oxygen-supply passage
    with pytest.raises(KeyError, match="not in this index"):
        r.similar_to_chunk("nope")
