"""Where alerts go: a JSONL file, a Slack-compatible webhook, email over SMTP. No Dagster import.

Every sink has a ``name`` and a ``send(alert)`` that raises :class:`SinkError` with a message a
person can act on. Sinks never decide whether to send: the dispatcher does (dedup, severity) and
catches every sink failure, so a dead webhook never stops the file sink or the sensor.
Secrets (webhook URLs carry tokens, SMTP passwords) never appear in error messages.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from ragassets.alerts.model import Alert
from ragassets.retrying import RetryPolicy, TransientError, is_transient_status, parse_retry_after


class SinkError(RuntimeError):
    """A sink could not deliver an alert."""


class Sink(Protocol):
    """Something that delivers an alert."""

    name: str

    def send(self, alert: Alert) -> None: ...


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ`` -> ``https://hooks.slack.com/...``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}/..."


class FileSink:
    """Appends one JSON object per line to a file (created with its folder on first use).

    Each line is written with one ``write`` call on a file opened in append mode, under a
    process-local lock, so concurrent writers never interleave within a line.
    """

    name = "file"
    _lock = threading.Lock()

    def __init__(self, path: Path):
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        line = json.dumps(alert.to_record(), ensure_ascii=False, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as exc:
            raise SinkError(f"cannot append to alert file {self.path}: {exc.strerror or exc}") from exc


def slack_payload(alert: Alert) -> dict:
    """A Slack incoming-webhook message (``text`` + ``blocks``), with the alert record under ``alert``.

    Slack and Mattermost render ``text``/``blocks``; other receivers can read the structured
    ``alert`` object instead.
    """
    figures = "\n".join(f"• {k}: {v}" for k, v in alert.figures.items())
    body = f"*{alert.title}*"
    if alert.description:
        body += f"\n{alert.description}"
    if figures:
        body += f"\n{figures}"
    links = f"<{alert.run_url}|Open the run>"
    if alert.asset_url:
        links += f"  ·  <{alert.asset_url}|Asset checks>"
    return {
        "text": alert.title,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": links}]},
        ],
        "alert": alert.to_record(),
    }


class WebhookSink:
    """POSTs :func:`slack_payload` as JSON; retries timeouts, connection errors, 429 and 5xx.

    At most ``retries + 1`` attempts with exponential backoff (``backoff_s``, doubled, capped at
    ``max_backoff_s``; a ``Retry-After`` header is honoured up to the same cap), through
    ragassets.retrying; a 4xx other than 408/429 is not retried (the request itself is wrong).
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._transport = transport

    def send(self, alert: Alert) -> None:
        payload = slack_payload(alert)
        where = redact_url(self.url)
        policy = RetryPolicy(
            max_retries=self.retries,
            base_s=self.backoff_s,
            cap_s=self.max_backoff_s,
            jitter=False,
            retry_after_cap_s=self.max_backoff_s,
        )
        attempts = 0

        def attempt(n: int) -> None:
            nonlocal attempts
            attempts = n
            self._post(client, payload, where)

        with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
            try:
                policy.call(attempt, sleep=self._sleep)
            except (TransientError, SinkError) as exc:
                raise SinkError(f"webhook {where} failed after {attempts} attempt(s): {exc}") from None

    def _post(self, client: httpx.Client, payload: dict, where: str) -> None:
        """One POST; raises TransientError for what another try may fix, SinkError for the rest."""
        try:
            response = client.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise TransientError(f"timed out after {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}".replace(self.url, where)) from None
        if response.status_code < 300:
            return
        last = f"HTTP {response.status_code} {response.text[:200]!r}"
        if is_transient_status(response.status_code):
            raise TransientError(last, retry_after=parse_retry_after(response.headers.get("retry-after")))
        raise SinkError(last)


class EmailSink:
    """Sends a plain-text email over SMTP (STARTTLS, implicit TLS, or none for a local relay)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        security: str = "starttls",
        user: str | None = None,
        password_env: str | None = None,
        timeout_s: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ):
        if security not in ("starttls", "ssl", "none"):
            raise ValueError(f"smtp_security must be starttls, ssl or none, got {security!r}")
        if not recipients:
            raise ValueError("email sink needs at least one recipient")
        self.host, self.port, self.sender, self.recipients = host, port, sender, list(recipients)
        self.security, self.user, self.password_env, self.timeout_s = security, user, password_env, timeout_s
        self._environ = os.environ if environ is None else environ

    def _password(self) -> str | None:
        if not self.password_env:
            return None
        value = self._environ.get(self.password_env)
        if not value:
            raise SinkError(
                f"SMTP password variable {self.password_env} is not set: export it where the Dagster "
                "daemon and the CLI run, or unset alerts.smtp_password_env"
            )
        return value

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"ragassets: {alert.title}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg.set_content(alert.text() + "\n")
        return msg

    def send(self, alert: Alert) -> None:
        password = self._password()
        msg = self.message(alert)
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.user and password is not None:
                    smtp.login(self.user, password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise SinkError(f"email via {self.host}:{self.port} failed: {type(exc).__name__}: {exc}") from exc
