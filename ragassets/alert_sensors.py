"""Alert sensors: a failed asset check or a failed run becomes one alert in every configured sink.

Open-source Dagster sends no notification when an asset check fails (a failed non-blocking check
does not even fail its run, dagster issue #29896), so ragassets reads the instance's event log:

- ``check_alert_sensor`` walks ``ASSET_CHECK_EVALUATION`` events by storage id (its cursor) and
  alerts on each failed check at or above ``alerts.min_severity`` (default WARN);
- ``run_failure_alert_sensor`` walks ``RUN_FAILURE`` events with Dagster's run-status cursor
  (``instance.fetch_run_status_changes``, global ids on every storage).

Each alert names the asset, the corpus partition, the check, its severity, the check's figures
(numbers from its metadata, never text or tables) and links to the run in the UI. Alerts are sent
once per (check, partition, run): the ledger under ``<data root>/alerts/`` is shared by the daemon
and by ``ragassets materialize``, which calls :func:`evaluate_alert_sensors_once` after its runs.
Settings: ``load_settings(None).alerts`` (``RAGASSETS_ALERTS_*`` environment variables).

Reading check evaluations across runs: Postgres, MySQL and the consolidated SQLite storage answer
``get_event_records`` from one table with global storage ids. Dagster's default SQLite storage
keeps events in one file per run, but mirrors every check evaluation into its index file (with a
global id) as it does for materializations; its ``get_event_records`` override only consults the
index for materialization-like events, so for checks we ask the index directly through the SQL
base implementation. Either way the check sensor's cursor is one integer. (On Postgres, ids are
taken before commit, so a reader can in rare races see id n+1 before id n: the same limit as
Dagster's own event-log sensors.)
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from ragassets import paths
from ragassets.alerts import AlertDispatcher, AlertLedger, check_failed_alert, ledger_path, run_failed_alert
from ragassets.alerts.model import severity_at_least
from ragassets.settings import AlertsSettings, SettingsError, load_settings

CHECK_ALERT_SENSOR = "check_alert_sensor"
RUN_FAILURE_ALERT_SENSOR = "run_failure_alert_sensor"
PAGE_SIZE = 200
#: events read per tick at most; the rest waits for the next tick (the cursor says where)
MAX_EVENTS_PER_TICK = 2000
PARTITION_TAG = "dagster/partition"


def _sensor_interval_s() -> int:
    """``alerts.sensor_interval_s``, read when the code location loads (30 s if settings are bad:
    the sensor's first tick then reports the settings error, naming the key)."""
    try:
        return load_settings(None).alerts.sensor_interval_s
    except SettingsError:
        return AlertsSettings.model_fields["sensor_interval_s"].default


SENSOR_INTERVAL_S = _sensor_interval_s()

log = logging.getLogger(__name__)


@dataclass
class TickSummary:
    """What one evaluation of an alert sensor did."""

    cursor: str
    read: int = 0
    sent: int = 0
    duplicates: int = 0
    failed_sinks: dict[str, int] = field(default_factory=dict)

    def message(self, what: str) -> str:
        text = f"read {self.read} {what}; sent {self.sent} alert(s)"
        if self.duplicates:
            text += f", {self.duplicates} already sent"
        if self.failed_sinks:
            text += "; failing sinks: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.failed_sinks.items()))
        return text


def _parse_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(
            f"alert sensor cursor {cursor!r} is not a storage id; reset the sensor's cursor"
        ) from None


def _index_storage(instance: dg.DagsterInstance) -> Any:
    """The event log storage that answers cross-run queries (unwraps the legacy-config wrapper)."""
    storage = instance.event_log_storage
    inner = getattr(getattr(storage, "_storage", None), "event_log_storage", None)
    return inner if inner is not None else storage


def check_evaluation_records(
    instance: dg.DagsterInstance, after_storage_id: int, limit: int = PAGE_SIZE
) -> Sequence[dg.EventLogRecord]:
    """``ASSET_CHECK_EVALUATION`` records with storage id > ``after_storage_id``, oldest first."""
    storage = _index_storage(instance)
    flt = dg.EventRecordsFilter(
        event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after_storage_id
    )
    if isinstance(storage, SqliteEventLogStorage):
        # run-sharded SQLite: check evaluations are mirrored into the index shard; query it directly
        return SqlEventLogStorage.get_event_records(storage, flt, limit=limit, ascending=True)
    return storage.get_event_records(flt, limit=limit, ascending=True)


class _RunInfo:
    """Job name and partition of runs, looked up once per tick."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, run_id: str) -> tuple[str | None, str | None]:
        if run_id not in self._cache:
            run = self.instance.get_run_by_id(run_id) if run_id else None
            self._cache[run_id] = (run.job_name, run.tags.get(PARTITION_TAG)) if run else (None, None)
        return self._cache[run_id]


def _plain(value: Any) -> Any:
    """A metadata value as plain Python (``IntMetadataValue(3)`` -> 3)."""
    return getattr(value, "value", value)


def _dispatcher(settings: AlertsSettings, logger: logging.Logger | None) -> AlertDispatcher:
    return AlertDispatcher.from_settings(settings, paths.data_root(), logger=logger)


def _note(summary: TickSummary, result: Any) -> None:
    if not result.sent:
        summary.duplicates += 1
        return
    summary.sent += 1
    for name in result.failed:
        summary.failed_sinks[name] = summary.failed_sinks.get(name, 0) + 1


def check_alert_tick(
    instance: dg.DagsterInstance,
    cursor: str | None,
    logger: logging.Logger | None = None,
    settings: AlertsSettings | None = None,
) -> TickSummary:
    """One evaluation of ``check_alert_sensor``: alert on new failed checks, return the new cursor."""
    settings = settings or load_settings(None).alerts
    dispatcher = _dispatcher(settings, logger)
    after = _parse_cursor(cursor)
    summary = TickSummary(cursor=str(after))
    run_info = _RunInfo(instance)
    while summary.read < MAX_EVENTS_PER_TICK:
        records = check_evaluation_records(instance, after, PAGE_SIZE)
        for record in records:
            summary.read += 1
            entry = record.event_log_entry
            evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
            if (
                evaluation is not None
                and not evaluation.passed
                and severity_at_least(evaluation.severity.value, settings.min_severity)
            ):
                job, run_partition = run_info(entry.run_id)
                alert = check_failed_alert(
                    asset=evaluation.asset_key.to_user_string(),
                    check=evaluation.check_name,
                    severity=evaluation.severity.value,
                    run_id=entry.run_id,
                    webserver_url=settings.webserver_url,
                    occurred_at=entry.timestamp,
                    partition=evaluation.partition or run_partition,
                    description=evaluation.description,
                    metadata={k: _plain(v) for k, v in evaluation.metadata.items()},
                    job=job,
                )
                _note(summary, dispatcher.dispatch(alert))
            after = record.storage_id
            summary.cursor = str(after)
        if len(records) < PAGE_SIZE:
            break
    return summary


def _short_error(message: str | None, cls_name: str | None, limit: int = 300) -> str:
    """``pkg.mod.Error: first lines`` -> ``Error: first lines`` (three lines at most, one line out)."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()][:3]
    text = " ".join(lines) or (cls_name or "error")
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:
        text = f"{head.rsplit('.', 1)[-1]}: {rest}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_step_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """``step: ErrorClass: first line`` of the run's first step failure (the message, cut short)."""
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1, ascending=True
    ).records:
        event = record.event_log_entry.dagster_event
        err = getattr(event.event_specific_data, "error", None) if event else None
        while err is not None and err.cause is not None:  # the user's exception, not Dagster's wrapper
            err = err.cause
        if err is not None:
            return f"step {event.step_key} failed: {_short_error(err.message, err.cls_name)}"
    return None


