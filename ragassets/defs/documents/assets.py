"""`documents` and `rejected_documents`: every file of a corpus folder, read or explained."""

import json

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.documents.config import DocumentsConfig
from ragassets.ingest.corpus import IngestResult, ingest_corpus
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.storage import StorageResource

DOCUMENTS_SCHEMA = {
    "corpus": pl.String,
    "doc_id": pl.String,
    "source_path": pl.String,
    "format": pl.String,
    "title": pl.String,
    "text": pl.String,
    "n_chars": pl.Int64,
    "metadata": pl.String,
}
REJECTED_SCHEMA = {"corpus": pl.String, "source_path": pl.String, "reason": pl.String, "detail": pl.String}

def documents_frame(corpus: str, result: IngestResult) -> pl.DataFrame:
    rows = [
        {
            "corpus": corpus,
            "doc_id": d.doc_id,
            "source_path": d.source_path,
            "format": d.format,
            "title": d.title,
            "text": d.text,
            "n_chars": len(d.text),
            "metadata": json.dumps(d.metadata, ensure_ascii=False, sort_keys=True, default=str),
        }
        for d in result.documents
    ]
    return pl.DataFrame(rows, schema=DOCUMENTS_SCHEMA)

def rejected_frame(corpus: str, result: IngestResult) -> pl.DataFrame:
    rows = [{"corpus": corpus, "source_path": r.source_path, "reason": r.reason, "detail": r.detail}
            for r in result.rejections]
    return pl.DataFrame(rows, schema=REJECTED_SCHEMA)

@dg.multi_asset(
    outs={
        "documents": dg.AssetOut(
            description="One row per document read from data/corpora/<corpus>/ (txt, md, pdf, docx, jsonl, "
            "html): text as Unicode NFC, doc_id a hash of the file's bytes.",
            kinds={"polars", "parquet"},
            group_name="ingest",
        ),
        "rejected_documents": dg.AssetOut(
            description="Files (or JSONL lines) that were not ingested, with a reason a person understands; "
            "duplicates of another file are noted here too.",
            kinds={"polars", "parquet"},
            group_name="ingest",
        ),
    },
    partitions_def=corpus_partitions,
)
def documents(context: dg.AssetExecutionContext, config: DocumentsConfig, storage: StorageResource):
    """Read every file of the corpus folder; a bad file is rejected with its reason, never lost."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    folder = storage.corpus_dir(corpus)
    if not folder.is_dir():
        raise dg.Failure(f"corpus folder {folder} does not exist; create it and put documents in it")
    result = ingest_corpus(folder, settings.documents)
    docs = documents_frame(corpus, result)
    rejected = rejected_frame(corpus, result)
    context.log.info(
        f"{corpus}: {result.files_seen} files, {result.files_ingested} ingested as {docs.height} documents, "
        f"{result.duplicates} duplicates, {result.files_rejected} rejected"
    )
    yield dg.Output(
        docs,
        output_name="documents",
        metadata={
            **settings_metadata(settings, config),
            "files_seen": result.files_seen,
            "files_ingested": result.files_ingested,
            "duplicates": result.duplicates,
            "files_rejected": result.files_rejected,
            "total_chars": int(docs["n_chars"].sum()) if docs.height else 0,
            "bytes_read": result.bytes_read,
            **counts_metadata("formats", dict(docs.group_by("format").len().iter_rows()) if docs.height else {}),
        },
    )
    yield dg.Output(
        rejected,
        output_name="rejected_documents",
        metadata=counts_metadata("rejected_by_reason", result.rejected_by_reason()),
    )
