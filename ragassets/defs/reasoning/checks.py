"""Checks of the reasoning group: no duplicate problems and a contained sandbox (gates), every kept
solution verified again from its text alone (gate), and the pass rate with its failure reasons (warn)."""

from dataclasses import replace

import dagster as dg
import polars as pl

from ragassets.defs.reasoning.config import checked_problem_set_settings
from ragassets.reasoning.hostile import run_isolated
from ragassets.reasoning.metrics import failure_counts, markdown_table, pass_rates
from ragassets.reasoning.problems import problem_id as content_id
from ragassets.reasoning.sandbox import SandboxUnavailable
from ragassets.reasoning.verification import reverify, sandbox_from_settings, verifier_from_settings
from ragassets.resources.storage import StorageResource


@dg.asset_check(
    asset="reasoning_problems",
    blocking=True,
    description="No problem twice: problem_ids unique and no two problems with the same normalised text "
    "(a duplicate would put one problem in both the train and eval split).",
)
def no_duplicate_problems(reasoning_problems: pl.DataFrame) -> dg.AssetCheckResult:
    dup_ids = reasoning_problems.height - reasoning_problems["problem_id"].n_unique()
    recomputed = [content_id(d, t) for d, t in reasoning_problems.select("domain", "problem").iter_rows()]
    dup_text = len(recomputed) - len(set(recomputed))
    stale = sum(1 for a, b in zip(recomputed, reasoning_problems["problem_id"], strict=True) if a != b)
    problems = [m for m, n in ((f"{dup_ids} duplicate problem_id(s)", dup_ids),
                               (f"{dup_text} problem text(s) appear twice", dup_text),
                               (f"{stale} problem_id(s) are not the hash of their text", stale)) if n]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or None,
        metadata={"problems": reasoning_problems.height, "duplicate_ids": dup_ids, "duplicate_texts": dup_text},
    )


@dg.asset_check(
    asset="verified_solutions",
    blocking=True,
    description="The sandbox that ran the code holds: a fixed suite of hostile programs (fork bomb, infinite "
    "loop, 8 GB allocation, writing outside its folder, a network connection, reading the parent's environment, "
    "killing the parent) run through it now, in a process of its own, and each must end contained.",
)
def sandbox_contained(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    r = checked_problem_set_settings(context, storage.root, "verified_solutions").reasoning
    try:
        sandbox = sandbox_from_settings(r)
    except SandboxUnavailable as exc:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(exc))
    # the same sandbox and limits, with short time limits so the loops end in seconds
    limits = replace(sandbox.limits, cpu_s=min(sandbox.limits.cpu_s, 1), wall_s=min(sandbox.limits.wall_s, 2.5))
    results, info = run_isolated(isolation=r.sandbox_isolation, limits=limits)
    escaped = [x for x in results if not x.contained]
    return dg.AssetCheckResult(
        passed=not escaped,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{x.case}: {x.detail}" for x in escaped) or None,
        metadata={
            "isolation": str(info.get("isolation", sandbox.isolation)),
            "contained": sum(1 for x in results if x.contained),
            "cases": len(results),
            "results": dg.MetadataValue.md(markdown_table(
                [{"case": x.case, "contained": x.contained, "detail": x.detail, "how it ended": x.outcome}
                 for x in results])),
            "suite_wall_s": float(info.get("suite_wall_s", 0.0)),
        },
    )


@dg.asset_check(
    asset="verified_solutions",
    blocking=True,
    additional_ins={"reasoning_problems": dg.AssetIn("reasoning_problems")},
    description="Every kept solution (verified=true) is verified again from its text alone: the math answer "
    "re-extracted and compared with the reference, the code re-run against the tests in the sandbox.",
)
def every_kept_solution_verified(
    context: dg.AssetCheckExecutionContext,
    storage: StorageResource,
    verified_solutions: pl.DataFrame,
    reasoning_problems: pl.DataFrame,
) -> dg.AssetCheckResult:
    r = checked_problem_set_settings(context, storage.root, "verified_solutions").reasoning
    by_id = {p["problem_id"]: p for p in reasoning_problems.to_dicts()}
    kept = verified_solutions.filter(pl.col("verified")).to_dicts()
    verifier, sandbox = verifier_from_settings(r), sandbox_from_settings(r)
    bad = []
    for row in kept:
        problem = by_id.get(row["problem_id"])
        if problem is None:
            bad.append(f"{row['solution_id']}: its problem is not in reasoning_problems")
            continue
        ok, detail = reverify(problem, row["text"] or "", verifier, sandbox, r.max_tests_per_problem,
                              r.numeric_tolerance)
        if not ok:
            bad.append(f"{row['solution_id']} ({row['domain']}): {detail}")
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{len(bad)} kept solution(s) fail verification: " + "; ".join(bad[:5])) if bad else None,
        metadata={"kept": len(kept), "failed_reverification": len(bad), "failures": dg.MetadataValue.json(bad[:20])},
    )


@dg.asset_check(
    asset="verified_solutions",
    description="pass@1 of each domain is at least reasoning.min_pass_rate; the failure reasons say why not "
    "(no_answer: the model does not conclude; wrong_answer; no_code; test_failed; timeout; memory; crash).",
)
def pass_rate(
    context: dg.AssetCheckExecutionContext, storage: StorageResource, verified_solutions: pl.DataFrame
) -> dg.AssetCheckResult:
    r = checked_problem_set_settings(context, storage.root, "verified_solutions").reasoning
    k = r.samples_per_problem
    rates = pass_rates(verified_solutions, k)
    failures = failure_counts(verified_solutions)
    low = [x for x in rates if x["difficulty"] == "all" and x["domain"] != "all" and x["pass@1"] < r.min_pass_rate]
    words = []
    for x in low:
        top = sorted(failures.get(x["domain"], {}).items(), key=lambda kv: -kv[1])[:3]
        words.append(f"{x['domain']} pass@1 {x['pass@1']:.3f} < {r.min_pass_rate} (mostly "
                     + ", ".join(f"{reason} {n}" for reason, n in top) + ")")
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(words) or None,
        metadata={
            "min_pass_rate": r.min_pass_rate,
            "pass_rates": dg.MetadataValue.md(markdown_table(rates)),
            "failure_reasons": dg.MetadataValue.json(failures),
            **{f"{x['domain']}/pass@1": x["pass@1"] for x in rates if x["difficulty"] == "all"},
        },
    )
