"""Alert model, file sink, ledger and dispatcher: plain Python, no Dagster."""

from __future__ import annotations

import json
import math
import multiprocessing
from pathlib import Path

import pytest

from ragassets.alerts import (
    AlertDispatcher,
    AlertLedger,
    FileSink,
    SinkError,
    build_sinks,
    check_failed_alert,
    default_alert_file,
    figures_only,
    run_failed_alert,
    severity_at_least,
)
from ragassets.alerts.sinks import EmailSink, WebhookSink, redact_url
from ragassets.settings import AlertsSettings, SettingsError, load_settings


def _alert(run_id: str = "run-1", partition: str | None = "sample", **kw):
    args = {
        "asset": "documents",
        "check": "has_documents",
        "severity": "WARN",
        "run_id": run_id,
        "webserver_url": "http://ui.local:3000/",
        "occurred_at": 1700000000.0,
        "partition": partition,
        "description": "0 documents",
        "metadata": {
            "documents": 0,
            "rate": 0.25,
            "ok": False,
            "sample": "Jane Doe, 555-0100",
            "nan": math.nan,
        },
    }
    args.update(kw)
    return check_failed_alert(**args)


class Boom:
    name = "boom"

    def send(self, alert):
        raise SinkError("boom is down")


class Collect:
    name = "collect"

    def __init__(self):
        self.alerts = []

    def send(self, alert):
        self.alerts.append(alert)


def test_severity_order():
    assert severity_at_least("ERROR", "WARN") and severity_at_least("WARN", "WARN")
    assert not severity_at_least("WARN", "ERROR")
    with pytest.raises(ValueError, match="unknown severity"):
        severity_at_least("INFO", "WARN")


def test_figures_only_drops_text_and_makes_json_safe():
    figs = figures_only({"n": 3, "rate": 0.5, "ok": True, "text": "secret", "table": [1, 2], "inf": math.inf})
    assert figs == {"n": 3, "rate": 0.5, "ok": True, "inf": None}
    assert len(figures_only({f"k{i}": i for i in range(50)})) == 20


def test_check_alert_content_and_key():
    a = _alert()
    assert a.key == "check_failed:documents:has_documents:sample:run-1"
    assert a.run_url == "http://ui.local:3000/runs/run-1"
    assert a.asset_url == "http://ui.local:3000/assets/documents?view=checks"
    assert "Jane Doe" not in json.dumps(a.to_record())  # figures, not data
    assert a.figures == {"documents": 0, "rate": 0.25, "ok": False, "nan": None}
    assert a.title == "[WARN] check documents.has_documents failed (corpus sample)"
    text = a.text()
    assert "rate: 0.25" in text and "Run: http://ui.local:3000/runs/run-1" in text
    # partition is part of the identity: the same check in another corpus is another alert
    assert _alert(partition="other").key != a.key
    assert _alert(run_id="run-2").key != a.key
    with pytest.raises(ValueError, match="unknown severity"):
        _alert(severity="LOW")


def test_run_alert():
    a = run_failed_alert(
        run_id="r9",
        webserver_url="http://x",
        occurred_at=1.0,
        job="corpus_job",
        partition="sample",
        message="step documents failed",
    )
    assert a.key == "run_failed:r9" and a.severity == "ERROR"
    assert a.title == "[ERROR] run of corpus_job failed (corpus sample)"


def test_file_sink_appends_json_lines(tmp_path: Path):
    sink = FileSink(tmp_path / "deep" / "alerts.jsonl")
    sink.send(_alert("r1"))
    sink.send(_alert("r2"))
    lines = [json.loads(x) for x in (tmp_path / "deep" / "alerts.jsonl").read_text().splitlines()]
    assert [r["run_id"] for r in lines] == ["r1", "r2"]
    assert lines[0]["partition"] == "sample" and lines[0]["check"] == "has_documents"


def test_file_sink_error_names_the_file(tmp_path: Path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="not_a_dir"):
        FileSink(blocker / "alerts.jsonl").send(_alert())


