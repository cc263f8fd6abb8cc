"""The `ragassets` command: materialize corpora from a terminal, list them, query helpers.

Runs go into the persistent Dagster instance ($DAGSTER_HOME, by default ``<data root>/dagster_home``)
so they show in the UI next to runs launched there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragassets import paths

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def ensure_dagster_home(root: Path) -> Path:
    """Point DAGSTER_HOME at ``<data root>/dagster_home`` unless set, with the repo's dagster.yaml in it."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home(root))
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    target = home / "dagster.yaml"
    if not target.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    return home


def corpus_job_def():
    """The job that materializes the graph for one corpus (module level, so it is reconstructable)."""
    from ragassets.definitions import defs

    return defs.resolve_job_def("corpus_job")


def problem_set_job_def():
    """The job that materializes the reasoning group for one problem set (module level: reconstructable)."""
    from ragassets.definitions import defs

    return defs.resolve_job_def("problem_set_job")


def resolve_selection(select: str | None, defs: Any) -> list[Any] | None:
    """Asset keys for ``--select``: comma-separated asset names, or Dagster's selection syntax."""
    import dagster as dg

    if not select:
        return None
    graph = defs.resolve_asset_graph()
    all_keys = graph.get_all_asset_keys()
    names = [s.strip() for s in select.split(",") if s.strip()]
    if all(n.replace("_", "").replace("/", "").isalnum() for n in names):
        known = {k.to_user_string(): k for k in all_keys}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(
                f"error: unknown asset(s) {', '.join(unknown)} in --select; known: {', '.join(sorted(known))}"
            )
        selection = dg.AssetSelection.assets(*[known[n] for n in names])
    else:
        try:
            selection = dg.AssetSelection.from_string(select)
        except Exception as exc:  # noqa: BLE001 - the grammar's own error is the clearest message
            raise SystemExit(f"error: cannot parse --select {select!r}: {exc}") from None
    try:
        # assets produced together (documents + rejected_documents) run together
        keys = selection.required_multi_asset_neighbors().resolve(graph)
    except Exception as exc:  # noqa: BLE001 - the grammar's own error is the clearest message
        raise SystemExit(f"error: cannot parse --select {select!r}: {exc}") from None
    if not keys:
        raise SystemExit(f"error: --select {select!r} matches no asset")
    return sorted(keys, key=lambda k: k.to_user_string())


@dataclass
class RunSummary:
    corpus: str
    run_id: str
    success: bool
    assets: dict[str, int | None] = field(default_factory=dict)  # asset -> rows
    checks: list[tuple[str, str, bool, str, bool]] = field(default_factory=list)  # asset, check, passed, sev, blocking
    error: str = ""
    kind: str = "corpus"  # or "problem set"

    @property
    def blocking_failed(self) -> list[str]:
        return [f"{a}:{c}" for a, c, passed, sev, blocking in self.checks if not passed and sev == "ERROR"]


def summarize_run(instance: Any, corpus: str, run_id: str, success: bool) -> RunSummary:
    from dagster import DagsterEventType

    summary = RunSummary(corpus, run_id, success)
    records = instance.all_logs(
        run_id,
        of_type={
            DagsterEventType.ASSET_MATERIALIZATION,
            DagsterEventType.ASSET_CHECK_EVALUATION,
            DagsterEventType.STEP_FAILURE,
        },
    )
    for rec in records:
        ev = rec.dagster_event
        if ev is None:
            continue
        if ev.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = ev.event_specific_data.materialization
            rows = mat.metadata.get("dagster/row_count")
            summary.assets[mat.asset_key.to_user_string()] = getattr(rows, "value", None)
        elif ev.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            ce = ev.event_specific_data
            summary.checks.append(
                (ce.asset_key.to_user_string(), ce.check_name, ce.passed, ce.severity.value, bool(ce.blocking))
            )
        elif ev.event_type == DagsterEventType.STEP_FAILURE and not summary.error:
            err = ev.event_specific_data.error
            summary.error = f"{ev.step_key}: {err.message.strip() if err else 'failed'}"
    return summary


def print_summary(s: RunSummary) -> None:
    status = "SUCCESS" if s.success else "FAILED"
    print(f"\n{s.kind} {s.corpus}: run {s.run_id[:8]} {status}")
    width = max([len(a) for a in s.assets] + [10])
    for asset, rows in sorted(s.assets.items()):
        checks = [c for c in s.checks if c[0] == asset]
        passed = sum(1 for c in checks if c[2])
        failed = [f"{c[1]} ({c[3]})" for c in checks if not c[2]]
        rows_s = "-" if rows is None else str(rows)
        line = f"  {asset:<{width}}  rows={rows_s:<7}"
        if checks:
            line += f" checks {passed}/{len(checks)} passed"
        if failed:
            line += "; FAILED: " + ", ".join(failed)
        print(line)
    if s.error:
        print(f"  error: {s.error}")


