"""End to end: documents -> (redacted_documents) -> chunks -> chunk_index through Dagster, with checks,
artifacts, exports, the embedding cache and the Retriever, on the sample corpus and the Apollo 13 report."""

import json
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from ragassets import paths
from ragassets.retrieval.index import load_index_artifact
from ragassets.retrieval.retriever import Retriever
from ragassets.storage import file_sha256
from ragassets_tests.conftest import check_results, materialize, shared_corpus

pytestmark = pytest.mark.slow

CHUNK_COLUMNS = [
    "corpus", "chunk_id", "doc_id", "seq", "heading_path", "text", "n_tokens",
    "char_start", "char_end", "prev_chunk_id", "next_chunk_id",
]
OUR_CHECKS = {"chunks_not_empty", "chunk_sizes_within_bounds", "chunks_cover_documents", "self_retrieval"}


def materialization(result, asset):
    return next(
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.event_specific_data.materialization.asset_key.path == [asset]
    )


def meta(mat, key):
    return mat.metadata[key].value


def upstream_and(*assets):
    """documents (and redacted_documents once the redaction stage exists) plus ``assets``."""
    from ragassets.defs.chunks.assets import UPSTREAM

    return ",".join(dict.fromkeys(["documents", UPSTREAM, *assets]))


def run_stage(corpus):
    result = materialize(corpus, upstream_and("chunks", "chunk_index"))
    checks = check_results(result)
    failed = {name: c.metadata for name, c in checks.items() if name in OUR_CHECKS and not c.passed}
    assert not failed, failed
    assert OUR_CHECKS <= set(checks)
    return result


def test_stage_on_the_sample_corpus(sample_root):
    result = run_stage("sample")
    chunks = pl.read_parquet(paths.table_path("chunks", "sample", sample_root))
    assert chunks.columns == CHUNK_COLUMNS and chunks.height > 0
    assert (chunks["corpus"] == "sample").all()
    emb = pl.read_parquet(paths.table_path("chunk_index", "sample", sample_root))
    assert emb.columns == ["corpus", "chunk_id", "vector"] and emb.schema["vector"] == pl.Array(pl.Float32, 384)
    assert emb["chunk_id"].to_list() == chunks["chunk_id"].to_list()

    # the artifact, its metadata and the exports
    mat = materialization(result, "chunk_index")
    artifact = paths.artifact_dir("chunk_index", "sample", sample_root)
    assert meta(mat, "index_path") == str(artifact / "index.faiss")
    assert meta(mat, "index_sha256") == file_sha256(artifact / "index.faiss")
    assert meta(mat, "index_bytes") == (artifact / "index.faiss").stat().st_size
    assert meta(mat, "index_type") == "flat" and meta(mat, "cache_misses") == chunks.height
    _, ids, spec, _ = load_index_artifact(artifact)
    assert ids == chunks["chunk_id"].to_list() and spec["dimension"] == 384
    export = paths.export_dir("sample", sample_root)
    lines = (export / "chunks.jsonl").read_text().splitlines()
    assert len(lines) == chunks.height and json.loads(lines[0])["chunk_id"] == chunks["chunk_id"][0]
    assert sorted(p.name for p in (export / "faiss_index").iterdir()) == ["embedder.json", "ids.json", "index.faiss"]
    embedder_json = json.loads((export / "faiss_index" / "embedder.json").read_text())
    assert embedder_json["model"] == "sentence-transformers/all-MiniLM-L6-v2" and embedder_json["dimension"] == 384

    # chunk metadata says how the chunking went
    cmat = materialization(result, "chunks")
    assert meta(cmat, "min_document_coverage") >= 0.99 and meta(cmat, "embedder_window_tokens") == 254

    # search works from the data root
    top = Retriever.load("sample", sample_root).search(chunks["text"][0], k=1)[0]
    assert top.chunk_id == chunks["chunk_id"][0]

    # a second run embeds nothing: every vector comes from the cache, ids are unchanged
    again = materialize("sample", "chunks,chunk_index")
    mat2 = materialization(again, "chunk_index")
    assert meta(mat2, "cache_hits") == chunks.height and meta(mat2, "cache_misses") == 0
    assert pl.read_parquet(paths.table_path("chunks", "sample", sample_root))["chunk_id"].to_list() == ids


