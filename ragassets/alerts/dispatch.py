"""Send an alert once, through every configured sink, without ever raising. No Dagster import."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragassets.alerts.ledger import AlertLedger
from ragassets.alerts.model import Alert
from ragassets.alerts.sinks import EmailSink, FileSink, Sink, WebhookSink
from ragassets.settings import AlertsSettings

log = logging.getLogger(__name__)

ALERTS_DIRNAME = "alerts"
ALERTS_FILE = "alerts.jsonl"
LEDGER_FILE = "ledger.sqlite"


def default_alert_file(root: Path) -> Path:
    """``<data root>/alerts/alerts.jsonl``: the file sink's default, visible with no setup."""
    return Path(root) / ALERTS_DIRNAME / ALERTS_FILE


def ledger_path(root: Path) -> Path:
    return Path(root) / ALERTS_DIRNAME / LEDGER_FILE


def build_sinks(settings: AlertsSettings, root: Path, environ: Mapping[str, str] | None = None) -> list[Sink]:
    """The sinks that ``settings`` turns on, in a fixed order: file, webhook, email."""
    sinks: list[Sink] = []
    if settings.file:
        path = Path(settings.file_path).expanduser() if settings.file_path else default_alert_file(root)
        if not path.is_absolute():
            path = Path(root) / path
        sinks.append(FileSink(path))
    if settings.webhook_url:
        sinks.append(
            WebhookSink(
                settings.webhook_url, timeout_s=settings.webhook_timeout_s, retries=settings.webhook_retries
            )
        )
    if settings.smtp_host:
        sinks.append(
            EmailSink(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.email_from or settings.smtp_user or "",
                recipients=settings.email_to,
                security=settings.smtp_security,
                user=settings.smtp_user,
                password_env=settings.smtp_password_env,
                timeout_s=settings.smtp_timeout_s,
                environ=os.environ if environ is None else environ,
            )
        )
    return sinks


@dataclass
class DispatchResult:
    """What happened to one alert."""

    key: str
    sent: bool  # False: already sent before (deduplicated), nothing was done
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # sink name -> error message


class AlertDispatcher:
    """Claims an alert in the ledger, then hands it to every sink; sink failures are logged."""

    def __init__(self, sinks: Sequence[Sink], ledger: AlertLedger, logger: logging.Logger | None = None):
        self.sinks = list(sinks)
        self.ledger = ledger
        self.log = logger or log

    @classmethod
    def from_settings(
        cls,
        settings: AlertsSettings,
        root: Path,
        logger: logging.Logger | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AlertDispatcher:
        return cls(build_sinks(settings, root, environ), AlertLedger(ledger_path(root)), logger)

    def dispatch(self, alert: Alert) -> DispatchResult:
        """Send ``alert`` unless its key was sent before. Never raises because of a sink."""
        if not self.ledger.claim(alert.key):
            return DispatchResult(alert.key, sent=False)
        result = DispatchResult(alert.key, sent=True)
        for sink in self.sinks:
            try:
                sink.send(alert)
            except Exception as exc:  # noqa: BLE001  (a failing sink never stops the others or the sensor)
                result.failed[sink.name] = str(exc)
                self.log.warning("alert %s: %s sink failed: %s", alert.key, sink.name, exc)
            else:
                result.delivered.append(sink.name)
        self.ledger.record(alert.key, result.delivered, list(result.failed))
        if result.delivered:
            self.log.info("alert sent via %s: %s", ", ".join(result.delivered), alert.title)
        if not self.sinks:
            self.log.warning("alert %s: no alert sink is configured; see the README, section Alerts", alert.key)
        return result
