"""Keep only verified solutions (rejection sampling), and say why every other one failed.

Math: the final answer is extracted (``extract.extract_math_answer``) and compared with the
reference (``verify_math.MathVerifier``). Code: the last Python block is run against the problem's
tests in the sandbox (``code_tests.run_tests``), several candidates at once in threads (each test
case is its own subprocess, so threads only wait).

Failure reasons, as counted in metadata:

=====================  ============================================================
``generation_failed``  the LLM request failed (the LLM layer's reason is in detail)
``no_answer``          math: no final answer found (or only a non-answer, or the solution was cut at
                       max_tokens before concluding: its last number is then a step, not an answer)
``wrong_answer``       math: an answer that does not match the reference
``no_code``            code: no Python code block in the solution
``test_failed``        code: wrong output on a test case
``timeout``            code: past the CPU or wall-clock limit (math: past math_timeout_s)
``memory``             code: past the memory limit
``crash``              code: an exception, a syntax error, a non-zero exit
=====================  ============================================================
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from ragassets.reasoning.code_tests import run_tests
from ragassets.reasoning.extract import extract_code, extract_math_answer
from ragassets.reasoning.sandbox import Sandbox
from ragassets.reasoning.verify_math import MathVerifier

FAILURE_REASONS = (
    "generation_failed",
    "no_answer",
    "wrong_answer",
    "no_code",
    "test_failed",
    "timeout",
    "memory",
    "crash",
)

VERIFIED_COLUMNS = {
    "problem_set": pl.String,
    "solution_id": pl.String,
    "problem_id": pl.String,
    "domain": pl.String,
    "difficulty": pl.String,
    "sample": pl.Int64,
    "verified": pl.Boolean,
    "reason": pl.String,
    "detail": pl.String,
    "extracted": pl.String,
    "extraction": pl.String,
    "decided_by": pl.String,
    "tests_passed": pl.Int64,
    "tests_run": pl.Int64,
    "truncated": pl.Boolean,
    "text": pl.String,
}


def _base(sol: dict[str, Any]) -> dict[str, Any]:
    return {k: sol[k] for k in ("problem_set", "solution_id", "problem_id", "domain", "difficulty", "sample")} | {
        "text": sol.get("text"),
        "truncated": sol.get("finish_reason") == "length",
        "extracted": None,
        "extraction": None,
        "decided_by": None,
        "tests_passed": None,
        "tests_run": None,
    }


def _truncation_note(row: dict[str, Any]) -> str:
    return " (the solution was cut at max_tokens)" if row["truncated"] else ""


def verify_math_solutions(
    problems: dict[str, dict[str, Any]], solutions: list[dict[str, Any]], verifier: MathVerifier
) -> list[dict[str, Any]]:
    out, pairs, waiting = [], [], []
    for sol in solutions:
        row = _base(sol)
        found = extract_math_answer(sol["text"] or "")
        if found is None:
            row.update(verified=False, reason="no_answer", detail="no final answer found" + _truncation_note(row))
            out.append(row)
            continue
        if found.method == "last_number" and row["truncated"]:
            # cut mid-computation: its last number is a step, not a conclusion
            row.update(verified=False, reason="no_answer", extracted=found.text, extraction=found.method,
                       detail=f"cut at max_tokens before a final answer (last number seen: {found.text})")
            out.append(row)
            continue
        row.update(extracted=found.text, extraction=found.method)
        pairs.append((problems[sol["problem_id"]]["reference_answer"], found.text))
        waiting.append(row)
        out.append(row)
    for row, (ref, _), check in zip(waiting, pairs, verifier.check_many(pairs), strict=True):
        if check.correct:
            row.update(verified=True, reason=None, detail=f"matches {ref}", decided_by=check.how)
        elif check.how == "timeout":
            row.update(verified=False, reason="timeout", detail=check.detail, decided_by=check.how)
        else:
            why = f"{row['extracted']} is not {ref}" + (f" ({check.detail})" if check.detail else "")
            row.update(verified=False, reason="wrong_answer", detail=why, decided_by=check.how)
    return out


def verify_code_solution(
    problem: dict[str, Any], sol: dict[str, Any], sandbox: Sandbox, max_tests: int, tolerance: float
) -> dict[str, Any]:
    row = _base(sol)
    code = extract_code(sol["text"] or "")
    if code is None:
        row.update(verified=False, reason="no_code", detail="no Python code block" + _truncation_note(row))
        return row
    row.update(extracted=code, extraction="code_block")
    verdict = run_tests(
        sandbox, code, json.loads(problem["tests"]), fn_name=problem.get("fn_name"), max_tests=max_tests,
        tolerance=tolerance,
    )
    row.update(
        verified=verdict.passed,
        reason=verdict.reason,
        detail=verdict.detail,
        decided_by="sandbox",
        tests_passed=verdict.tests_passed,
        tests_run=verdict.tests_run,
    )
    return row


def verify_solutions(
    problems: pl.DataFrame,
    solutions: pl.DataFrame,
    *,
    verifier: MathVerifier,
    sandbox: Sandbox,
    max_tests: int = 10,
    tolerance: float = 1e-6,
    workers: int | None = None,
) -> pl.DataFrame:
    """One row per solution: ``verified``, the failure ``reason`` and ``detail``, what was extracted."""
    by_id = {p["problem_id"]: p for p in problems.to_dicts()}
    rows: list[dict[str, Any]] = []
    math_todo, code_todo = [], []
    for sol in solutions.to_dicts():
        if sol["problem_id"] not in by_id:
            raise ValueError(f"solution {sol['solution_id']} names problem {sol['problem_id']}, not in reasoning_problems")
        if sol.get("error") or sol.get("text") is None:
            row = _base(sol)
            row.update(verified=False, reason="generation_failed", detail=f"LLM request failed: {sol.get('error')}")
            rows.append(row)
        elif sol["domain"] == "math":
            math_todo.append(sol)
        else:
            code_todo.append(sol)
    rows += verify_math_solutions(by_id, math_todo, verifier)
    n = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, n)) as pool:
        rows += list(
            pool.map(lambda s: verify_code_solution(by_id[s["problem_id"]], s, sandbox, max_tests, tolerance), code_todo)
        )
    df = pl.DataFrame(rows, schema=VERIFIED_COLUMNS) if rows else pl.DataFrame(schema=VERIFIED_COLUMNS)
    return df.sort("domain", "problem_id", "sample")


def reverify(problem: dict[str, Any], text: str, verifier: MathVerifier, sandbox: Sandbox, max_tests: int,
             tolerance: float) -> tuple[bool, str]:
    """Check one kept solution again from its text alone (for the every_kept_solution_verified gate)."""
    sol = {"problem_set": "", "solution_id": "", "problem_id": problem["problem_id"], "domain": problem["domain"],
           "difficulty": problem["difficulty"], "sample": 0, "text": text, "finish_reason": None}
    if problem["domain"] == "math":
        row = verify_math_solutions({problem["problem_id"]: problem}, [sol], verifier)[0]
    else:
        row = verify_code_solution(problem, sol, sandbox, max_tests, tolerance)
    return bool(row["verified"]), row["detail"] or ""


def sandbox_from_settings(r: Any) -> Sandbox:
    """The sandbox of a ``reasoning`` settings block (SandboxUnavailable when namespaces are required
    and refused)."""
    from ragassets.reasoning.sandbox import SandboxLimits

    limits = SandboxLimits(
        cpu_s=r.sandbox_cpu_s, wall_s=r.sandbox_wall_s, memory_mb=r.sandbox_memory_mb, file_mb=r.sandbox_file_mb,
        nproc=r.sandbox_nproc,
    )
    return Sandbox(limits, isolation=r.sandbox_isolation)


def verifier_from_settings(r: Any) -> MathVerifier:
    return MathVerifier(timeout_s=r.math_timeout_s, tolerance=r.numeric_tolerance, workers=r.sandbox_workers or 2)
