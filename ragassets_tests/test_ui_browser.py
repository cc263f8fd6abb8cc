"""The Dagster UI as a person uses it: a real `dagster dev`, driven by headless Chromium (Playwright).

Starts ``dagster dev`` on a free 127.0.0.1 port over a temporary data root that holds a copy of the
sample corpus and a crafted corpus whose only file is unreadable. In the browser it opens the asset
graph, launches ``documents`` for partition ``sample`` from the asset page, waits for the run to
succeed and reads the passed checks; then launches the crafted corpus, sees ``has_documents`` fail
and waits for the daemon's alert sensor to write the alert (JSONL file and a local webhook).
Screenshots go to ragassets_tests/.artifacts/screenshots/ (RAGASSETS_SCREENSHOT_DIR=docs/img
refreshes the README's).

Needs Debian's ``chromium`` and the ``playwright`` package (no browser download): see
.ci/install-browser.sh. Without them the test skips and says why.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ragassets_tests.alerts.alert_servers import HookServer
from ragassets_tests.conftest import REPO, SAMPLE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

# screenshots: beside the tests (git-ignored); RAGASSETS_SCREENSHOT_DIR=docs/img refreshes the README's
SHOTS = Path(os.environ.get("RAGASSETS_SCREENSHOT_DIR") or REPO / "ragassets_tests" / ".artifacts" / "screenshots")
DAGSTER = Path(sys.executable).with_name("dagster")
START_TIMEOUT_S = 150
RUN_TIMEOUT_S = 180
ALERT_TIMEOUT_S = 90


def _requirements() -> str:
    """Path of the chromium binary, or skip with the reason."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("chromium is not installed: run .ci/install-browser.sh (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed: run .ci/install-browser.sh")
    if not DAGSTER.exists():
        pytest.skip(f"{DAGSTER} not found: install the project (make install)")
    return chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A parent (a CI runner, a shell's background job) may start us with SIGINT/SIGTERM ignored, and
# ignored signals stay ignored across exec: dagster dev could then not be stopped by SIGTERM. The
# child execs through this one-liner that restores the default handlers first (no preexec_fn: the
# test's webhook server thread makes preexec_fn unsafe). start_new_session gives it its own group.
_DEFAULT_SIGNALS_EXEC = (
    "import os, signal, sys; "
    "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)]; "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _with_default_signals(argv: list[str]) -> list[str]:
    return [sys.executable, "-c", _DEFAULT_SIGNALS_EXEC, *argv]


def _tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """Stop the process we started and its process group (SIGTERM, then SIGKILL); nothing else."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # pgid == pid: started with start_new_session
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    for child in descendants:  # anything that left the group but was started by our server
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class DagsterDev:
    """A running ``dagster dev`` over a temporary data root."""

    def __init__(self, root: Path, url: str, proc: subprocess.Popen, log: Path, hook: HookServer):
        self.root, self.url, self.proc, self.log, self.hook = root, url, proc, log, hook

    def alerts(self) -> list[dict]:
        path = self.root / "alerts" / "alerts.jsonl"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {self.proc.returncode}:\n{_tail(self.log)}")


@pytest.fixture
def dagster_dev(tmp_path: Path):
    _requirements()
    root = tmp_path / "data"
    shutil.copytree(SAMPLE, root / "corpora" / "sample")
    (root / "corpora" / "broken").mkdir(parents=True)
    (root / "corpora" / "broken" / "scan.pdf").write_bytes(b"this is not a PDF at all")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    # Dagster's "join the community" dialog pops up over whatever page is open on a first visit;
    # mark it seen, as it is after a person dismisses it once
    (home / ".nux").mkdir()
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dagster-dev.log"

    with HookServer() as hook:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGASSETS_", "DAGSTER_"))}
        env.update(
            RAGASSETS_DATA_DIR=str(root),
            DAGSTER_HOME=str(home),
            RAGASSETS_ALERTS_WEBSERVER_URL=url,
            RAGASSETS_ALERTS_WEBHOOK_URL=hook.url,
            RAGASSETS_ALERTS_SENSOR_INTERVAL_S="5",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        )
        _register_partitions(home, ["sample", "broken"])
        # the corpus sensor would run the whole graph for every corpus by itself; the test drives runs
        stop = subprocess.run(
            _with_default_signals([str(DAGSTER), "sensor", "stop", "corpus_sensor", "-w", "workspace.yaml"]),
            cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False, start_new_session=True,
        )  # fmt: skip
        assert stop.returncode == 0, f"dagster sensor stop failed:\n{stop.stdout}\n{stop.stderr}"

        with log.open("w") as out:
            proc = subprocess.Popen(
                _with_default_signals([str(DAGSTER), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]),
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        server = DagsterDev(root, url, proc, log, hook)
        try:
            _wait_ready(server)
            yield server
        finally:
            _stop(proc)


def _register_partitions(home: Path, corpora: list[str]) -> None:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        instance.add_dynamic_partitions("corpus", corpora)


def _wait_ready(server: DagsterDev) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        server.assert_alive()
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"dagster dev did not answer on {server.url} within {START_TIMEOUT_S}s:\n{_tail(server.log)}")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def _launch_documents(page, url: str, partition: str, shot: str | None = None) -> str:
    """From the asset page: Materialize…, pick ``partition``, Launch 1 run. Returns the run's URL."""
    page.goto(f"{url}/assets/documents")
    page.get_by_role("button", name="Materialize…").click()
    confirm = page.get_by_role("button", name="Confirm")  # documents + rejected_documents are one step
    picker = page.get_by_text("Select a partition or create one")
    picker.or_(confirm).first.wait_for()
    if confirm.is_visible():
        confirm.click()
    picker.click()
    page.get_by_role("dialog").get_by_text(partition, exact=True).filter(visible=True).last.click()
    if shot:
        _shot(page, shot)
    page.get_by_text("Launch runs to materialize").click()  # close the partition picker
    page.get_by_role("button", name="Launch 1 run").click()
    view = page.get_by_role("link", name="View", exact=True)
    view.wait_for()
    href = view.get_attribute("href")
    assert href and "/runs/" in href, href
    return f"{url}{href}" if href.startswith("/") else href


def _wait_run(page, run_url: str, statuses: tuple[str, ...]) -> None:
    """Open the run's page and wait until its status tag reads one of ``statuses``."""
    if page.url != run_url:
        page.goto(run_url)
    tag = page.get_by_text(statuses[0], exact=True)
    for status in statuses[1:]:
        tag = tag.or_(page.get_by_text(status, exact=True))
    tag.first.wait_for(timeout=RUN_TIMEOUT_S * 1000)


def _wait_for(predicate, timeout_s: float, what: str, server: DagsterDev):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        server.assert_alive()
        time.sleep(1)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}:\n{_tail(server.log)}")


def _open_launchpad(page, url: str, asset: str) -> None:
    """The asset page's Materialize menu -> Open launchpad."""
    page.goto(f"{url}/assets/{asset}")
    page.get_by_role("button", name="Materialize…").wait_for()
    page.get_by_role("button", name="arrow_drop_down").first.click()
    page.get_by_text("Open launchpad").click()
    # up to two questions first: "upstream assets not materialized yet" and "a multi-asset's other outputs"
    confirm = page.get_by_role("button", name="Confirm")
    scaffold = page.get_by_role("button", name="Scaffold missing config")
    deadline = time.monotonic() + 60
    while not scaffold.is_visible() and time.monotonic() < deadline:
        if confirm.is_visible():
            confirm.click()
        page.wait_for_timeout(300)
    scaffold.wait_for()


def _type_config(page, lines: list[str]) -> None:
    """Replace the launchpad's YAML with ``lines`` (typed: the editor indents by itself, so each line
    starts from column 0) and leave the cursor on the last key, where the help panel documents its block."""
    page.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    for line in lines:
        page.keyboard.type(line)
        page.keyboard.press("Enter")
        page.keyboard.press("Shift+Home")
        page.keyboard.press("Delete")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.wait_for_timeout(1500)  # the config is validated against the schema by the server


def test_materialize_from_the_ui_and_get_an_alert(dagster_dev: DagsterDev):
    from playwright.sync_api import expect, sync_playwright

    url = dagster_dev.url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=_requirements(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # the code location may still be loading

            # 1. the asset graph shows the assets
            page.goto(f"{url}/asset-groups")
            expect(page.get_by_text("ingest", exact=True).first).to_be_visible()  # groups, collapsed
            page.keyboard.press("Alt+e")  # the graph's "Expand all groups" (also in its settings menu)
            for asset in ("documents", "rejected_documents", "chunks"):
                expect(page.get_by_text(asset, exact=True).first).to_be_visible()
            page.wait_for_timeout(500)  # let the layout settle for the picture
            _shot(page, "asset-graph.png")

            # 2. materialize documents from the asset page, one corpus partition per run: first a
            # corpus with nothing readable (it will fail has_documents), then, once that run has
            # started, the sample corpus; both execute at once
            broken_url = _launch_documents(page, url, "broken")
            _wait_run(page, broken_url, ("Started", "Failure"))
            run_url = _launch_documents(page, url, "sample", shot="launch-partition.png")
            _wait_run(page, run_url, ("Success",))
            _shot(page, "run-success.png")
            _wait_run(page, broken_url, ("Failure",))

            # 3. the asset's checks passed for the latest run (sample)
            page.goto(f"{url}/assets/documents?view=checks")
            for check in ("every_file_accounted_for", "has_documents"):
                expect(page.get_by_text(check, exact=True).first).to_be_visible()
            expect(page.get_by_text("Succeeded", exact=True)).to_have_count(2)
            expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
            _shot(page, "checks-passed.png")
            # ... and its history shows the failure on the broken corpus
            page.get_by_text("has_documents", exact=True).first.click()
            page.get_by_text("Execution history", exact=True).click()
            expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
            expect(page.get_by_text("no document was ingested: see rejected_by_reason")).to_be_visible()
            _shot(page, "check-history.png")

            page.goto(f"{url}/assets/documents?view=partitions")
            expect(page.get_by_text("Materialized (2)")).to_be_visible()
            page.get_by_text("sample", exact=True).first.click()
            expect(page.get_by_text("View all historical events (1)")).to_be_visible()  # its materialization
            _shot(page, "partitions.png")

            # 4. the daemon's alert sensors report the failure: JSONL file and webhook
            run_id = broken_url.rstrip("/").rsplit("/", 1)[-1]
            alerts = _wait_for(
                lambda: [a for a in dagster_dev.alerts() if a["run_id"] == run_id and a["kind"] == "check_failed"],
                ALERT_TIMEOUT_S, "the check alert in alerts.jsonl", dagster_dev,
            )  # fmt: skip
            assert [(a["check"], a["partition"], a["severity"]) for a in alerts] == [
                ("has_documents", "broken", "ERROR")
            ]
            assert alerts[0]["run_url"] == f"{url}/runs/{run_id}"
            _wait_for(
                lambda: any(p["json"]["alert"]["key"] == alerts[0]["key"] for p in dagster_dev.hook.posts),
                ALERT_TIMEOUT_S, "the webhook POST", dagster_dev,
            )  # fmt: skip

            _wait_for(
                lambda: [a for a in dagster_dev.alerts() if a["run_id"] == run_id and a["kind"] == "run_failed"],
                ALERT_TIMEOUT_S, "the run failure alert", dagster_dev,
            )  # fmt: skip

            # the sensor's ticks in the UI say what it sent
            page.goto(f"{url}/locations/ragassets/sensors/check_alert_sensor")
            expect(page.get_by_text("check_alert_sensor").first).to_be_visible()
            page.wait_for_timeout(1500)
            _shot(page, "alert-sensor.png")

            # 5. the launchpad of questions shows its typed run config: keys with their descriptions,
            # and a wrong type is refused before anything runs
            _open_launchpad(page, url, "questions")
            _type_config(page, ["ops:", "  questions:", "    config:", "      questions:", "        questions_per_chunk: 3"])
            help_text = page.get_by_text("Questions asked for per chunk").first
            expect(help_text).to_be_attached()
            expect(page.get_by_text("questions_per_chunk", exact=True).first).to_be_attached()
            help_text.scroll_into_view_if_needed()
            expect(page.get_by_text("No errors")).to_be_visible()
            _shot(page, "launchpad-config.png")
            _type_config(page, ["ops:", "  questions:", "    config:", "      questions:", "        questions_per_chunk: many"])
            expect(page.get_by_text("questions_per_chunk. Value \"many\"", exact=False).first).to_be_visible()
        finally:
            browser.close()

    # the alert file holds each alert once: the sensor's repeated ticks did not duplicate it
    keys = [a["key"] for a in dagster_dev.alerts()]
    assert len(keys) == len(set(keys))
