"""The distribution of judge scores: verdict counts and shares, 1-point bins of ``overall``, and
the same bins as a Markdown table and a bar chart (coloured by verdict) for the asset's metadata.

Validate once, read the whole distribution, then pick the formatting threshold: the table says how
many pairs each threshold keeps (``kept at >= t`` is the running total from the top).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragassets.judging.rubric import FAIL, MAX_OVERALL, NEEDS_REVIEW, PASS, UNSCORED, VERDICTS, verdict_of
from ragassets.plots import bar_markdown


def score_bins(overall: Sequence[int | None]) -> dict[int, int]:
    """Count of scored pairs at each overall score 0..10 (1-point bins; unscored pairs left out)."""
    bins = dict.fromkeys(range(MAX_OVERALL + 1), 0)
    for score in overall:
        if score is None:
            continue
        if not 0 <= score <= MAX_OVERALL:
            raise ValueError(f"overall score {score} is outside 0..{MAX_OVERALL}")
        bins[int(score)] += 1
    return bins


@dataclass(frozen=True)
class ScoreDistribution:
    """Verdict counts, score bins and the figures Dagster plots across runs."""

    total: int
    verdicts: dict[str, int]
    bins: dict[int, int]
    pass_rate: float  # PASS share of all pairs (unscored pairs count against it)
    mean_score: float | None  # mean overall of the scored pairs

    def shares(self) -> dict[str, float]:
        return {v: (n / self.total if self.total else 0.0) for v, n in self.verdicts.items()}


def score_distribution(overall: Sequence[int | None], verdicts: Sequence[str]) -> ScoreDistribution:
    """Counts per verdict and per 1-point bin; ``sum(verdicts) == sum(bins) + unscored == total``."""
    if len(overall) != len(verdicts):
        raise ValueError(f"{len(overall)} scores but {len(verdicts)} verdicts")
    counts = dict.fromkeys(VERDICTS, 0)
    for v in verdicts:
        if v not in counts:
            raise ValueError(f"unknown verdict {v!r}; expected one of {', '.join(VERDICTS)}")
        counts[v] += 1
    scored = [s for s in overall if s is not None]
    total = len(verdicts)
    return ScoreDistribution(
        total=total,
        verdicts=counts,
        bins=score_bins(overall),
        pass_rate=counts[PASS] / total if total else 0.0,
        mean_score=sum(scored) / len(scored) if scored else None,
    )


def distribution_table(dist: ScoreDistribution, pass_threshold: float, review_threshold: float) -> str:
    """Markdown table: one row per overall score, its count, share, verdict and what a threshold keeps."""
    scored = sum(dist.bins.values())
    lines = ["| overall | pairs | share | verdict | kept at >= overall |", "|---:|---:|---:|:---|---:|"]
    kept = 0
    rows = []
    for score in range(MAX_OVERALL, -1, -1):
        n = dist.bins[score]
        kept += n
        share = n / scored if scored else 0.0
        rows.append(
            f"| {score} | {n} | {share:.1%} | {verdict_of(score, pass_threshold, review_threshold)} | {kept} |"
        )
    lines.extend(reversed(rows))
    if dist.verdicts.get(UNSCORED):
        lines.append(f"| unscored | {dist.verdicts[UNSCORED]} | | {UNSCORED} | |")
    lines.append(f"| **total** | **{dist.total}** | | | |")
    return "\n".join(lines)


def distribution_chart(dist: ScoreDistribution, pass_threshold: float, review_threshold: float) -> str:
    """The 1-point bins as bars coloured by verdict (Markdown with an inline PNG)."""
    labels = [str(s) for s in range(MAX_OVERALL + 1)]
    series: dict[str, list[float]] = {FAIL: [], NEEDS_REVIEW: [], PASS: []}
    for score in range(MAX_OVERALL + 1):
        verdict = verdict_of(score, pass_threshold, review_threshold)
        for name, ys in series.items():
            ys.append(float(dist.bins[score]) if name == verdict else 0.0)
    return bar_markdown(labels, series, title=f"Judge overall scores (n = {sum(dist.bins.values())})", ylabel="pairs")
