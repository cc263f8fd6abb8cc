"""chunk_index from a chunks table read in batches: the same ids and vectors as one whole-table build,
written to the embeddings table batch by batch; self-retrieval on the sampled rows alone."""

import numpy as np
import polars as pl
import pytest

from ragassets.embed.cache import EmbeddingCache
from ragassets.retrieval.build import build_chunk_index, chunk_text_batches, embeddings_schema
from ragassets.retrieval.retriever import Retriever, search_own_texts, self_retrieval, self_retrieval_rows
from ragassets.storage import StoredTable, TableWriter
from ragassets.text.chunking import CHUNKS_SCHEMA


@pytest.fixture
def stored_chunks(chunks, tmp_path) -> StoredTable:
    dest = tmp_path / "chunks" / "data.parquet"
    with TableWriter(dest, CHUNKS_SCHEMA) as out:
        out.write(chunks)
    out.close().commit(dest)
    return StoredTable(dest)


def build_streamed(stored, embedder, cache, tmp_path, rows):
    """build_chunk_index as the asset runs it: batches of ``rows`` chunks, each written as it comes."""
    dest = tmp_path / "emb" / f"{rows}.parquet"
    written: list[int] = []
    with TableWriter(dest, embeddings_schema(embedder.dim)) as out:

        def write(frame):
            written.append(frame.height)
            out.write(frame)

        batches = chunk_text_batches(stored.batches(rows=rows, columns=["chunk_id", "text"]))
        build = build_chunk_index("apollo", batches, embedder, cache, rows=stored.num_rows, write=write)
    out.close().commit(dest)
    return build, pl.read_parquet(dest), written


@pytest.mark.parametrize("rows", [1, 4])
def test_batches_give_the_ids_and_vectors_of_one_whole_build(minilm, chunks, stored_chunks, tmp_path, rows):
    whole = build_chunk_index("apollo", chunks, minilm, None)
    build, table, written = build_streamed(stored_chunks, minilm, None, tmp_path, rows)
    assert written == [min(rows, len(chunks) - i) for i in range(0, len(chunks), rows)]
    assert build.embeddings is None and build.ids == whole.ids == chunks["chunk_id"].to_list()
    assert table.schema == whole.embeddings.schema and table["chunk_id"].to_list() == whole.ids
    assert np.allclose(table["vector"].to_numpy(), whole.embeddings["vector"].to_numpy(), atol=1e-5)
    assert build.index.ntotal == len(chunks) and build.info == whole.info
    assert np.allclose(build.index.reconstruct_n(0, len(chunks)), table["vector"].to_numpy())
    # the index finds each chunk by its own text
    r = Retriever(build.index, build.ids, chunks, minilm)
    assert self_retrieval(r, chunks, sample=100)["rate"] == 1.0


def test_streamed_build_uses_the_cache_batch_by_batch(minilm, chunks, stored_chunks, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    first, _, _ = build_streamed(stored_chunks, minilm, cache, tmp_path, 2)
    assert first.cache.misses == len(chunks) and first.cache.hits == 0
    again, table, _ = build_streamed(stored_chunks, minilm, cache, tmp_path, 5)
    assert again.cache.hits == len(chunks) and again.cache.misses == 0
    whole = build_chunk_index("apollo", chunks, minilm, cache)
    assert np.array_equal(table["vector"].to_numpy(), whole.embeddings["vector"].to_numpy())


def test_a_count_that_disagrees_with_the_batches_is_an_error(minilm, chunks):
    batches = [(chunks["chunk_id"].to_list(), chunks["text"].to_list())]
    with pytest.raises(ValueError, match="announced"):
        build_chunk_index("apollo", iter(batches), minilm, None, rows=len(chunks) + 1)
    with pytest.raises(ValueError, match="announced"):
        build_chunk_index("apollo", iter(batches), minilm, None, rows=len(chunks) - 1)


def test_no_chunks_give_an_empty_table_and_index(minilm, tmp_path):
    dest = tmp_path / "data.parquet"
    with TableWriter(dest, embeddings_schema(minilm.dim)) as out:
        build = build_chunk_index("apollo", iter([]), minilm, None, rows=0, write=out.write)
    out.close().commit(dest)
    assert build.ids == [] and build.index.ntotal == 0
    assert pl.read_parquet(dest).schema["vector"] == pl.Array(pl.Float32, minilm.dim)


def test_self_retrieval_on_the_sampled_rows_alone_matches_the_whole_table(minilm, chunks, stored_chunks):
    """The check reads only chunk_id, picks the rows self_retrieval() would pick, reads those rows."""
    built = build_chunk_index("apollo", chunks, minilm, None)
    for ids in (built.ids, list(reversed(built.ids))):  # a sound index, and one whose rows are shuffled
        r = Retriever(built.index, ids, chunks, minilm)
        for sample in (3, 100):
            all_ids = stored_chunks.read(["chunk_id"])["chunk_id"]
            rows = self_retrieval_rows(all_ids.len(), sample)
            assert len(rows) == min(sample, len(chunks))
            picked = stored_chunks.rows_where("chunk_id", all_ids.gather(rows).to_list(), ["chunk_id", "text"])
            assert picked["chunk_id"].to_list() == chunks["chunk_id"].gather(rows).to_list()
            assert search_own_texts(r, picked) == self_retrieval(r, chunks, sample=sample)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_an_approximate_index_built_from_batches(minilm, chunks, stored_chunks, tmp_path, kind):
    """HNSW takes each batch as it comes (the index holds the only copy of the vectors, and recall is
    measured on that copy); IVF gathers them to train first. Both index every chunk, measure recall, and
    find each chunk by its own vector."""
    from ragassets.retrieval.index import IndexConfig, stored_vectors

    cfg = IndexConfig(index_type=kind, ivf_nlist=4, recall_sample=50)
    dest = tmp_path / "emb.parquet"
    with TableWriter(dest, embeddings_schema(minilm.dim)) as out:
        batches = chunk_text_batches(stored_chunks.batches(rows=3, columns=["chunk_id", "text"]))
        build = build_chunk_index("apollo", batches, minilm, None, cfg, rows=stored_chunks.num_rows, write=out.write)
    vectors = pl.read_parquet(out.close().path)["vector"].to_numpy()
    whole = build_chunk_index("apollo", chunks, minilm, None, cfg)
    assert build.info["index_type"] == whole.info["index_type"] == kind
    assert build.index.ntotal == len(chunks) and build.info["recall_sample"] == min(50, len(chunks))
    assert build.info["recall_at_10"] >= 0.9 and whole.info["recall_at_10"] >= 0.9
    if kind == "hnsw":
        held = stored_vectors(build.index)
        assert held is not None and not held.flags.writeable and np.array_equal(held, vectors)
    _, rows = build.index.search(np.ascontiguousarray(vectors), 1)
    assert rows[:, 0].tolist() == list(range(len(chunks)))
