"""pass@1 and pass@k per domain and difficulty, and failure reasons counted.

pass@k is the unbiased estimator of Chen et al. (2021, the Codex paper): with n samples of a
problem of which c are correct, ``1 - C(n-c, k) / C(n, k)``, the chance that at least one of k
samples drawn without replacement is correct; averaged over problems. pass@1 is then the mean of
c / n. A problem's samples that failed to generate count as samples that failed.
"""

from __future__ import annotations

from math import comb
from typing import Any

import polars as pl


def pass_at_k(n: int, c: int, k: int) -> float:
    if n <= 0:
        return 0.0
    k = min(k, n)
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def per_problem(verified: pl.DataFrame) -> pl.DataFrame:
    """problem_id, domain, difficulty, n (samples), c (verified)."""
    return verified.group_by("problem_id", "domain", "difficulty").agg(
        pl.len().alias("n"), pl.col("verified").cast(pl.Int64).sum().alias("c")
    )


def pass_rates(verified: pl.DataFrame, k: int) -> list[dict[str, Any]]:
    """One row per (domain, difficulty) and per domain (difficulty ``all``) and overall."""
    probs = per_problem(verified).to_dicts()
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in probs:
        for key in ((p["domain"], p["difficulty"]), (p["domain"], "all"), ("all", "all")):
            groups.setdefault(key, []).append(p)
    out = []
    for (domain, difficulty), items in sorted(groups.items()):
        out.append(
            {
                "domain": domain,
                "difficulty": difficulty,
                "problems": len(items),
                "samples": sum(p["n"] for p in items),
                "verified": sum(p["c"] for p in items),
                "pass@1": round(sum(pass_at_k(p["n"], p["c"], 1) for p in items) / len(items), 4),
                f"pass@{k}": round(sum(pass_at_k(p["n"], p["c"], k) for p in items) / len(items), 4),
            }
        )
    return out


def failure_counts(verified: pl.DataFrame) -> dict[str, dict[str, int]]:
    """domain -> reason -> count, over failed solutions."""
    failed = verified.filter(~pl.col("verified"))
    out: dict[str, dict[str, int]] = {}
    for row in failed.group_by("domain", "reason").len().sort("domain", "reason").to_dicts():
        out.setdefault(row["domain"], {})[row["reason"]] = int(row["len"])
    return out


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no solutions)"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
