"""The alert sensors against a real Dagster instance (a temporary DAGSTER_HOME) and real sinks."""

import json
from pathlib import Path

import dagster as dg
import pytest

from ragassets.alert_sensors import (
    ALERT_SENSORS,
    CHECK_ALERT_SENSOR,
    RUN_FAILURE_ALERT_SENSOR,
    check_alert_sensor,
    check_alert_tick,
    evaluate_alert_sensors_once,
    run_failure_alert_sensor,
)
from ragassets.alerts import AlertLedger, default_alert_file, ledger_path
from ragassets_tests.alerts.alert_servers import HookServer

corpus = dg.DynamicPartitionsDefinition(name="corpus")


@dg.asset(partitions_def=corpus)
def scores() -> int:
    return 3


@dg.asset_check(asset=scores, description="A quality figure under its threshold: WARN, not blocking.")
def mean_score_at_least_threshold() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description="mean score 0.42 < 0.7",
        metadata={"mean_score": 0.42, "threshold": 0.7, "worst_answer": "text that must not travel"},
    )


@dg.asset_check(asset=scores)
def scores_not_empty() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"rows": 3})


@dg.asset(partitions_def=corpus)
def crashing() -> int:
    raise RuntimeError("the GPU fell off the bus")


TEST_DEFS = dg.Definitions(
    assets=[scores, crashing],
    asset_checks=[mean_score_at_least_threshold, scores_not_empty],
    sensors=ALERT_SENSORS,
)


def _run(instance, *assets, partition="sample", checks=(mean_score_at_least_threshold, scores_not_empty)):
    if partition not in instance.get_dynamic_partitions("corpus"):
        instance.add_dynamic_partitions("corpus", [partition])
    return dg.materialize(
        [*assets, *checks],
        instance=instance,
        partition_key=partition,
        selection=list(assets),
        raise_on_error=False,
    )


