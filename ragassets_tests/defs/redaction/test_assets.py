"""End to end on the bundled sample corpus: redacted_documents and pii_findings materialize, the
no_residual_pii gate passes, no original value is stored; a weaker policy fails the gate and blocks
chunks; PII written into chunks fails the chunks gate."""

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ragassets_tests.conftest import check_results, materialize

pytestmark = pytest.mark.slow

# PII written in the sample corpus (data/corpora/sample)
SAMPLE_PII = [
    "Daniel Okafor",
    "daniel.okafor@example.com",
    "310-8842",
    "Priya Raman",
    "555.318.2290",
    "Thomas Whitfield",
    "4111 1111 1111 1111",
    "Alvarez",
    "Margaret Ellison",
    "555-201-4477",
    "Helen Marsh",
]
MY_STEPS = ("redaction", "redacted_documents_no_residual_pii", "chunks_no_residual_pii")


def _stored_text(root: Path) -> str:
    """Every cell of every table the PII stage wrote."""
    cells = []
    for asset in ("redacted_documents", "pii_findings"):
        for path in (root / "warehouse" / asset).rglob("*.parquet"):
            cells.append(json.dumps(pl.read_parquet(path).to_dicts(), default=str))
    return "\n".join(cells)


def _logged_text(result) -> str:
    """Messages and metadata of every event of the PII steps in the run."""
    instance = dg.DagsterInstance.get()
    return "\n".join(
        f"{e.user_message} {e.dagster_event!r}"
        for e in instance.all_logs(result.run_id)
        if e.step_key and e.step_key.startswith(MY_STEPS)
    )


def test_sample_corpus_is_redacted_and_passes_the_gate(sample_root: Path) -> None:
    result = materialize("sample", "documents,redacted_documents,pii_findings")
    check = check_results(result)["no_residual_pii"]
    assert check.passed and check.metadata["residual_findings"].value == 0

    redacted = pl.read_parquet(sample_root / "warehouse/redacted_documents/corpus=sample/data.parquet")
    assert redacted.columns == ["corpus", "doc_id", "text", "n_findings", "findings_by_type"]
    roster = redacted.filter(pl.col("text").str.contains("Volunteer roster"))["text"][0]
    assert "led by <PERSON>" in roster and "<EMAIL_ADDRESS>" in roster and "<CREDIT_CARD>" in roster
    findings = pl.read_parquet(sample_root / "warehouse/pii_findings/corpus=sample/data.parquet")
    assert {"corpus", "doc_id", "entity_type", "start", "end", "score", "recognizer"} <= set(findings.columns)
    assert findings.height == int(redacted["n_findings"].sum()) > 10

    stored, logged = _stored_text(sample_root), _logged_text(result)
    assert "findings_by_type" in logged  # the metadata is there, and holds no value
    for value in SAMPLE_PII:
        assert value not in stored, value
        assert value not in logged, value


