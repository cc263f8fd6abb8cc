"""Run a candidate program against a problem's tests, each test case in its own sandboxed run.

Two kinds of tests, as in APPS:

- **standard input**: ``{"inputs": ["1 2\\n", ...], "outputs": ["3\\n", ...]}``: the program reads
  the input and its output must match: the same whitespace-separated tokens, numbers equal within
  a relative tolerance of 1e-6 (APPS's own checker is as lenient about spacing);
- **call-based** (``fn_name`` given): ``{"inputs": [[arg, ...], ...], "outputs": [value, ...]}``: a
  harness imports the program, calls ``fn_name`` (a module-level function, or a method of class
  ``Solution`` as LeetCode-style starter code declares), and compares the JSON of the result (APPS
  also writes an expected value wrapped in a one-element list; both are accepted).

Every test case starts a fresh sandbox (its own temporary folder, empty environment), so no test
sees another's files or state. The first failing case ends the candidate's run: the verdict
names the reason (``test_failed``, ``timeout``, ``memory``, ``crash``) and the case.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from ragassets.reasoning.sandbox import Sandbox

RESULT_MARK = "@@RAGASSETS_RESULT@@"

HARNESS = f'''
import contextlib, io, json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
args = json.loads(sys.stdin.read())
captured = io.StringIO()
with contextlib.redirect_stdout(captured):
    import solution
    name = {{fn_name!r}}
    if hasattr(solution, "Solution") and hasattr(solution.Solution, name):
        fn = getattr(solution.Solution(), name)
    elif hasattr(solution, name):
        fn = getattr(solution, name)
    else:
        raise SystemExit("the program defines no function " + repr(name))
    result = fn(*args)
sys.stdout.write("\\n{RESULT_MARK}" + json.dumps(result, default=repr) + "\\n")
'''


@dataclass
class CodeVerdict:
    passed: bool
    reason: str | None  # None when passed; test_failed | timeout | memory | crash | no_tests
    detail: str
    tests_passed: int
    tests_run: int
    tests_total: int
    wall_s: float


def normalize_tests(tests: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(inputs, outputs) of an APPS ``input_output`` object; list-of-lines stdin joined."""
    inputs, outputs = tests.get("inputs") or [], tests.get("outputs") or []
    if len(inputs) != len(outputs):
        raise ValueError(f"tests have {len(inputs)} inputs but {len(outputs)} outputs")
    return inputs, outputs


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value) + "\n"
    return str(value)


def _token_equal(a: str, b: str, tolerance: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def stdout_matches(actual: str, expected: Any, tolerance: float = 1e-6) -> bool:
    """Same whitespace-separated tokens; numeric tokens equal within ``tolerance``."""
    got, want = actual.split(), _as_text(expected).split()
    return len(got) == len(want) and all(_token_equal(a, b, tolerance) for a, b in zip(got, want, strict=True))


def _json_equal(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y, tolerance) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k], tolerance) for k in a)
    return a == b


def result_matches(result: Any, expected: Any, tolerance: float = 1e-6) -> bool:
    """A call-based result against APPS's expected value (which may be wrapped in a list)."""
    if _json_equal(result, expected, tolerance):
        return True
    return isinstance(expected, list) and len(expected) == 1 and _json_equal(result, expected[0], tolerance)


def _short(value: Any, n: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def run_tests(
    sandbox: Sandbox,
    code: str,
    tests: dict[str, Any],
    *,
    fn_name: str | None = None,
    max_tests: int | None = None,
    tolerance: float = 1e-6,
) -> CodeVerdict:
    """Run ``code`` against ``tests`` (see the module docstring); stop at the first failure."""
    started = time.monotonic()
    inputs, outputs = normalize_tests(tests)
    fn_name = fn_name or tests.get("fn_name")
    total = len(inputs)
    cases = list(zip(inputs, outputs, strict=True))[: max_tests or None]
    if not cases:
        return CodeVerdict(False, "no_tests", "the problem has no test cases", 0, 0, 0, 0.0)
    passed = 0
    for k, (given, expected) in enumerate(cases, start=1):
        if fn_name:
            args = given if isinstance(given, list) else [given]
            outcome = sandbox.run_python(
                HARNESS.format(fn_name=fn_name), json.dumps(args), files={"solution.py": code}
            )
        else:
            outcome = sandbox.run_python(code, _as_text(given))
        reason = outcome.failure_reason()
        if reason is not None:
            return CodeVerdict(
                False, reason, f"test {k}: {outcome.failure_detail()}", passed, k, total,
                time.monotonic() - started,
            )
        if fn_name:
            marks = [ln for ln in outcome.stdout.splitlines() if ln.startswith(RESULT_MARK)]
            if not marks:
                return CodeVerdict(False, "crash", f"test {k}: the harness printed no result", passed, k, total,
                                   time.monotonic() - started)
            got: Any = json.loads(marks[-1][len(RESULT_MARK):])
            ok = result_matches(got, expected, tolerance)
        else:
            got = outcome.stdout
            ok = stdout_matches(got, expected, tolerance)
        if not ok:
            detail = f"test {k}: expected {_short(expected)}, got {_short(got)}"
            return CodeVerdict(False, "test_failed", detail, passed, k, total, time.monotonic() - started)
        passed += 1
    return CodeVerdict(True, None, f"{passed}/{len(cases)} tests passed", passed, len(cases), total,
                       time.monotonic() - started)