def test_stage_in_tiny_batches_writes_the_same_tables_exports_and_figures(sample_root, monkeypatch):
    """The streaming stages (documents, chunks, chunk_index) work a few rows at a time: the tables (row
    groups aside), the JSONL export and the chunk figures are those of the one-batch run."""
    import pyarrow.parquet as pq

    def outputs(result):
        cmat = materialization(result, "chunks")
        figures = {k: meta(cmat, k) for k in cmat.metadata if k.startswith(("chunk", "tokens", "ends", "min_", "doc"))}
        tables = {a: paths.table_path(a, "sample", sample_root) for a in ("documents", "chunks", "chunk_index")}
        groups = {a: pq.ParquetFile(p).metadata.num_row_groups for a, p in tables.items()}
        export = (paths.export_dir("sample", sample_root) / "chunks.jsonl").read_bytes()
        return {a: pl.read_parquet(p) for a, p in tables.items()}, export, figures, groups

    tables, export, figures, groups = outputs(run_stage("sample"))
    assert groups == {"documents": 1, "chunks": 1, "chunk_index": 1}
    assert figures["chunks"] == tables["chunks"].height > 5
    monkeypatch.setattr("ragassets.storage.BATCH_BYTES", 2_000)  # a document or a few chunks a batch
    tiny_tables, tiny_export, tiny_figures, tiny_groups = outputs(run_stage("sample"))
    assert min(tiny_groups.values()) > 1, tiny_groups
    for asset, table in tables.items():
        assert tiny_tables[asset].equals(table), asset
    assert tiny_export == export and tiny_figures == figures


def test_corpus_settings_change_the_chunking(sample_root):
    (sample_root / "corpora" / "sample" / "corpus.yaml").write_text("chunks: {chunk_size: 64, chunk_overlap: 8}\n")
    result = materialize("sample", upstream_and("chunks"))
    chunks = pl.read_parquet(paths.table_path("chunks", "sample", sample_root))
    prose = chunks.filter(~pl.col("text").str.contains("<table|```|\\|---"))
    assert prose["n_tokens"].max() <= 64
    assert meta(materialization(result, "chunks"), "chunk_size") == 64


@pytest.fixture
def warm_embedding_cache(data_root):
    """Reuse MiniLM vectors across test sessions (ragassets_tests/.artifacts/, ignored by git).

    Embedding the 535 chunks of the Apollo report takes a minute on two CPU cores; the cache is keyed
    by the model's identity and each text's hash, so reusing it changes no result, only the time.
    The first run in a fresh checkout pays the full cost.
    """
    from ragassets.embed.cache import CACHE_FILE

    keep = Path(__file__).resolve().parents[2] / ".artifacts" / CACHE_FILE
    if keep.exists():
        shutil.copyfile(keep, data_root / CACHE_FILE)
    yield data_root
    if (data_root / CACHE_FILE).exists():
        keep.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(data_root / CACHE_FILE)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        shutil.copyfile(data_root / CACHE_FILE, keep)


def test_stage_on_the_apollo_13_report(data_root, warm_embedding_cache):
    src = shared_corpus("apollo13")
    corpus = data_root / "corpora" / "apollo13"
    corpus.mkdir()
    shutil.copyfile(src / "mission_report.md", corpus / "mission_report.md")
    result = run_stage("apollo13")  # the default PII policy: the chunks' no_residual_pii gate must pass
    cmat = materialization(result, "chunks")
    assert meta(cmat, "min_document_coverage") >= 0.99
    assert meta(cmat, "ends_mid_sentence_share") <= 0.02
    assert meta(cmat, "chunker/tables_split_by_rows") >= 20
    chunks = pl.read_parquet(paths.table_path("chunks", "apollo13", data_root))
    assert chunks["n_tokens"].max() <= 254
    hits = Retriever.load("apollo13", data_root).search("What caused the oxygen tank failure?", k=5)
    assert any("oxygen" in h.text.lower() and "tank" in h.text.lower() for h in hits)


def test_empty_chunk_check_fails_with_error(tmp_path):
    from dagster import AssetCheckSeverity

    from ragassets.defs.chunks.checks import chunks_not_empty
    from ragassets.storage import StoredTable

    table = pl.DataFrame({"chunk_id": ["a", "b", "c"], "text": ["text", "  \n", None]})
    table.write_parquet(tmp_path / "all.parquet", row_group_size=1)
    table.head(1).write_parquet(tmp_path / "first.parquet")
    result = chunks_not_empty(chunks=StoredTable(tmp_path / "all.parquet"))
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["empty"].value == 2 and result.metadata["empty_chunk_ids"].value == ["b", "c"]
    assert chunks_not_empty(chunks=StoredTable(tmp_path / "first.parquet")).passed
