"""Steps on Celery workers: three corpora at once, every step in one of two `dagster-celery` workers.

Real services only: a PostgreSQL server holds the instance that the runs and the workers share, a
Redis server is the broker and result backend, and the two workers are `dagster-celery worker start`
processes. The tables must equal those of an in-process run of the same corpora.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from ragassets_tests.conftest import REPO, SAMPLE, materialize
from ragassets_tests.services import postgres_server, redis_server

pytestmark = pytest.mark.slow

SELECT = "*chunks"  # documents -> redacted_documents -> chunks, with their checks
TABLES = {
    "documents": "doc_id",
    "rejected_documents": "source_path",
    "redacted_documents": "doc_id",
    "pii_findings": "doc_id",
    "chunks": "chunk_id",
}
CORPORA = ("alpha", "beta", "gamma")
LOCK_MARKERS = ("database is locked", "could not set lock", "conflicting lock", "lock on file")
BIN = Path(sys.executable).parent


def make_corpora(root: Path) -> None:
    """alpha: the sample; beta: the sample less two files, plus a note; gamma: three small documents."""
    corpora = root / "corpora"
    shutil.copytree(SAMPLE, corpora / "alpha")
    shutil.copytree(SAMPLE, corpora / "beta", ignore=shutil.ignore_patterns("*.docx", "*.pdf"))
    (corpora / "beta" / "note.md").write_text(
        "# Harbour note\n\nThe ferry to Lindholm leaves at 07:40 on weekdays. Call Maria Jensen on "
        "+45 20 12 34 56 for the key to the boat shed.\n"
    )
    (corpora / "gamma").mkdir(parents=True)
    for i, topic in enumerate(("seed library", "tool lending", "repair cafe")):
        paragraphs = [f"## Part {p}\n\nThe {topic} opens on day {p + i} of the month. Volunteers sort the "
                      f"returns, log them in the ledger, and write to info{i}@example.org when an item is late."
                      for p in range(1, 6)]
        (corpora / "gamma" / f"{topic.replace(' ', '-')}.md").write_text(f"# The {topic}\n\n" + "\n\n".join(paragraphs))


def new_root(path: Path) -> Path:
    (path / "dagster_home").mkdir(parents=True)
    make_corpora(path)
    return path


def read_tables(root: Path) -> dict[tuple[str, str], pl.DataFrame]:
    out = {}
    for corpus in CORPORA:
        for asset, key in TABLES.items():
            df = pl.read_parquet(root / "warehouse" / asset / f"corpus={corpus}" / "data.parquet")
            out[(asset, corpus)] = df.sort([c for c in (key, "start", "seq") if c in df.columns])
    return out


def start_worker(name: str, config: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`dagster-celery worker start`, one task at a time, in its own process group (stopped as one)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(config),
             "-n", name, "--", "--concurrency=1"],
            env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_for_workers(broker: str, backend: str, names: set[str], timeout_s: float = 240) -> None:
    from dagster_celery.make_app import make_app

    app = make_app({"broker": broker, "backend": backend, "include": [], "config_source": {}})
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        seen = {host.split("@")[0] for reply in replies for host in reply}
        if names <= seen:
            return
        time.sleep(1)
    raise AssertionError(f"celery workers {sorted(names - seen)} did not answer within {timeout_s}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_backfill_of_three_corpora_runs_every_step_on_celery_workers(tmp_path, monkeypatch):
    pytest.importorskip("dagster_celery", reason="dagster-celery comes with the `scale` extra")
    import dagster as dg

    # the reference: the same corpora materialized in process (SQLite instance)
    ref = new_root(tmp_path / "in_process")
    shutil.copyfile(REPO / "dagster.yaml", ref / "dagster_home" / "dagster.yaml")
    monkeypatch.setenv("RAGASSETS_DATA_DIR", str(ref))
    monkeypatch.setenv("DAGSTER_HOME", str(ref / "dagster_home"))
    for corpus in CORPORA:
        materialize(corpus, select=SELECT)
    expected = read_tables(ref)

    root = new_root(tmp_path / "celery")
    home = root / "dagster_home"
    shutil.copyfile(REPO / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    with postgres_server() as pg, redis_server() as redis:
        broker, backend = f"{redis.url}/0", f"{redis.url}/1"
        env = {
            **os.environ, **pg.env,
            "RAGASSETS_DATA_DIR": str(root), "DAGSTER_HOME": str(home),
            "RAGASSETS_EXECUTOR": "celery",
            "DAGSTER_CELERY_BROKER_URL": broker, "DAGSTER_CELERY_BACKEND_URL": backend,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        config = REPO / "deploy" / "celery" / "worker.yaml"
        workers = {name: start_worker(name, config, env, tmp_path / f"{name}.log") for name in ("w1", "w2")}
        try:
            wait_for_workers(broker, backend, set(workers))
            cli = subprocess.run(
                [str(BIN / "ragassets"), "materialize", *[a for c in CORPORA for a in ("--corpus", c)],
                 "--jobs", "3", "--select", SELECT],
                env=env, capture_output=True, text=True, timeout=900, check=False,
            )
        finally:
            for proc in workers.values():
                stop(proc)
        logs = cli.stdout + cli.stderr + "".join((tmp_path / f"{n}.log").read_text(errors="replace") for n in workers)
        assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
        assert not [m for m in LOCK_MARKERS if m in logs.lower()]

        # every step of every run executed in a celery worker, and both workers took part
        for key, value in pg.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert sorted(r.tags.get("dagster/partition") for r in runs) == sorted(CORPORA)
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            used: set[str] = set()
            for run in runs:
                events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
                succeeded = {e.step_key for e in events if e.event_type_value == "STEP_SUCCESS"}
                in_worker = {
                    e.step_key: e.event_specific_data.metadata["Celery worker"].value
                    for e in events
                    if e.event_type_value == "ENGINE_EVENT" and "in celery worker" in (e.message or "")
                }
                assert {"documents", "redaction", "chunks"} <= succeeded
                assert set(in_worker) == succeeded, f"steps not on a worker: {succeeded - set(in_worker)}"
                used |= {host.split("@")[0] for host in in_worker.values()}
            assert used == {"w1", "w2"}

    # the same tables as the in-process run: same rows, same ids, same content
    got = read_tables(root)
    for (asset, corpus), want in expected.items():
        have = got[(asset, corpus)]
        assert have.height == want.height, (asset, corpus)
        assert have[TABLES[asset]].to_list() == want[TABLES[asset]].to_list(), (asset, corpus)
        assert have.equals(want), (asset, corpus)
    assert expected[("documents", "gamma")].height == 3 and expected[("chunks", "beta")].height > 0
