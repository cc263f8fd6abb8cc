"""Chunking a documents table batch by batch gives what chunking it whole gives: rows, ids, order, the
JSONL export byte for byte, and the summary figures."""

import itertools
import json

import polars as pl
import pytest

from ragassets.retrieval.build import chunks_jsonl_writer, write_chunks_jsonl
from ragassets.storage import StoredTable, TableWriter
from ragassets.text.chunking import (
    CHUNKS_SCHEMA,
    Chunker,
    ChunkStats,
    ChunkSummary,
    chunk_batches,
    chunk_frame,
    summarize_chunks,
)

DOC_SCHEMA = {"corpus": pl.String, "doc_id": pl.String, "title": pl.String, "text": pl.String}


def _text(i: int) -> str:
    prose = " ".join(f"Paragraph {i} sentence {j} tells of the oxygen tank, the fuel cells and Houston."
                     for j in range(3 + i % 7))
    table = "| a | b |\n|---|---|\n" + "".join(f"| {r} | {r * i} |\n" for r in range(2 + i % 4))
    run_on = " ".join(f"clause{k}" for k in range(60 + i))  # a sentence longer than a chunk: cut mid-sentence
    parts = [f"# Part {i}\n\n{prose}", f"## Data\n\n{table}", f"Closing words of {i} without a stop"]
    if i % 5 == 0:
        parts.insert(1, f"{run_on}. Then a short one.")
    return "\n\n".join(parts[: 1 + i % 3 + (i % 5 == 0)])


@pytest.fixture
def documents() -> pl.DataFrame:
    texts = [_text(i) for i in range(23)] + ["", "   \n", "Lone line."]
    return pl.DataFrame(
        {"corpus": "c", "doc_id": [f"d{i:03d}" for i in range(len(texts))], "title": "t", "text": texts},
        schema=DOC_SCHEMA,
    )


@pytest.fixture
def stored(documents, tmp_path) -> StoredTable:
    """The documents as a table on disk written in several row groups."""
    dest = tmp_path / "documents" / "data.parquet"
    with TableWriter(dest, DOC_SCHEMA) as out:
        for start in range(0, documents.height, 5):
            out.write(documents.slice(start, 5))
    out.close().commit(dest)
    return StoredTable(dest)


def old_jsonl(chunks: pl.DataFrame) -> str:
    """The export as the whole-table writer made it before streaming."""
    lines = [json.dumps(row, ensure_ascii=False) for row in chunks.iter_rows(named=True)]
    return "\n".join(lines) + ("\n" if lines else "")


@pytest.mark.parametrize("rows", [1, 4, 1000])
def test_chunks_of_batches_equal_the_whole_table(counter, documents, stored, tmp_path, rows):
    chunker = Chunker(counter, 48, 8)
    whole_stats = ChunkStats()
    whole = chunk_frame(documents, chunker, whole_stats)
    assert whole.height > 40 and whole["doc_id"].n_unique() < documents.height  # blank documents give none

    stats, summary = ChunkStats(), ChunkSummary()
    batches = stored.batches(rows=rows, columns=["corpus", "doc_id", "text"])
    dest, export = tmp_path / "chunks.parquet", tmp_path / "exports" / "chunks.jsonl"
    frames = 0
    with TableWriter(dest, CHUNKS_SCHEMA) as out, chunks_jsonl_writer(export) as to_jsonl:
        for table in chunk_batches(batches, chunker, stats, summary):
            out.write(table)
            to_jsonl(table)
            frames += 1
    out.close().commit(dest)

    assert frames == -(-documents.height // rows)
    assert pl.read_parquet(dest).equals(whole)  # rows, ids, links, order
    assert export.read_text(encoding="utf-8") == old_jsonl(whole)
    assert stats == whole_stats
    assert summary.figures(stats) == summarize_chunks(documents, whole, whole_stats)


def test_summary_figures_are_those_of_the_whole_table(counter, documents):
    """Mid-sentence ends, the lowest coverage, quantiles: combined over batches they are the whole's."""
    chunker = Chunker(counter, 40, 6)
    whole = chunk_frame(documents, chunker)
    expected = summarize_chunks(documents, whole)
    assert expected["ends_mid_sentence_share"] > 0 and expected["tokens_p95"] > expected["tokens_p50"]
    summary = ChunkSummary()
    edges = [0, 3, 4, 11, 19, documents.height]  # uneven batches
    for lo, hi in itertools.pairwise(edges):
        batch = documents.slice(lo, hi - lo)
        summary.add(batch, chunk_frame(batch, chunker))
    assert summary.figures() == expected
    # a low-coverage document in a later batch lowers the minimum
    lossy = whole.filter(~((pl.col("doc_id") == "d020") & (pl.col("seq") > 0)))
    assert summarize_chunks(documents, lossy)["min_document_coverage"] < 1.0
    summary = ChunkSummary()
    for lo, hi in itertools.pairwise(edges):
        batch = documents.slice(lo, hi - lo)
        summary.add(batch, lossy.filter(pl.col("doc_id").is_in(batch["doc_id"].to_list())))
    assert summary.figures() == summarize_chunks(documents, lossy)


def test_empty_input_gives_the_empty_figures_and_an_empty_export(counter, tmp_path):
    empty = pl.DataFrame(schema=DOC_SCHEMA)
    summary = ChunkSummary()
    assert list(chunk_batches([], Chunker(counter, 48, 8), summary=summary)) == []
    assert summary.figures() == summarize_chunks(empty, chunk_frame(empty, Chunker(counter, 48, 8)))
    path = write_chunks_jsonl(iter([]), tmp_path / "chunks.jsonl")
    assert path.read_bytes() == b""


def test_write_chunks_jsonl_from_a_table_or_its_batches_is_the_same_file(counter, documents, tmp_path):
    whole = chunk_frame(documents, Chunker(counter, 48, 8))
    one = write_chunks_jsonl(whole, tmp_path / "one.jsonl")
    many = write_chunks_jsonl((whole.slice(i, 7) for i in range(0, whole.height, 7)), tmp_path / "many.jsonl")
    assert one.read_bytes() == many.read_bytes() == old_jsonl(whole).encode("utf-8")
