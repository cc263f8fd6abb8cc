"""The instance profile deploy/postgres/dagster.yaml against a real PostgreSQL server."""

import shutil
from pathlib import Path

import pytest

from ragassets_tests.conftest import REPO, check_results, materialize
from ragassets_tests.services import postgres_server

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_instance(sample_root: Path, monkeypatch: pytest.MonkeyPatch):
    """The sample data root with DAGSTER_HOME on deploy/postgres/dagster.yaml and a fresh server."""
    with postgres_server() as pg:
        for key, value in pg.env.items():
            monkeypatch.setenv(key, value)
        home = sample_root / "dagster_home"
        shutil.copyfile(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
        yield pg, home


def test_sample_runs_and_checks_are_stored_in_postgres(pg_instance):
    import dagster as dg

    pg, home = pg_instance
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"

    result = materialize("sample", select="*chunk_index")
    checks = check_results(result)
    assert {"has_documents", "no_residual_pii", "chunks_cover_documents", "self_retrieval"} <= set(checks)

    # read it back from the server itself, not through Dagster
    runs = pg.query("select run_id, status from runs")
    assert runs == [(result.run_id, "SUCCESS")]
    assert pg.query("select count(*) from run_tags where run_id = %s and key = 'dagster/partition' "
                    "and value = 'sample'", (result.run_id,)) == [(1,)]
    materialized = {r[0] for r in pg.query(
        "select asset_key from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
        (result.run_id,))}
    assert {'["documents"]', '["redacted_documents"]', '["chunks"]', '["chunk_index"]'} <= materialized
    # every check evaluation of the run, keyed (asset, check): two assets have a no_residual_pii check
    expected = {
        (e.event_specific_data.asset_key.to_string(), e.event_specific_data.check_name): e.event_specific_data.passed
        for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert len(expected) >= 8
    stored = {(key, name): status for key, name, status in pg.query(
        "select asset_key, check_name, execution_status from asset_check_executions where run_id = %s",
        (result.run_id,))}
    assert set(stored) == set(expected)
    assert {k for k, status in stored.items() if status == "SUCCEEDED"} == {k for k, ok in expected.items() if ok}
    assert pg.query("select count(*) from event_logs where run_id = %s and dagster_event_type = "
                    "'ASSET_CHECK_EVALUATION'", (result.run_id,)) == [(len(expected),)]
    # nothing fell back to SQLite files under DAGSTER_HOME
    assert not list(home.rglob("*.db"))
