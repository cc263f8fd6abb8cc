"""What an alert says: one failed asset check, or one failed run. No Dagster import.

The sensors in ``ragassets.alert_sensors`` turn Dagster events into :class:`Alert` objects; the
sinks in :mod:`ragassets.alerts.sinks` render them (a JSON line, a Slack message, an email). An
alert carries figures (counts, rates, thresholds), never the data behind them: check metadata is
filtered through :func:`figures_only` so no document text or PII sample reaches a chat channel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

Severity = Literal["WARN", "ERROR"]
SEVERITY_RANK: dict[str, int] = {"WARN": 1, "ERROR": 2}

AlertKind = Literal["check_failed", "run_failed"]

#: at most this many metadata figures travel with an alert, so a message stays readable
MAX_FIGURES = 20


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` (WARN/ERROR) is at or above ``minimum``."""
    try:
        return SEVERITY_RANK[severity.upper()] >= SEVERITY_RANK[minimum.upper()]
    except KeyError as exc:
        raise ValueError(f"unknown severity {exc.args[0]!r}; use one of {', '.join(SEVERITY_RANK)}") from None


def figures_only(values: Mapping[str, Any], limit: int = MAX_FIGURES) -> dict[str, int | float | bool | None]:
    """Keep the numeric and boolean entries of a metadata mapping (at most ``limit``).

    Text, tables, Markdown and JSON are dropped on purpose: they may hold document content.
    Non-finite floats become ``None`` so the result is valid JSON.
    """
    out: dict[str, int | float | bool | None] = {}
    for key, value in values.items():
        if len(out) >= limit:
            break
        if isinstance(value, (bool, int)):
            out[str(key)] = value
        elif isinstance(value, float):
            out[str(key)] = value if math.isfinite(value) else None
    return out


def run_url(webserver_url: str, run_id: str) -> str:
    """Link to a run in the Dagster UI."""
    return f"{webserver_url.rstrip('/')}/runs/{quote(run_id)}"


def asset_checks_url(webserver_url: str, asset: str) -> str:
    """Link to the checks tab of an asset in the Dagster UI (``asset`` as ``a/b`` path)."""
    path = "/".join(quote(part) for part in asset.split("/"))
    return f"{webserver_url.rstrip('/')}/assets/{path}?view=checks"


def _format_figure(value: float | bool | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class Alert:
    """One alert. ``key`` identifies it: the same key is never sent twice."""

    kind: AlertKind
    severity: Severity
    run_id: str
    run_url: str
    occurred_at: float
    asset: str | None = None
    partition: str | None = None
    check: str | None = None
    job: str | None = None
    description: str | None = None
    figures: Mapping[str, int | float | bool | None] = field(default_factory=dict)
    asset_url: str | None = None

    @property
    def key(self) -> str:
        """The dedup key: one alert per (check, partition, run), or per failed run."""
        if self.kind == "check_failed":
            return f"check_failed:{self.asset}:{self.check}:{self.partition or '-'}:{self.run_id}"
        return f"run_failed:{self.run_id}"

    @property
    def title(self) -> str:
        """A one-line summary, e.g. ``[WARN] check documents.has_documents failed (corpus sample)``."""
        if self.kind == "check_failed":
            where = f" (corpus {self.partition})" if self.partition else ""
            return f"[{self.severity}] check {self.asset}.{self.check} failed{where}"
        where = f" (corpus {self.partition})" if self.partition else ""
        return f"[{self.severity}] run of {self.job or 'a job'} failed{where}"

    def text(self) -> str:
        """A plain-text body: the title, the description, the figures and the links."""
        lines = [self.title]
        if self.description:
            lines.append(self.description)
        for name, value in self.figures.items():
            lines.append(f"  {name}: {_format_figure(value)}")
        lines.append(f"Run: {self.run_url}")
        if self.asset_url:
            lines.append(f"Asset: {self.asset_url}")
        return "\n".join(lines)

    def to_record(self, sent_at: float | None = None) -> dict[str, Any]:
        """A JSON-ready dict: what the file sink writes and the webhook carries under ``alert``."""
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "asset": self.asset,
            "partition": self.partition,
            "check": self.check,
            "job": self.job,
            "description": self.description,
            "figures": dict(self.figures),
            "run_id": self.run_id,
            "run_url": self.run_url,
            "asset_url": self.asset_url,
            "occurred_at": self.occurred_at,
            "sent_at": time.time() if sent_at is None else sent_at,
        }


def check_failed_alert(
    *,
    asset: str,
    check: str,
    severity: str,
    run_id: str,
    webserver_url: str,
    occurred_at: float,
    partition: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    job: str | None = None,
) -> Alert:
    """The alert for a failed asset check; ``metadata`` is reduced to its figures."""
    sev = severity.upper()
    if sev not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITY_RANK)}")
    return Alert(
        kind="check_failed",
        severity=sev,  # type: ignore[arg-type]
        run_id=run_id,
        run_url=run_url(webserver_url, run_id),
        occurred_at=occurred_at,
        asset=asset,
        partition=partition,
        check=check,
        job=job,
        description=description,
        figures=figures_only(metadata or {}),
        asset_url=asset_checks_url(webserver_url, asset),
    )


def run_failed_alert(
    *,
    run_id: str,
    webserver_url: str,
    occurred_at: float,
    job: str | None = None,
    partition: str | None = None,
    message: str | None = None,
) -> Alert:
    """The alert for a failed run (always ERROR)."""
    return Alert(
        kind="run_failed",
        severity="ERROR",
        run_id=run_id,
        run_url=run_url(webserver_url, run_id),
        occurred_at=occurred_at,
        job=job,
        partition=partition,
        description=message,
    )
