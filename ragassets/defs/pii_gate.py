"""`no_residual_pii`: the gate that keeps PII out of everything downstream of redaction.

:func:`no_residual_pii_check` builds the check for any text asset; one line gives a later stage
the same gate::

    chunks_no_residual_pii = no_residual_pii_check(asset="chunks", text_columns=["text"])

Each stage declares its own gate in its ``checks.py``. The check re-analyses the asset's text with the
corpus's PII policy (corpus.yaml; run-config overrides of the redaction step do not weaken it) and fails (ERROR, blocking: nothing downstream
materializes) on any finding at or above the threshold. Its metadata has counts by type and the
ids of the rows concerned, never the text found. Pseudonyms the redaction wrote
(``pii_findings.replacement``) are not residue.

On a derived asset (anything but ``redacted_documents``) each row is judged in the redacted document
it comes from: found by the row's ``doc_id``, or its ``chunk_id`` through ``chunks`` (a conversation,
written from several chunks: the documents of all its ``source_chunk_ids``). PERSON
evidence that only the whole document holds (the words it writes in lowercase, the names it gives
an article or a ship/place prefix) then counts as it did when the document was redacted, so a chunk
is not failed for "Iwo Jima" once "USS" fell into the previous chunk; see
:mod:`ragassets.pii.residual`. Rows whose document cannot be found are judged alone (stricter).
"""

import dagster as dg

from ragassets.defs.common import corpus_of, corpus_settings
from ragassets.metadata import counts_metadata
from ragassets.pii.sources import CHUNKS_TABLE, SOURCE_TABLE
from ragassets.resources.pii import PiiResource
from ragassets.resources.storage import StorageResource
from ragassets.storage import StoredTable

ID_COLUMNS = ("chunk_id", "question_id", "paraphrase_id", "conversation_id", "doc_id", "id")
MAX_IDS = 50


def _id_column(columns: list[str], id_column: str | None) -> str | None:
    if id_column:
        return id_column
    return next((c for c in ID_COLUMNS if c in columns), None)


def _stored_or_none(storage: StorageResource, asset: str, corpus: str) -> StoredTable | None:
    try:
        return storage.stored_table(asset, corpus)
    except FileNotFoundError:
        return None


def no_residual_pii_check(
    asset: str,
    text_columns: list[str],
    id_column: str | None = None,
    name: str = "no_residual_pii",
    blocking: bool = True,
) -> dg.AssetChecksDefinition:
    """A blocking ERROR check that ``asset``'s ``text_columns`` hold no PII the corpus policy finds.

    ``id_column`` names the rows in the metadata (default: the first of chunk_id, question_id, ...,
    doc_id present). Rows of an asset other than redacted_documents are judged in the redacted
    document they come from (by doc_id, or chunk_id through chunks), read from storage.
    """
    if not text_columns:
        raise ValueError(f"no_residual_pii_check({asset!r}): give at least one text column")
    columns = list(text_columns)

    @dg.asset_check(
        asset=asset,
        name=name,
        blocking=blocking,
        additional_ins={"pii_findings": dg.AssetIn("pii_findings")},
        description=f"No PII left in {', '.join(columns)} of {asset}: the text is analysed again with the corpus's "
        "PII policy (its entities plus the pattern types email, phone, card, SSN, IBAN, IP); any finding at or "
        "above the threshold fails the check and blocks what is downstream. Text cut or written from a redacted "
        "document is judged in that document (PERSON evidence only the whole document holds counts as it did when "
        "it was redacted). Metadata: counts by type and row ids.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        storage: StorageResource,
        pii: PiiResource,
        table: StoredTable,
        pii_findings: StoredTable,
    ) -> dg.AssetCheckResult:
        corpus = corpus_of(context)
        policy = corpus_settings(context, storage.root).pii
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise dg.Failure(
                f"no_residual_pii on {asset}: column(s) {missing} are not in the table (columns: {table.columns}); "
                "fix text_columns where the check is declared"
            )
        ids_col = _id_column(table.columns, id_column)
        documents = _stored_or_none(storage, SOURCE_TABLE, corpus) if asset != SOURCE_TABLE else None
        needs_chunks = asset not in (SOURCE_TABLE, CHUNKS_TABLE) and "doc_id" not in table.columns
        chunk_table = _stored_or_none(storage, CHUNKS_TABLE, corpus) if needs_chunks else None
        # which document each chunk is of: two short columns, read once
        chunk_doc = chunk_table.read(["chunk_id", "doc_id"]) if chunk_table is not None else None
        # Presidio loads in the step, not with the code location
        from ragassets.pii.residual import KnownValues

        # fakes look like PII on purpose; placeholders, masks and hashes never do
        known = KnownValues.of(
            pii_findings.read(["replacement"])["replacement"].drop_nulls().unique().to_list()
            if policy.operator == "pseudonym" and "replacement" in pii_findings.columns
            else []
        )
        try:
            with pii.analysis_workers(policy, table.uncompressed_bytes()) as workers:
                report, source_how = pii.residual_in_table(
                    asset, table, columns, ids_col, policy, known, documents, chunk_doc, workers
                )
        except ValueError as exc:
            raise dg.Failure(description=str(exc)) from None
        context.log.info(f"{corpus}/{asset}: {report.describe()}")
        return dg.AssetCheckResult(
            passed=report.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=report.describe(),
            metadata={
                "texts_checked": report.n_texts,
                "residual_findings": report.n_findings,
                "rows_with_residual": len(report.ids),
                **counts_metadata("residual_by_type", report.counts_by_type),
                "row_ids": dg.MetadataValue.json(report.ids[:MAX_IDS]),
                "id_column": ids_col or "(row number)",
                "entities_checked": dg.MetadataValue.json(report.entities_checked),
                "threshold": report.threshold,
                "pseudonyms_ignored": report.ignored_pseudonyms,
                "texts_judged_in_source": report.n_judged_in_source,
                "source_documents_by": source_how,
            },
        )

    return _check