def run_failure_alert_tick(
    instance: dg.DagsterInstance,
    cursor: str | None,
    logger: logging.Logger | None = None,
    settings: AlertsSettings | None = None,
) -> TickSummary:
    """One evaluation of ``run_failure_alert_sensor``: one ERROR alert per new failed run."""
    settings = settings or load_settings(None).alerts
    dispatcher = _dispatcher(settings, logger)
    # Dagster's own run-status cursor (a storage id in the index shard, on every storage)
    summary = TickSummary(cursor=cursor or "")
    while summary.read < MAX_EVENTS_PER_TICK:
        result = instance.fetch_run_status_changes(
            dg.DagsterEventType.RUN_FAILURE, limit=PAGE_SIZE, cursor=summary.cursor or None, ascending=True
        )
        for record in result.records:
            summary.read += 1
            entry = record.event_log_entry
            run = instance.get_run_by_id(entry.run_id)
            message = _first_step_error(instance, entry.run_id) or (
                entry.dagster_event.message if entry.dagster_event else None
            )
            alert = run_failed_alert(
                run_id=entry.run_id,
                webserver_url=settings.webserver_url,
                occurred_at=entry.timestamp,
                job=run.job_name if run else None,
                partition=run.tags.get(PARTITION_TAG) if run else None,
                message=message,
            )
            _note(summary, dispatcher.dispatch(alert))
        summary.cursor = result.cursor
        if not result.has_more:
            break
    return summary


