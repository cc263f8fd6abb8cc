"""Webhook and email sinks against real local servers."""

from __future__ import annotations

import pytest

from ragassets.alerts import SinkError, check_failed_alert
from ragassets.alerts.sinks import EmailSink, WebhookSink
from ragassets_tests.alerts.alert_servers import HookServer, SmtpServer


def _alert():
    return check_failed_alert(
        asset="chunks",
        check="coverage_at_least_threshold",
        severity="WARN",
        run_id="abc123",
        webserver_url="http://127.0.0.1:3000",
        occurred_at=1.0,
        partition="sample",
        metadata={"coverage": 0.91, "threshold": 0.99},
    )


def test_webhook_posts_slack_compatible_json():
    with HookServer() as hook:
        WebhookSink(hook.url, timeout_s=2).send(_alert())
    assert len(hook.posts) == 1
    post = hook.posts[0]
    assert post["content_type"] == "application/json" and post["path"] == "/hooks/T000/B000/secret"
    body = post["json"]
    assert body["text"] == "[WARN] check chunks.coverage_at_least_threshold failed (corpus sample)"
    assert (
        body["blocks"][0]["text"]["type"] == "mrkdwn"
        and "coverage: 0.91" in body["blocks"][0]["text"]["text"]
    )
    assert "http://127.0.0.1:3000/runs/abc123" in body["blocks"][1]["elements"][0]["text"]
    assert body["alert"]["figures"] == {"coverage": 0.91, "threshold": 0.99}


def test_webhook_retries_5xx_and_429_then_succeeds():
    with HookServer(statuses=[503, 429]) as hook:
        WebhookSink(hook.url, timeout_s=2, retries=2, sleep=lambda s: None).send(_alert())
    assert len(hook.posts) == 3


def test_webhook_does_not_retry_a_client_error():
    with HookServer(statuses=[400, 400, 400]) as hook, pytest.raises(SinkError, match="HTTP 400"):
        WebhookSink(hook.url, timeout_s=2, retries=2, sleep=lambda s: None).send(_alert())
    assert len(hook.posts) == 1


def test_webhook_timeout_is_bounded():
    with HookServer(delay_s=1.0) as hook, pytest.raises(SinkError, match=r"timed out after 0.2s") as err:
        WebhookSink(hook.url, timeout_s=0.2, retries=1, sleep=lambda s: None).send(_alert())
    assert "secret" not in str(err.value)
    assert len(hook.posts) == 2  # the first try and one retry, no more


def test_email_over_smtp_with_password_from_env():
    with SmtpServer() as smtp:
        sink = EmailSink(
            "127.0.0.1",
            smtp.port,
            "ragassets@example.org",
            ["ops@example.org", "ml@example.org"],
            security="none",
            user="bot",
            password_env="TEST_SMTP_PW",
            environ={"TEST_SMTP_PW": "hunter2"},
            timeout_s=5,
        )
        sink.send(_alert())
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["auth"] == [b"bot", b"hunter2"]
    assert len(msg["rcpt"]) == 2
    assert "Subject: ragassets: [WARN] check chunks.coverage_at_least_threshold failed" in msg["data"]
    assert "coverage: 0.91" in msg["data"] and "http://127.0.0.1:3000/runs/abc123" in msg["data"]


def test_email_to_a_dead_server_raises_sink_error():
    with SmtpServer() as smtp:
        port = smtp.port
    with pytest.raises(SinkError, match=f"127.0.0.1:{port}"):
        EmailSink("127.0.0.1", port, "a@x", ["b@y"], security="none", timeout_s=1).send(_alert())