def _lines(root: Path) -> list[dict]:
    path = default_alert_file(root)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _tick(sensor, instance, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(ctx)
    assert isinstance(result, dg.SkipReason)
    return ctx.cursor, result.skip_message


@pytest.fixture
def instance(data_root: Path):
    with dg.instance_for_test(temp_dir=str(data_root / "dagster_home")) as inst:
        yield inst


def test_failed_check_alerts_once_in_file_and_webhook(instance, data_root, monkeypatch):
    monkeypatch.setenv("RAGASSETS_ALERTS_WEBSERVER_URL", "http://ui.test:3000")
    with HookServer() as hook:
        monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_URL", hook.url)
        run = _run(instance, scores)
        assert run.success  # a failed WARN check does not fail the run: hence this sensor

        cursor, message = _tick(check_alert_sensor, instance, None)
        lines = _lines(data_root)
        assert len(lines) == 1 and len(hook.posts) == 1
        alert = lines[0]
        assert (alert["asset"], alert["check"], alert["partition"], alert["severity"]) == (
            "scores",
            "mean_score_at_least_threshold",
            "sample",
            "WARN",
        )
        assert alert["figures"] == {"mean_score": 0.42, "threshold": 0.7}
        assert alert["description"] == "mean score 0.42 < 0.7"
        assert alert["run_url"] == f"http://ui.test:3000/runs/{run.run_id}"
        assert hook.posts[0]["json"]["alert"]["key"] == alert["key"]
        assert "text that must not travel" not in json.dumps(hook.posts[0]["json"])
        assert "read 2 check evaluation(s); sent 1 alert(s)" == message
        assert int(cursor) > 0

        # re-evaluation: nothing new
        again, message = _tick(check_alert_sensor, instance, cursor)
        assert again == cursor and message.startswith("read 0")
        # even a reset cursor does not send it twice (the ledger remembers)
        _, message = _tick(check_alert_sensor, instance, None)
        assert "sent 0 alert(s), 1 already sent" in message
        assert len(_lines(data_root)) == 1 and len(hook.posts) == 1

        # the same check failing for another corpus is a new alert, and the cursor moves on
        _run(instance, scores, partition="other")
        newer, _ = _tick(check_alert_sensor, instance, cursor)
        assert int(newer) > int(cursor)
        assert [a["partition"] for a in _lines(data_root)] == ["sample", "other"] and len(hook.posts) == 2


def test_dead_webhook_does_not_break_the_sensor(instance, data_root, monkeypatch):
    monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_URL", "http://127.0.0.1:9/hooks/secret")
    monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_RETRIES", "1")
    monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_TIMEOUT_S", "0.5")
    _run(instance, scores)
    cursor, message = _tick(check_alert_sensor, instance, None)
    assert message.endswith("failing sinks: webhook x1")
    assert len(_lines(data_root)) == 1 and int(cursor) > 0  # the file sink still got it
    ledger = AlertLedger(ledger_path(data_root))
    assert ledger.outcome(_lines(data_root)[0]["key"]) == (["file"], ["webhook"])


def test_min_severity_error_skips_warn_checks(instance, data_root, monkeypatch):
    monkeypatch.setenv("RAGASSETS_ALERTS_MIN_SEVERITY", "ERROR")
    _run(instance, scores)
    cursor, message = _tick(check_alert_sensor, instance, None)
    assert message == "read 2 check evaluation(s); sent 0 alert(s)" and int(cursor) > 0
    assert _lines(data_root) == []


def test_run_failure_alerts_once(instance, data_root, monkeypatch):
    with HookServer() as hook:
        monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_URL", hook.url)
        run = _run(instance, crashing, checks=())
        assert not run.success
        cursor, message = _tick(run_failure_alert_sensor, instance, None)
        assert message == "read 1 run failure(s); sent 1 alert(s)"
        (alert,) = _lines(data_root)
        assert (
            alert["kind"] == "run_failed" and alert["run_id"] == run.run_id and alert["partition"] == "sample"
        )
        assert alert["description"] == "step crashing failed: RuntimeError: the GPU fell off the bus"
        assert hook.posts[0]["json"]["text"].startswith("[ERROR] run of")
        again, message = _tick(run_failure_alert_sensor, instance, cursor)
        assert (
            again == cursor
            and message.startswith("read 0")
            and len(hook.posts) == 1
            and len(_lines(data_root)) == 1
        )


def test_cli_evaluation_shares_the_ledger_with_the_daemon(instance, data_root):
    _run(instance, scores)
    _run(instance, crashing, checks=())
    assert evaluate_alert_sensors_once(instance, TEST_DEFS) == 2  # one check alert, one run alert
    assert evaluate_alert_sensors_once(instance, TEST_DEFS) == 0
    # the daemon's sensor, with its own (empty) cursor, finds them already sent
    _, message = _tick(check_alert_sensor, instance, None)
    assert "sent 0 alert(s), 1 already sent" in message
    assert len(_lines(data_root)) == 2
    ledger = AlertLedger(ledger_path(data_root))
    assert ledger.get_cursor(f"cli:{CHECK_ALERT_SENSOR}") and ledger.get_cursor(
        f"cli:{RUN_FAILURE_ALERT_SENSOR}"
    )
    # definitions without the alert sensors: the CLI evaluates nothing
    _run(instance, scores)
    assert evaluate_alert_sensors_once(instance, dg.Definitions(assets=[scores])) == 0


def test_cli_evaluation_survives_bad_alert_settings(instance, data_root, monkeypatch, caplog):
    monkeypatch.setenv("RAGASSETS_ALERTS_MIN_SEVERITY", "LOUD")
    _run(instance, scores)
    assert evaluate_alert_sensors_once(instance, TEST_DEFS) == 0
    assert "alerts.min_severity" in caplog.text


def test_consolidated_event_storage(data_root):
    """Postgres-like storages answer the cross-run query themselves (global storage ids)."""
    base = str(data_root / "dagster_home")
    overrides = {
        "event_log_storage": {
            "module": "dagster._core.storage.event_log",
            "class": "ConsolidatedSqliteEventLogStorage",
            "config": {"base_dir": base + "/events"},
        }
    }
    with dg.instance_for_test(temp_dir=base, overrides=overrides) as inst:
        from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

        from ragassets.alert_sensors import _index_storage

        assert not isinstance(_index_storage(inst), SqliteEventLogStorage)  # the other code path
        _run(inst, scores)
        _run(inst, scores, partition="other")
        summary = check_alert_tick(inst, None)
        assert (summary.read, summary.sent) == (4, 2)
        assert check_alert_tick(inst, summary.cursor).read == 0


def test_the_code_location_runs_the_alert_sensors():
    from ragassets.definitions import defs

    for name in (CHECK_ALERT_SENSOR, RUN_FAILURE_ALERT_SENSOR):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_real_documents_check_on_a_crafted_corpus(data_root, monkeypatch):
    """``documents`` on a corpus whose only file is unreadable: has_documents fails (ERROR, blocking)."""
    from ragassets_tests.conftest import materialize

    folder = data_root / "corpora" / "broken"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(b"this is not a PDF")
    with HookServer() as hook:
        monkeypatch.setenv("RAGASSETS_ALERTS_WEBHOOK_URL", hook.url)
        result = materialize("broken", "documents", expect_success=False)
        from ragassets.definitions import defs

        instance = dg.DagsterInstance.get()
        sent = evaluate_alert_sensors_once(instance, defs)
    lines = _lines(data_root)
    checks = [a for a in lines if a["kind"] == "check_failed"]
    assert [(a["check"], a["partition"], a["severity"]) for a in checks] == [
        ("has_documents", "broken", "ERROR")
    ]
    assert checks[0]["figures"] == {"documents": 0} and checks[0]["run_id"] == result.run_id
    assert len(hook.posts) == len(lines) == sent
    assert not result.success  # has_documents is blocking: the run fails, and says so
    (run_alert,) = [a for a in lines if a["kind"] == "run_failed"]
    assert run_alert["description"] == (
        "step documents_has_documents failed: DagsterAssetCheckFailedError: "
        "1 blocking asset check failed with ERROR severity: documents: has_documents"
    )


def test_large_backlogs_are_read_in_pages_across_ticks(instance, data_root, monkeypatch):
    import ragassets.alert_sensors as mod

    _run(instance, scores)
    _run(instance, scores, partition="other")
    _run(instance, scores, partition="third")  # 6 evaluations, 3 of them failed
    monkeypatch.setattr(mod, "PAGE_SIZE", 2)
    monkeypatch.setattr(mod, "MAX_EVENTS_PER_TICK", 4)
    first = check_alert_tick(instance, None)
    assert (first.read, first.sent) == (4, 2)
    second = check_alert_tick(instance, first.cursor)
    assert (second.read, second.sent, second.duplicates) == (2, 1, 0)
    assert check_alert_tick(instance, second.cursor).read == 0
    assert sorted(a["partition"] for a in _lines(data_root)) == ["other", "sample", "third"]