def _run_one(
    corpus: str, keys: list[Any] | None, executor: str, batch: str | None = None, job_def: Any = corpus_job_def
) -> RunSummary:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    tags = {"ragassets/trigger": "cli"}
    if batch:
        tags["ragassets/batch"] = batch
    run_config = {"loggers": {"console": {"config": {"log_level": os.environ.get("RAGASSETS_LOG_LEVEL", "INFO")}}}}
    if executor == "multiprocess":
        result = dg.execute_job(
            dg.reconstructable(job_def),
            instance=instance,
            asset_selection=keys,
            run_config=run_config,
            tags={**tags, "dagster/partition": corpus},
        )
    else:
        result = job_def().execute_in_process(
            instance=instance,
            partition_key=corpus,
            asset_selection=keys,
            raise_on_error=False,
            tags=tags,
            run_config=run_config,
        )
    return summarize_run(instance, corpus, result.run_id, result.success)


def _run_in_processes(corpora: list[str], args: argparse.Namespace, instance: Any) -> list[RunSummary]:
    """Run corpora at once, one `ragassets materialize` child process each (multiprocess executor).

    Dagster's run execution configures logging per run and is not safe to run in several threads of
    one process, so parallel corpora get processes of their own; the runs are tagged with a batch id
    and summarized here from the instance.
    """
    import subprocess
    import uuid

    from dagster import RunsFilter

    batch = uuid.uuid4().hex[:12]
    base = [sys.executable, "-m", "ragassets.cli", "materialize", "--executor", "multiprocess", "--no-post",
            "--batch", batch]
    if args.select:
        base += ["--select", args.select]
    pending = list(corpora)
    running: list[subprocess.Popen] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            running.append(subprocess.Popen([*base, "--corpus", pending.pop(0)], stdout=subprocess.DEVNULL))
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    runs = instance.get_runs(RunsFilter(tags={"ragassets/batch": batch}))
    summaries = []
    for run in sorted(runs, key=lambda r: r.tags.get("dagster/partition", "")):
        summaries.append(summarize_run(instance, run.tags.get("dagster/partition", "?"), run.run_id, run.is_success))
    missing = set(corpora) - {s.corpus for s in summaries}
    summaries += [RunSummary(c, "-" * 8, False, error="the run did not start (see messages above)") for c in missing]
    return summaries


def _materialize_problem_sets(args: argparse.Namespace) -> tuple[list[RunSummary], int]:
    """Run the reasoning group for each ``--problem-set`` (registering new folders as partitions)."""
    import dagster as dg

    from ragassets.partitions import discover_problem_sets, problem_set_partitions
    from ragassets.reasoning.problem_sets import problem_sets_dir, validate_problem_set_name

    root = paths.data_root()
    valid, _ = discover_problem_sets(root)
    for name in args.problem_set:
        validate_problem_set_name(name)
        if name not in valid:
            print(f"error: no problem set folder {problem_sets_dir(root) / name}; problem sets found: "
                  f"{', '.join(valid) or 'none'}", file=sys.stderr)
            return [], 2
    from ragassets.definitions import defs

    keys = resolve_selection(args.select, defs)
    instance = dg.DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(problem_set_partitions.name))
    new = [p for p in valid if p not in known]
    if new:
        instance.add_dynamic_partitions(problem_set_partitions.name, new)
        print(f"registered problem set partitions: {', '.join(new)}")
    summaries = []
    for name in args.problem_set:
        s = _run_one(name, keys, args.executor, args.batch, job_def=problem_set_job_def)
        s.kind = "problem set"
        summaries.append(s)
    return summaries, 0


def cmd_materialize(args: argparse.Namespace) -> int:
    import dagster as dg

    from ragassets.partitions import corpus_partitions, discover_corpora, validate_corpus_name

    root = paths.data_root()
    ensure_dagster_home(root)
    reasoning: list[RunSummary] = []
    if args.problem_set:
        reasoning, code = _materialize_problem_sets(args)
        if code:
            return code
        if not args.corpus:
            return _finish(reasoning, args, root)
    valid, invalid = discover_corpora(root)
    for name in invalid:
        print(f"warning: skipping corpora/{name}: not a valid corpus name (lowercase letters, digits, '-', '_')",
              file=sys.stderr)
    wanted = args.corpus or valid
    for c in wanted:
        validate_corpus_name(c)
        if c not in valid:
            print(f"error: no corpus folder {paths.corpus_dir(c, root)}; corpora found: {', '.join(valid) or 'none'}",
                  file=sys.stderr)
            return 2
    if not wanted:
        print(f"error: no corpus under {paths.corpora_dir(root)}; create data/corpora/<name>/ with documents",
              file=sys.stderr)
        return 2
    from ragassets.definitions import defs

    keys = resolve_selection(args.select, defs)
    instance = dg.DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(corpus_partitions.name))
    new = [c for c in valid if c not in known]
    if new:
        instance.add_dynamic_partitions(corpus_partitions.name, new)
        print(f"registered corpus partitions: {', '.join(new)}")
    if args.jobs > 1 and len(wanted) > 1:
        summaries = _run_in_processes(wanted, args, instance)
    else:
        summaries = [_run_one(c, keys, args.executor, args.batch) for c in wanted]
    return _finish(reasoning + summaries, args, root)


