"""Is a math answer equal to the reference? math-verify first, a numeric comparison as fallback.

`math-verify <https://github.com/huggingface/Math-Verify>`_ parses both sides to SymPy (LaTeX and
plain expressions: fractions, roots, pi, sets, intervals, tuples, percentages, units in
``\\text{}``) and compares them symbolically and numerically. Its timeouts use ``signal.alarm``,
which works only in the main thread of the main interpreter. :class:`MathVerifier` therefore:

- in the main thread, calls math-verify with its own timeouts;
- elsewhere (an executor thread, a server), sends the work to a small pool of worker processes,
  where math-verify runs in the worker's main thread with its timeouts, and the caller bounds each
  answer's wait itself; a worker stuck past that bound is killed and the answer counts as a timeout.

When math-verify says no (or cannot parse), both sides are read as plain numbers (fractions,
thousands separators, a trailing unit or degree sign, ``\\frac``) and compared with a relative
tolerance, so ``1,000 apples`` still matches ``1000``.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import multiprocessing
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

log = logging.getLogger(__name__)

Verdict = Literal["math_verify", "numeric", "wrong", "timeout", "unparsable"]


@dataclass(frozen=True)
class MathCheck:
    correct: bool
    how: Verdict  # what decided: math_verify / numeric (correct), wrong / timeout / unparsable
    detail: str = ""


def _dollars(s: str) -> str:
    s = s.strip().strip("$").strip()
    return f"${s}$"


def to_number(s: str) -> float | None:
    """A plain number read from an answer string, or None. Reads ``-3/4``, ``\\frac{3}{4}``,
    ``\\dfrac34``, ``1,000``, ``12 cm``, ``45^\\circ``, ``\\$10``, ``3.5``."""
    t = s.strip().strip("$").strip()
    t = re.sub(r"\\text\{[^}]*\}|\\mathrm\{[^}]*\}|\\,|\\!|\\;|\\ ", " ", t)
    t = re.sub(r"\^\s*\{?\\circ\}?|°", "", t)
    t = t.replace("\\$", "").replace("\\left", "").replace("\\right", "")
    t = re.sub(r"\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}", r"(\1)/(\2)", t)
    t = re.sub(r"\\[dt]?frac\s*(\d)\s*(\d)", r"\1/\2", t)
    t = re.sub(r"\s*[A-Za-z][A-Za-z ]*$", "", t).strip()  # a trailing unit word
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    m = re.fullmatch(r"\(?\s*(-?\d+(?:\.\d+)?)\s*\)?\s*(?:/\s*\(?\s*(-?\d+(?:\.\d+)?)\s*\)?)?", t)
    if not m:
        return None
    try:
        value = Fraction(m.group(1))
        if m.group(2) is not None:
            den = Fraction(m.group(2))
            if den == 0:
                return None
            value /= den
    except (ValueError, ZeroDivisionError):
        return None
    return float(value)


def numeric_equal(reference: str, answer: str, tolerance: float = 1e-6) -> bool:
    a, b = to_number(reference), to_number(answer)
    if a is None or b is None:
        return False
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _verify_inline(reference: str, answer: str, timeout_s: int | None, tolerance: float) -> MathCheck:
    """One comparison in this thread. ``timeout_s`` None: no math-verify timeouts (the caller
    bounds the time)."""
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    try:
        gold = parse(_dollars(reference), parsing_timeout=timeout_s, raise_on_error=True)
        pred = parse(_dollars(answer), parsing_timeout=timeout_s, raise_on_error=True)
        if gold and pred and verify(gold, pred, timeout_seconds=timeout_s, raise_on_error=True):
            return MathCheck(True, "math_verify")
    except TimeoutException:
        if numeric_equal(reference, answer, tolerance):
            return MathCheck(True, "numeric", "math-verify timed out")
        return MathCheck(False, "timeout", f"math-verify took longer than {timeout_s} s")
    except Exception as exc:  # noqa: BLE001 - a parser error on odd LaTeX: fall back to numbers
        if numeric_equal(reference, answer, tolerance):
            return MathCheck(True, "numeric", f"math-verify failed: {type(exc).__name__}")
        return MathCheck(False, "unparsable", f"math-verify could not compare: {type(exc).__name__}: {exc}"[:300])
    else:
        if not gold or not pred:
            if numeric_equal(reference, answer, tolerance):
                return MathCheck(True, "numeric", "math-verify found no expression")
            side = "reference" if not gold else "answer"
            return MathCheck(False, "unparsable", f"math-verify found no expression in the {side}")
    if numeric_equal(reference, answer, tolerance):
        return MathCheck(True, "numeric")
    return MathCheck(False, "wrong")


def _worker_verify(args: tuple[str, str, int, float]) -> MathCheck:
    reference, answer, timeout_s, tolerance = args
    return _verify_inline(reference, answer, timeout_s, tolerance)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class MathVerifier:
    """Compares answers with references under a per-answer time limit (see the module docstring).

    ``timeout_s``: seconds per comparison (whole seconds, as signal.alarm counts);
    ``tolerance``: relative and absolute tolerance of the numeric fallback;
    ``workers``: processes used when called outside the main thread.
    """

    def __init__(self, timeout_s: int = 5, tolerance: float = 1e-6, workers: int = 2) -> None:
        self.timeout_s = max(1, math.ceil(timeout_s))
        self.tolerance = tolerance
        self.workers = max(1, workers)
        self.mode = "main_thread" if _in_main_thread() else "worker_processes"

    def check(self, reference: str, answer: str) -> MathCheck:
        return self.check_many([(reference, answer)])[0]

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[MathCheck]:
        if not pairs:
            return []
        if _in_main_thread():
            self.mode = "main_thread"
            return [_verify_inline(r, a, self.timeout_s, self.tolerance) for r, a in pairs]
        self.mode = "worker_processes"
        return self._in_processes(pairs)

    def _in_processes(self, pairs: Sequence[tuple[str, str]]) -> list[MathCheck]:
        results: list[MathCheck | None] = [None] * len(pairs)
        ctx = multiprocessing.get_context("spawn")
        pending = list(range(len(pairs)))
        while pending:
            pool = cf.ProcessPoolExecutor(max_workers=min(self.workers, len(pending)), mp_context=ctx)
            broken = False
            try:
                futures = {
                    i: pool.submit(_worker_verify, (pairs[i][0], pairs[i][1], self.timeout_s, self.tolerance))
                    for i in pending
                }
                done_now: list[int] = []
                for i, fut in futures.items():
                    try:
                        # a worker's own alarm fires after timeout_s; this bound catches a stuck worker,
                        # counting the start of the pool (importing sympy) for the first answers
                        results[i] = fut.result(timeout=self.timeout_s * 3 + 30)
                        done_now.append(i)
                    except cf.TimeoutError:
                        results[i] = MathCheck(False, "timeout", f"no verdict within {self.timeout_s * 3 + 30} s")
                        done_now.append(i)
                        broken = True
                        break
                pending = [i for i in pending if i not in set(done_now)]
            finally:
                if broken:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.kill()
                pool.shutdown(wait=not broken, cancel_futures=True)
        return [r if r is not None else MathCheck(False, "timeout") for r in results]
