"""`documents` and `rejected_documents`: every file of a corpus folder, read or explained."""

import dagster as dg

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.documents.config import DocumentsConfig
from ragassets.ingest.corpus import ingest_corpus
from ragassets.ingest.tables import (  # noqa: F401  (documents_frame: bench/ builds the table whole)
    DOCUMENTS_SCHEMA,
    REJECTED_SCHEMA,
    DocumentBatches,
    documents_frame,
    rejected_frame,
)
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.storage import StorageResource


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
    """Read every file of the corpus folder; a bad file is rejected with its reason, never lost. The
    documents are written as they are read, in row groups of about BATCH_BYTES of text."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    folder = storage.corpus_dir(corpus)
    if not folder.is_dir():
        raise dg.Failure(f"corpus folder {folder} does not exist; create it and put documents in it")
    with storage.table_writer("documents", corpus, DOCUMENTS_SCHEMA) as out:
        docs = DocumentBatches(corpus, out.write)
        result = ingest_corpus(folder, settings.documents, on_document=docs)
        docs.flush()
    rejected = rejected_frame(corpus, result)
    context.log.info(
        f"{corpus}: {result.files_seen} files, {result.files_ingested} ingested as {docs.documents} documents, "
        f"{result.duplicates} duplicates, {result.files_rejected} rejected"
    )
    yield dg.Output(
        out.close(),
        output_name="documents",
        metadata={
            **settings_metadata(settings, config),
            "files_seen": result.files_seen,
            "files_ingested": result.files_ingested,
            "duplicates": result.duplicates,
            "files_rejected": result.files_rejected,
            "total_chars": docs.total_chars,
            "bytes_read": result.bytes_read,
            **counts_metadata("formats", dict(docs.formats)),
        },
    )
    yield dg.Output(
        rejected,
        output_name="rejected_documents",
        metadata=counts_metadata("rejected_by_reason", result.rejected_by_reason()),
    )
