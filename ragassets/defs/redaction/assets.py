"""`redacted_documents` and `pii_findings`: every document with its PII replaced, and where it was.

The policy is the corpus's ``pii:`` block (entities, threshold, operator, allow and deny lists,
language); the work is :func:`ragassets.pii.redact.redact_corpus`. Original values never leave
memory: the tables hold redacted text, offsets, types, scores and the replacement written; the
metadata holds counts and document ids.
"""

from collections import Counter

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.redaction.config import RedactionConfig
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.pii import PiiResource
from ragassets.resources.storage import StorageResource
from ragassets.storage import StoredTable

REDACTED_SCHEMA = {
    "corpus": pl.String,
    "doc_id": pl.String,
    "text": pl.String,
    "n_findings": pl.Int64,
    "findings_by_type": pl.String,
}
FINDINGS_SCHEMA = {
    "corpus": pl.String,
    "doc_id": pl.String,
    "entity_type": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "score": pl.Float64,
    "recognizer": pl.String,
    "redacted_start": pl.Int64,
    "redacted_end": pl.Int64,
    "replacement": pl.String,
}
MAX_IDS_IN_METADATA = 50


@dg.multi_asset(
    outs={
        "redacted_documents": dg.AssetOut(
            description="The documents with PII replaced per the corpus policy (pii: in corpus.yaml): "
            "corpus, doc_id, text, n_findings, findings_by_type (JSON counts). Gated by no_residual_pii.",
            kinds={"polars", "parquet", "presidio"},
            group_name="pii",
        ),
        "pii_findings": dg.AssetOut(
            description="One row per redacted span: entity_type, start/end in the original text, score, "
            "recognizer, and redacted_start/redacted_end/replacement in the redacted text. Never the "
            "original value.",
            kinds={"polars", "parquet"},
            group_name="pii",
        ),
    },
    ins={"documents": dg.AssetIn("documents")},
    partitions_def=corpus_partitions,
)
def redaction(
    context: dg.AssetExecutionContext,
    config: RedactionConfig,
    storage: StorageResource,
    pii: PiiResource,
    documents: StoredTable,
):
    """Find PII in every document of the corpus and replace it (Presidio, offline by default).

    The documents are read a batch at a time (twice: find, then replace) and both tables are written
    in row groups, so memory does not grow with the corpus."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    policy = settings.pii
    try:
        redactor = pii.redactor(corpus, policy)
    except ValueError as exc:  # a setting that cannot work: the message names it
        raise dg.Failure(description=str(exc)) from None

    def read_batches():
        for batch in documents.batches(columns=["doc_id", "text"]):
            yield list(zip(batch["doc_id"].to_list(), batch["text"].to_list(), strict=True))

    total_chars = int(documents.read(["n_chars"])["n_chars"].sum()) if "n_chars" in documents.columns else None
    by_recognizer: Counter[str] = Counter()
    try:
        with (
            storage.table_writer("redacted_documents", corpus, REDACTED_SCHEMA) as redacted,
            storage.table_writer("pii_findings", corpus, FINDINGS_SCHEMA) as findings,
        ):
            for doc_rows, finding_rows in redactor.batches(read_batches, total_chars=total_chars):
                redacted.write(pl.DataFrame(doc_rows, schema=REDACTED_SCHEMA))
                findings.write(pl.DataFrame(finding_rows, schema=FINDINGS_SCHEMA))
                by_recognizer.update(r["recognizer"] for r in finding_rows)
    except ValueError as exc:  # e.g. a pattern of the policy that cannot work: the message names it
        raise dg.Failure(description=str(exc)) from None
    result = redactor.summary
    n_docs = result.n_documents
    with_findings = result.n_documents_with_findings
    context.log.info(
        f"{corpus}: {result.n_findings} findings in {with_findings} of {n_docs} documents "
        f"({', '.join(f'{t} {n}' for t, n in result.counts_by_type.items()) or 'none'}); "
        f"{result.docs_per_second:.0f} docs/s"
    )
    if result.language_warnings:
        context.log.warning(
            f"{corpus}: {len(result.language_warnings)} document(s) do not look like '{policy.language}' text; "
            "they were analysed with its recognizers (see metadata language_warnings)"
        )
    metadata = {
        **settings_metadata(settings, config),
        "engine": pii.engine_description(policy),
        "operator": policy.operator,
        "threshold": policy.threshold,
        "entities": dg.MetadataValue.json(policy.entities),
        "documents": n_docs,
        "documents_with_findings": with_findings,
        "findings": result.n_findings,
        **counts_metadata("findings_by_type", result.counts_by_type),
        "empty_documents": len(result.empty_doc_ids),
        "language_warnings": len(result.language_warnings),
        "seconds": round(result.seconds, 3),
        "docs_per_second": round(result.docs_per_second, 1),
    }
    if result.language_warnings:
        metadata["language_warning"] = dg.MetadataValue.md(
            f"{len(result.language_warnings)} document(s) look like another language than the policy's "
            f"'{policy.language}'. They were analysed anyway; names in them are found less well. Set "
            "`pii.language` in corpus.yaml if the corpus is in that language.\n\n"
            + "\n".join(
                f"- {w['doc_id']}: looks like {w['looks_like']}"
                for w in result.language_warnings[:MAX_IDS_IN_METADATA]
            )
        )
    if policy.operator in ("pseudonym", "hash"):
        metadata["key"] = (
            f"secret from ${policy.secret_env}"
            if policy.secret_env
            else "derived from the corpus name: set pii.secret_env for values no one can test guesses against"
        )
    yield dg.Output(redacted.close(), output_name="redacted_documents", metadata=metadata)
    yield dg.Output(
        findings.close(),
        output_name="pii_findings",
        metadata={
            "findings": result.n_findings,
            **counts_metadata("by_recognizer", dict(by_recognizer)),
            "findings_by_type": dg.MetadataValue.json(result.counts_by_type),
        },
    )
