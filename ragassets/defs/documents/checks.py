"""Checks on `documents`: every file accounted for, and something was ingested."""


import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of
from ragassets.ingest.corpus import list_corpus_files, unaccounted_files
from ragassets.resources.storage import StorageResource
from ragassets.storage import StoredTable


@dg.asset_check(
    asset="documents",
    additional_ins={"rejected_documents": dg.AssetIn("rejected_documents")},
    blocking=True,
    description="Files on disk = ingested sources + duplicates + rejected files. Nothing is lost silently.",
)
def every_file_accounted_for(
    context: dg.AssetCheckExecutionContext,
    documents: StoredTable,
    rejected_documents: pl.DataFrame,
    storage: StorageResource,
) -> dg.AssetCheckResult:
    folder = storage.corpus_dir(corpus_of(context))
    ingested = set(documents.read(["source_path"])["source_path"].to_list())
    rejected = set(rejected_documents["source_path"].to_list())
    missing = unaccounted_files(folder, ingested, rejected)
    duplicates = rejected_documents.filter(pl.col("reason") == "duplicate").height
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not missing else f"{len(missing)} file(s) on disk are neither documents nor rejected",
        metadata={
            "files_on_disk": len(list_corpus_files(folder)),
            "ingested_sources": len(ingested),
            "duplicates": duplicates,
            "rejected_sources": len(rejected) - duplicates,
            "unaccounted": len(missing),
            "unaccounted_files": dg.MetadataValue.json(missing[:50]),
        },
    )


@dg.asset_check(
    asset="documents",
    additional_ins={"rejected_documents": dg.AssetIn("rejected_documents")},
    blocking=True,
    description="At least one document was ingested; otherwise the rejection reasons say why not.",
)
def has_documents(documents: StoredTable, rejected_documents: pl.DataFrame) -> dg.AssetCheckResult:
    reasons = dict(rejected_documents.group_by("reason").len().iter_rows()) if rejected_documents.height else {}
    n = documents.num_rows
    return dg.AssetCheckResult(
        passed=n > 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if n else "no document was ingested: see rejected_by_reason",
        metadata={"documents": n, "rejected_by_reason": dg.MetadataValue.json(reasons)},
    )