def _finish(summaries: list[RunSummary], args: argparse.Namespace, root: Path) -> int:
    """Print the summaries, refresh the DuckDB views and evaluate alerts; the exit status."""
    from ragassets.definitions import defs

    for s in summaries:
        print_summary(s)
    if args.no_post:
        return 1 if any(not s.success or s.blocking_failed for s in summaries) else 0
    import dagster as dg

    instance = dg.DagsterInstance.get()
    try:
        from ragassets.storage import refresh_views

        views = refresh_views(root)
        print(f"\nDuckDB views in {paths.duckdb_path(root)}: {', '.join(views)}")
    except RuntimeError as exc:
        print(f"warning: {exc}", file=sys.stderr)
    _evaluate_alerts(instance, defs)
    failed = [s for s in summaries if not s.success or s.blocking_failed]
    return 1 if failed else 0


def _evaluate_alerts(instance: Any, defs: Any) -> None:
    try:
        from ragassets.alert_sensors import evaluate_alert_sensors_once
    except ImportError:
        return
    sent = evaluate_alert_sensors_once(instance, defs)
    if sent:
        print(f"alerts sent: {sent}")


def cmd_corpora(args: argparse.Namespace) -> int:
    from ragassets.ingest.corpus import list_corpus_files
    from ragassets.partitions import discover_corpora
    from ragassets.storage import tabular_assets

    root = paths.data_root()
    valid, invalid = discover_corpora(root)
    assets = tabular_assets(root)
    if not valid and not invalid:
        print(f"no corpora under {paths.corpora_dir(root)}")
        return 0
    print(f"{'corpus':<24} {'files':>6}  materialized")
    for c in valid:
        n = len(list_corpus_files(paths.corpus_dir(c, root)))
        done = [a for a in assets if paths.table_path(a, c, root).exists()]
        print(f"{c:<24} {n:>6}  {', '.join(done) or '-'}")
    for c in invalid:
        print(f"{c:<24} {'':>6}  (invalid corpus name: not registered)")
    return 0


def cmd_views(args: argparse.Namespace) -> int:
    from ragassets.storage import refresh_views

    views = refresh_views()
    print(f"{paths.duckdb_path()}: {', '.join(views) or 'no tables yet'}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print the first rows of one table for one corpus, long text cut to a readable width."""
    import polars as pl

    from ragassets.storage import read_table

    try:
        df = read_table(args.asset, args.corpus)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = args.columns.split(",") if args.columns else [c for c in df.columns if c != "vector"]
    unknown = [c for c in cols if c not in df.columns]
    if unknown:
        print(f"error: no column(s) {', '.join(unknown)} in {args.asset}; columns: {', '.join(df.columns)}",
              file=sys.stderr)
        return 2
    with pl.Config(tbl_rows=args.n, fmt_str_lengths=args.width, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print(f"{args.asset} for corpus {args.corpus}: {df.height} rows")
        view = df.select(cols).head(args.n)
        text_cols = [c for c, t in view.schema.items() if t == pl.String]
        print(view.with_columns(pl.col(c).str.replace_all(r"\s+", " ") for c in text_cols))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragassets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("materialize", help="materialize assets for one or more corpora")
    m.add_argument("--corpus", action="append", help="corpus name (repeatable); default: every corpus on disk")
    m.add_argument("--problem-set", action="append",
                   help="problem set name (repeatable): materialize the reasoning group for data/problem_sets/<name>/")
    m.add_argument("--select", help="comma-separated asset names or a Dagster asset selection; default: all")
    m.add_argument("--jobs", type=int, default=1, help="corpora to run at once, each in its own process")
    m.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process",
                   help="in_process (default, fastest for one corpus) or multiprocess (a process per step)")
    m.add_argument("--no-post", action="store_true", help=argparse.SUPPRESS)  # child of --jobs: no views/alerts
    m.add_argument("--batch", help=argparse.SUPPRESS)  # tag that groups the runs of one --jobs call
    m.set_defaults(func=cmd_materialize)
    c = sub.add_parser("corpora", help="list corpora, their file counts and what is materialized")
    c.set_defaults(func=cmd_corpora)
    sh = sub.add_parser("show", help="print the first rows of a table for a corpus")
    sh.add_argument("asset", help="table name, e.g. redacted_documents")
    sh.add_argument("--corpus", required=True)
    sh.add_argument("--columns", help="comma-separated columns (default: all but vectors)")
    sh.add_argument("-n", type=int, default=5, help="rows (default 5)")
    sh.add_argument("--width", type=int, default=90, help="characters shown per text cell")
    sh.set_defaults(func=cmd_show)
    v = sub.add_parser("views", help="(re)create the DuckDB views over the warehouse")
    v.set_defaults(func=cmd_views)
    from ragassets.retrieval.cli_search import add_search_parser  # issue 4: chunk search

    add_search_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        from ragassets.settings import SettingsError

        if isinstance(exc, SettingsError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
