"""RAGASSETS_EXECUTOR picks the code location's executor; a wrong or incomplete choice says what to do."""

import pytest

from ragassets.executors import code_location_executor


def test_default_is_the_preloaded_multiprocess_executor(monkeypatch):
    monkeypatch.delenv("RAGASSETS_EXECUTOR", raising=False)
    assert code_location_executor().name == "multiprocess"


def test_celery_reads_its_broker_from_the_environment(monkeypatch):
    pytest.importorskip("dagster_celery", reason="dagster-celery comes with the `scale` extra")
    monkeypatch.setenv("RAGASSETS_EXECUTOR", "celery")
    monkeypatch.delenv("DAGSTER_CELERY_BACKEND_URL", raising=False)
    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="DAGSTER_CELERY_BACKEND_URL"):
        code_location_executor()
    monkeypatch.setenv("DAGSTER_CELERY_BACKEND_URL", "redis://127.0.0.1:1/1")
    assert code_location_executor().name == "celery_executor"


def test_an_unknown_executor_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("RAGASSETS_EXECUTOR", "k8s")
    with pytest.raises(ValueError, match="not one of multiprocess, celery"):
        code_location_executor()


def test_steps_fork_from_a_server_that_has_imported_the_pii_libraries(tmp_path, monkeypatch):
    """The code location does not import Presidio (test_definitions), so the step forkserver preloads it:
    a step starts with it imported and shares its pages instead of importing it again (seconds, 360 MB)."""
    import dagster as dg

    monkeypatch.delenv("RAGASSETS_EXECUTOR", raising=False)
    from ragassets_tests.scale import preload_job

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(dg.reconstructable(preload_job.preload_job_def), instance=instance)
        assert result.success, [str(e.event_specific_data) for e in result.all_events if e.is_failure]
