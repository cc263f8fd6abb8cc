"""Documents handed out as they are read and written in batches give the table an ingest that keeps
them gives, and every file is still accounted for."""

import shutil

import polars as pl
import pyarrow.parquet as pq
import pytest

from ragassets.ingest.corpus import ingest_corpus, unaccounted_files
from ragassets.ingest.tables import DOCUMENTS_SCHEMA, DocumentBatches, documents_frame, rejected_frame
from ragassets.settings import DocumentsSettings
from ragassets.storage import TableWriter
from ragassets_tests.conftest import SAMPLE
from ragassets_tests.ingest.test_readers import build_bad_corpus


@pytest.fixture
def corpus(tmp_path):
    """The sample corpus (every format) plus bad files, a duplicate and a JSONL file with bad lines."""
    root = tmp_path / "corpus"
    build_bad_corpus(root, tmp_path / "outside.txt")
    for path in SAMPLE.iterdir():
        shutil.copyfile(path, root / path.name)
    return root


def stream(root, tmp_path, target_bytes):
    dest = tmp_path / f"documents-{target_bytes}.parquet"
    with TableWriter(dest, DOCUMENTS_SCHEMA) as out:
        batches = DocumentBatches("c", out.write, target_bytes)
        result = ingest_corpus(root, DocumentsSettings(max_file_mb=1), on_document=batches)
        batches.flush()
    out.close().commit(dest)
    return result, batches, dest


@pytest.mark.parametrize("target_bytes", [1, 2_000, 1 << 30])
def test_documents_in_batches_equal_the_whole_table_and_every_file_is_accounted_for(corpus, tmp_path, target_bytes):
    whole = ingest_corpus(corpus, DocumentsSettings(max_file_mb=1))
    expected = documents_frame("c", whole)
    assert expected.height >= 10

    result, batches, dest = stream(corpus, tmp_path, target_bytes)
    table = pl.read_parquet(dest)
    assert table.equals(expected)
    groups = pq.ParquetFile(dest).metadata.num_row_groups
    assert groups == batches.batches and (groups == expected.height if target_bytes == 1 else groups >= 1)
    if target_bytes == 2_000:
        assert 1 < groups < expected.height
    # nothing kept, everything counted
    assert result.documents == [] and result.documents_read == expected.height
    assert batches.documents == expected.height and batches.total_chars == expected["n_chars"].sum()
    assert dict(batches.formats) == dict(expected.group_by("format").len().iter_rows())
    assert rejected_frame("c", result).equals(rejected_frame("c", whole))
    for name in ("files_seen", "bytes_read", "files_ingested", "duplicates", "files_rejected"):
        assert getattr(result, name) == getattr(whole, name), name
    assert result.rejected_by_reason() == whole.rejected_by_reason()
    ingested = set(table["source_path"].to_list())
    assert ingested == result.ingested_sources
    assert unaccounted_files(corpus, ingested, {r.source_path for r in result.rejections}) == []


def test_an_ingest_result_built_by_hand_still_counts_its_documents():
    whole = ingest_corpus(SAMPLE, DocumentsSettings())
    from ragassets.ingest.corpus import IngestResult

    by_hand = IngestResult(documents=list(whole.documents), rejections=list(whole.rejections))
    assert by_hand.files_ingested == whole.files_ingested == len({d.source_path for d in whole.documents})
    assert by_hand.files_rejected == whole.files_rejected