def test_dispatcher_sends_once_and_survives_failing_sink(tmp_path: Path, caplog):
    got = Collect()
    d = AlertDispatcher([Boom(), got], AlertLedger(tmp_path / "ledger.sqlite"))
    with caplog.at_level("INFO", logger="ragassets.alerts.dispatch"):
        first = d.dispatch(_alert())
    assert first.sent and first.delivered == ["collect"] and "boom is down" in first.failed["boom"]
    assert "boom sink failed: boom is down" in caplog.text
    assert (
        "alert sent via collect: [WARN] check documents.has_documents failed (corpus sample)" in caplog.text
    )
    again = d.dispatch(_alert())
    assert not again.sent and len(got.alerts) == 1
    assert d.ledger.outcome(first.key) == (["collect"], ["boom"])
    # a second dispatcher on the same ledger (another process: the CLI, the daemon) dedups too
    other = AlertDispatcher([got], AlertLedger(tmp_path / "ledger.sqlite"))
    assert not other.dispatch(_alert()).sent
    assert other.dispatch(_alert(run_id="run-2")).sent
    assert len(got.alerts) == 2


def _claim(args):
    path, key = args
    return AlertLedger(Path(path)).claim(key)


def test_ledger_claim_is_exclusive_across_processes(tmp_path: Path):
    path = tmp_path / "ledger.sqlite"
    AlertLedger(path)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_claim, [(str(path), "same-key")] * 8)
    assert results.count(True) == 1


def test_ledger_cursors(tmp_path: Path):
    ledger = AlertLedger(tmp_path / "l.sqlite")
    assert ledger.get_cursor("a") is None
    ledger.set_cursor("a", "1")
    ledger.set_cursor("a", "2")
    assert ledger.get_cursor("a") == "2"


def test_build_sinks_from_settings(tmp_path: Path):
    assert [s.name for s in build_sinks(AlertsSettings(), tmp_path)] == ["file"]
    assert build_sinks(AlertsSettings(), tmp_path)[0].path == default_alert_file(tmp_path)
    s = AlertsSettings(
        file_path="custom/a.jsonl",
        webhook_url="https://hooks.example/T/B/secret",
        smtp_host="smtp.example",
        email_to="a@x.org, b@y.org",
        smtp_user="bot@x.org",
    )
    sinks = build_sinks(s, tmp_path)
    assert [x.name for x in sinks] == ["file", "webhook", "email"]
    assert sinks[0].path == tmp_path / "custom" / "a.jsonl"
    assert sinks[2].recipients == ["a@x.org", "b@y.org"] and sinks[2].sender == "bot@x.org"
    assert build_sinks(AlertsSettings(file=False), tmp_path) == []


def test_alert_settings_from_environment_and_errors():
    env = {
        "RAGASSETS_ALERTS_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "RAGASSETS_ALERTS_MIN_SEVERITY": "ERROR",
        "RAGASSETS_ALERTS_FILE": "false",
    }
    alerts = load_settings(None, environ=env).alerts
    assert (alerts.webhook_url, alerts.min_severity, alerts.file) == (
        "http://127.0.0.1:9/hook",
        "ERROR",
        False,
    )
    with pytest.raises(SettingsError, match="smtp_host"):
        load_settings(None, environ={"RAGASSETS_ALERTS_EMAIL_TO": "a@x.org"})
    with pytest.raises(SettingsError, match="alerts.webhook_url"):
        load_settings(None, environ={"RAGASSETS_ALERTS_WEBHOOK_URL": "hooks.example/x"})
    with pytest.raises(SettingsError, match="unknown key 'alerts.webhook'"):
        load_settings(None, run_config={"alerts": {"webhook": "x"}})


def test_redact_url_hides_the_token():
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/..."
    assert redact_url("http://127.0.0.1:8080/hook?token=abc") == "http://127.0.0.1:8080/..."


def test_email_sink_needs_its_password_variable():
    sink = EmailSink("smtp.example", 587, "a@x", ["b@y"], user="a@x", password_env="NOPE_PW", environ={})
    with pytest.raises(SinkError, match="NOPE_PW is not set"):
        sink.send(_alert())


def test_webhook_sink_is_bounded_when_nothing_listens():
    sleeps = []
    sink = WebhookSink("http://127.0.0.1:9/secret-token", timeout_s=0.5, retries=2, sleep=sleeps.append)
    with pytest.raises(SinkError) as err:
        sink.send(_alert())
    assert "3 attempt(s)" in str(err.value) and "secret-token" not in str(err.value)
    assert sleeps == [0.5, 1.0]