@dg.sensor(
    name=CHECK_ALERT_SENSOR,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends one alert per failed asset check (at or above alerts.min_severity) to the configured "
        "sinks: <data root>/alerts/alerts.jsonl, a webhook, email. Cursor: event storage id."
    ),
)
def check_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    summary = check_alert_tick(context.instance, context.cursor, context.log)
    context.update_cursor(summary.cursor)
    return dg.SkipReason(summary.message("check evaluation(s)"))


@dg.sensor(
    name=RUN_FAILURE_ALERT_SENSOR,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends one alert per failed run to the same sinks as check_alert_sensor.",
)
def run_failure_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    summary = run_failure_alert_tick(context.instance, context.cursor, context.log)
    context.update_cursor(summary.cursor)
    return dg.SkipReason(summary.message("run failure(s)"))


ALERT_SENSORS = [check_alert_sensor, run_failure_alert_sensor]
_TICKS = {CHECK_ALERT_SENSOR: check_alert_tick, RUN_FAILURE_ALERT_SENSOR: run_failure_alert_tick}


def _registered_alert_sensors(defs: Any) -> list[str]:
    """Names of the alert sensors that ``defs`` registers (all of them when defs is None)."""
    if defs is None:
        return list(_TICKS)
    names = {s.name for s in (getattr(defs, "sensors", None) or [])}
    return [name for name in _TICKS if name in names]


def evaluate_alert_sensors_once(instance: dg.DagsterInstance, defs: Any = None) -> int:
    """Evaluate the alert sensors registered in ``defs`` once; return how many alerts were sent.

    For ``ragassets materialize``: a CLI user gets the alerts the daemon would send. The CLI keeps
    its own cursors in the alert ledger; the shared ledger means an alert the daemon already sent
    (or sends at the same moment) is not sent again. Never raises because of alerting: problems
    are logged, since the runs themselves have already finished.
    """
    try:
        settings = load_settings(None).alerts
        ledger = AlertLedger(ledger_path(paths.data_root()))
    except Exception as exc:  # noqa: BLE001  (a bad RAGASSETS_ALERTS_* value must not hide run results)
        log.error("alerts not evaluated: %s", exc)
        return 0
    sent = 0
    for name in _registered_alert_sensors(defs):
        key = f"cli:{name}"
        try:
            summary = _TICKS[name](instance, ledger.get_cursor(key), log, settings)
        except Exception as exc:  # noqa: BLE001  (alerting must not turn finished runs into a crash)
            log.error("alert sensor %s failed: %s", name, exc)
            continue
        ledger.set_cursor(key, summary.cursor)
        sent += summary.sent
        for sink, n in summary.failed_sinks.items():
            log.warning("alert sink %s failed for %d alert(s); see the log above", sink, n)
    return sent