def test_a_policy_that_leaves_phone_numbers_fails_the_gate_and_blocks_chunks(sample_root: Path) -> None:
    (sample_root / "corpora/sample/corpus.yaml").write_text(
        "pii:\n  entities: [EMAIL_ADDRESS, CREDIT_CARD, PERSON]\n", encoding="utf-8"
    )
    result = materialize("sample", "documents,redacted_documents,pii_findings,chunks", expect_success=False)
    assert not result.success
    check = check_results(result)["no_residual_pii"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.asset_key == dg.AssetKey("redacted_documents")
    assert check.metadata["residual_by_type/PHONE_NUMBER"].value >= 2
    assert len(check.metadata["row_ids"].value) >= 2
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "redacted_documents" in materialized and "chunks" not in materialized  # blocked


def test_pseudonymized_corpus_passes_the_gate_and_stores_no_original(sample_root: Path) -> None:
    (sample_root / "corpora/sample/corpus.yaml").write_text("pii:\n  operator: pseudonym\n", encoding="utf-8")
    result = materialize("sample", "documents,redacted_documents,pii_findings")
    check = check_results(result)["no_residual_pii"]
    assert check.passed and check.metadata["pseudonyms_ignored"].value > 0  # the fakes look like PII
    redacted = pl.read_parquet(sample_root / "warehouse/redacted_documents/corpus=sample/data.parquet")
    assert not redacted["text"].str.contains("<PERSON>").any()
    stored = _stored_text(sample_root)
    for value in SAMPLE_PII:
        assert value not in stored, value


def test_redaction_in_small_batches_writes_what_one_batch_writes(sample_root: Path, monkeypatch) -> None:
    """The stage reads the documents a batch at a time and writes row groups: same tables, gate passes."""
    import pyarrow.parquet as pq

    (sample_root / "corpora/sample/corpus.yaml").write_text("pii:\n  operator: pseudonym\n", encoding="utf-8")
    warehouse = sample_root / "warehouse"
    materialize("sample", "documents,redacted_documents,pii_findings")
    whole = {a: pl.read_parquet(warehouse / a / "corpus=sample/data.parquet") for a in ("redacted_documents", "pii_findings")}
    monkeypatch.setattr("ragassets.storage.BATCH_BYTES", 3_000)
    result = materialize("sample", "redacted_documents,pii_findings")
    check = check_results(result)["no_residual_pii"]
    assert check.passed and check.metadata["texts_checked"].value == whole["redacted_documents"].height
    path = warehouse / "redacted_documents/corpus=sample/data.parquet"
    assert pq.ParquetFile(path).metadata.num_row_groups > 2
    for asset, table in whole.items():
        assert pl.read_parquet(warehouse / asset / "corpus=sample/data.parquet").equals(table), asset
    meta = result.asset_materializations_for_node("redaction")[0].metadata
    assert meta["documents"].value == whole["redacted_documents"].height
    assert meta["findings"].value == whole["pii_findings"].height > 10


def test_the_gate_factory_adds_one_blocking_check_per_asset() -> None:
    from ragassets.definitions import defs
    from ragassets.defs.pii_gate import no_residual_pii_check

    graph = defs.resolve_asset_graph()
    for asset in ("redacted_documents", "chunks"):
        key = dg.AssetCheckKey(dg.AssetKey(asset), "no_residual_pii")
        assert key in graph.asset_check_keys
    made = no_residual_pii_check(asset="paraphrased_chunks", text_columns=["paraphrase"])
    [spec] = list(made.check_specs)
    assert spec.blocking and spec.asset_key == dg.AssetKey("paraphrased_chunks")
    with pytest.raises(ValueError, match="text column"):
        no_residual_pii_check(asset="chunks", text_columns=[])


@pytest.mark.parametrize("batch_bytes", [None, 3_000], ids=["one batch", "batches of 3 kB"])
def test_a_name_planted_into_the_chunks_fails_the_chunks_gate(sample_root: Path, monkeypatch, batch_bytes) -> None:
    """The chunks gate judges each chunk in its redacted document, and still fails on what survives in one;
    read in small batches (each with only its documents), it finds the same."""
    if batch_bytes:
        monkeypatch.setattr("ragassets.storage.BATCH_BYTES", batch_bytes)
    from ragassets.defs.chunks.checks import chunks_no_residual_pii
    from ragassets.defs.documents.assets import documents
    from ragassets.defs.redaction.assets import redaction
    from ragassets.partitions import corpus_partitions
    from ragassets.resources import build_resources

    planted = {1: "The log was signed by Priya Raman.", 4: "Mail the log to jane.roe@example.com."}

    @dg.asset(name="chunks", partitions_def=corpus_partitions, ins={"docs": dg.AssetIn("redacted_documents")})
    def planted_chunks(docs: pl.DataFrame) -> pl.DataFrame:
        """Paragraphs of the redacted documents as chunks, two of them with PII written in."""
        rows = [
            {"chunk_id": f"{doc_id}#{k}", "doc_id": doc_id, "text": part}
            for doc_id, text in docs.select("doc_id", "text").iter_rows()
            for k, part in enumerate(p for p in text.split("\n\n") if p.strip())
        ]
        for i, sentence in planted.items():
            rows[i]["text"] += " " + sentence
        return pl.DataFrame(rows).with_columns(corpus=pl.lit("sample"))

    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(corpus_partitions.name, ["sample"])

    def run(upstream_too: bool):  # in process: quicker than the job's process per step
        chunks_only = dg.AssetSelection.keys("chunks")
        return dg.materialize(
            [documents, redaction, planted_chunks, chunks_no_residual_pii],
            selection=chunks_only.upstream().required_multi_asset_neighbors()
            if upstream_too
            else chunks_only,
            partition_key="sample",
            resources=build_resources(),
            instance=instance,
            raise_on_error=False,
        )

    result = run(upstream_too=True)
    check = check_results(result)["no_residual_pii"]
    assert not result.success and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.asset_key == dg.AssetKey("chunks")
    meta = {k: v.value for k, v in check.metadata.items()}
    chunks = pl.read_parquet(sample_root / "warehouse/chunks/corpus=sample/data.parquet")
    assert meta["residual_by_type/PERSON"] == 1 and meta["residual_by_type/EMAIL_ADDRESS"] == 1
    assert sorted(meta["row_ids"]) == sorted(chunks["chunk_id"][i] for i in planted)
    assert meta["texts_judged_in_source"] == chunks.height and meta["source_documents_by"] == "doc_id"
    assert "Priya Raman" not in json.dumps(meta)  # counts and ids, never the value

    planted.clear()  # the same chunks without the planted PII pass
    assert check_results(run(upstream_too=False))["no_residual_pii"].passed
