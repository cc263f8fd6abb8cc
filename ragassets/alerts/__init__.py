"""Alerts for failed asset checks and failed runs: model, sinks, dedup ledger. No Dagster import.

Open-source Dagster sends no notification when an asset check fails (a failed non-blocking check
does not even fail its run), so ragassets brings its own: the sensors in
``ragassets.alert_sensors`` read Dagster's event log and hand :class:`Alert` objects to an
:class:`AlertDispatcher`, which sends each one once through the configured sinks.
"""

from ragassets.alerts.dispatch import (
    AlertDispatcher,
    DispatchResult,
    build_sinks,
    default_alert_file,
    ledger_path,
)
from ragassets.alerts.ledger import AlertLedger
from ragassets.alerts.model import (
    Alert,
    check_failed_alert,
    figures_only,
    run_failed_alert,
    severity_at_least,
)
from ragassets.alerts.sinks import EmailSink, FileSink, SinkError, WebhookSink, slack_payload

__all__ = [
    "Alert",
    "AlertDispatcher",
    "AlertLedger",
    "DispatchResult",
    "EmailSink",
    "FileSink",
    "SinkError",
    "WebhookSink",
    "build_sinks",
    "check_failed_alert",
    "default_alert_file",
    "figures_only",
    "ledger_path",
    "run_failed_alert",
    "severity_at_least",
    "slack_payload",
]
