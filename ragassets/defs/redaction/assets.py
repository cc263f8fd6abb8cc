"""`redacted_documents` and `pii_findings`: every document with its PII replaced, and where it was.

The policy is the corpus's ``pii:`` block (entities, threshold, operator, allow and deny lists,
language); the work is :func:`ragassets.pii.redact.redact_corpus`. Original values never leave
memory: the tables hold redacted text, offsets, types, scores and the replacement written; the
metadata holds counts and document ids.
"""

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.redaction.config import RedactionConfig
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.pii import PiiResource
from ragassets.resources.storage import StorageResource

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
    documents: pl.DataFrame,
):
    """Find PII in every document of the corpus and replace it (Presidio, offline by default)."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    policy = settings.pii
    docs = list(zip(documents["doc_id"].to_list(), documents["text"].to_list(), strict=True))
    try:
        result = pii.redact(corpus, docs, policy)
    except ValueError as exc:  # a setting that cannot work: the message names it
        raise dg.Failure(description=str(exc)) from None

    redacted = pl.DataFrame(result.documents, schema=REDACTED_SCHEMA)
    findings = pl.DataFrame(result.findings, schema=FINDINGS_SCHEMA)
    with_findings = int((redacted["n_findings"] > 0).sum()) if redacted.height else 0
    context.log.info(
        f"{corpus}: {len(result.findings)} findings in {with_findings} of {redacted.height} documents "
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
        "documents": redacted.height,
        "documents_with_findings": with_findings,
        "findings": len(result.findings),
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
    yield dg.Output(redacted, output_name="redacted_documents", metadata=metadata)
    yield dg.Output(
        findings,
        output_name="pii_findings",
        metadata={
            "findings": findings.height,
            **counts_metadata(
                "by_recognizer",
                dict(findings.group_by("recognizer").len().iter_rows()) if findings.height else {},
            ),
            "findings_by_type": dg.MetadataValue.json(result.counts_by_type),
        },
    )
