"""Token, cost and throughput accounting of LLM work, and the progress line.

Token counts come, in order of preference, from the server's ``usage`` field, from a local tokenizer
(the transformers provider has one; others may be given a tokenizer path), or from an estimate of
one token per four characters plus four tokens per chat message (the usual figure for English BPE
vocabularies; good to about 20 % on prose, worse on code or non-Latin scripts). The source is
recorded per answer and summarised, so a cost built on estimates is visibly an estimate.

Costs only count what was sent in this run: an answer from the cache was paid for once already.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragassets.llm.types import Result, Usage

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    """The documented fallback: ceil(chars / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_message_tokens(messages: tuple[dict[str, str], ...] | list[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in messages)


def cost_usd(
    input_tokens: int, output_tokens: int, price_input_per_mtok: float, price_output_per_mtok: float
) -> float:
    return input_tokens / 1e6 * price_input_per_mtok + output_tokens / 1e6 * price_output_per_mtok


@dataclass
class UsageStats:
    """What one batch (or one asset's batches, added up) cost and how it went.

    requests: results returned (repair requests included); cache_hits: of those, answered from the
    cache; sent: requests that went to the provider; attempts: provider calls including retries;
    repairs: structured-output re-asks after a parse failure; failures: final outcomes by reason
    (a request repaired successfully is not a failure). Tokens and cost cover sent requests only.
    """

    provider: str = ""
    model: str = ""
    role: str = "llm"
    requests: int = 0
    cache_hits: int = 0
    sent: int = 0
    attempts: int = 0
    repairs: int = 0
    failures: Counter = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cached_output_tokens: int = 0
    token_sources: Counter = field(default_factory=Counter)
    cost_usd: float = 0.0
    wall_s: float = 0.0
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    min_concurrency: int | None = None
    max_in_flight: int = 0

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def requests_per_s(self) -> float:
        return self.sent / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Output tokens generated per second of wall time."""
        return self.output_tokens / self.wall_s if self.wall_s > 0 else 0.0

    def record(self, result: Result) -> None:
        """Count one final result (after retries)."""
        self.requests += 1
        if result.cached:
            self.cache_hits += 1
            self.cached_input_tokens += result.usage.input_tokens
            self.cached_output_tokens += result.usage.output_tokens
            return
        self.sent += 1
        self.attempts += result.attempts
        self.input_tokens += result.usage.input_tokens
        self.output_tokens += result.usage.output_tokens
        if result.usage.source != "none":
            self.token_sources[result.usage.source] += 1
        self.cost_usd += cost_usd(
            result.usage.input_tokens,
            result.usage.output_tokens,
            self.price_input_per_mtok,
            self.price_output_per_mtok,
        )
        if not result.ok:
            self.failures[result.error or "unknown"] += 1

    def record_structured_failure(self, reason: str) -> None:
        """An answer arrived but did not parse or validate even after the repairs."""
        self.failures[reason] += 1

    def merge(self, other: UsageStats) -> UsageStats:
        """Add ``other`` into this one (for an asset that runs several batches)."""
        for name in (
            "requests",
            "cache_hits",
            "sent",
            "attempts",
            "repairs",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cached_output_tokens",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_in_flight = max(self.max_in_flight, other.max_in_flight)
        self.failures.update(other.failures)
        self.token_sources.update(other.token_sources)
        self.cost_usd += other.cost_usd
        self.wall_s += other.wall_s
        if other.min_concurrency is not None:
            self.min_concurrency = (
                other.min_concurrency
                if self.min_concurrency is None
                else min(self.min_concurrency, other.min_concurrency)
            )
        self.provider = self.provider or other.provider
        self.model = self.model or other.model
        return self

    def token_source(self) -> str:
        """``server``, ``tokenizer``, ``estimate``, a mix like ``server+estimate``, or ``none``."""
        return "+".join(sorted(self.token_sources)) or "none"

    def metadata(self, prefix: str = "llm_") -> dict[str, Any]:
        """Flat, JSON-able figures for asset metadata (no secrets: names and counts only)."""
        return {
            f"{prefix}provider": self.provider,
            f"{prefix}model": self.model,
            f"{prefix}role": self.role,
            f"{prefix}requests": self.requests,
            f"{prefix}cache_hits": self.cache_hits,
            f"{prefix}sent": self.sent,
            f"{prefix}attempts": self.attempts,
            f"{prefix}repairs": self.repairs,
            f"{prefix}failures": self.failed,
            f"{prefix}failures_by_reason": dict(sorted(self.failures.items())),
            f"{prefix}input_tokens": self.input_tokens,
            f"{prefix}output_tokens": self.output_tokens,
            f"{prefix}token_source": self.token_source(),
            f"{prefix}cost_usd": round(self.cost_usd, 6),
            f"{prefix}wall_s": round(self.wall_s, 3),
            f"{prefix}requests_per_s": round(self.requests_per_s, 3),
            f"{prefix}tokens_per_s": round(self.tokens_per_s, 3),
        }


def usage_row(
    stats: UsageStats, *, asset: str, corpus: str, run_id: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """One row of the ``llm_usage`` table (see :meth:`ResponseCache.append_usage`)."""
    return {
        "run_id": run_id,
        "asset": asset,
        "corpus": corpus,
        "role": stats.role,
        "provider": stats.provider,
        "model": stats.model,
        "requests": stats.requests,
        "sent": stats.sent,
        "cache_hits": stats.cache_hits,
        "failures": stats.failed,
        "failures_by_reason": dict(sorted(stats.failures.items())),
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "cost_usd": float(stats.cost_usd),
        "wall_s": float(stats.wall_s),
        "created_at": time.time() if now is None else now,
    }


def usage_from_counts(input_tokens: int, output_tokens: int, source: str) -> Usage:
    return Usage(input_tokens=int(input_tokens), output_tokens=int(output_tokens), source=source)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# progress


@dataclass
class ProgressEvent:
    """A snapshot of a running batch; ``line()`` is what goes into the run log."""

    label: str
    done: int
    total: int
    cached: int
    failed: int
    failures_by_reason: dict[str, int]
    elapsed_s: float
    rate: float  # answers from the provider per second (cache hits excluded)
    eta_s: float | None
    concurrency: int | None = None

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = "?" if self.eta_s is None else _fmt_duration(self.eta_s)
        fails = ", ".join(f"{k}: {v}" for k, v in sorted(self.failures_by_reason.items()))
        parts = [
            f"{self.label}: {self.done}/{self.total} done ({pct:.1f}%)",
            f"{self.rate:.1f} req/s",
            f"ETA {eta}",
            f"{self.failed} failed" + (f" ({fails})" if fails else ""),
            f"{self.cached} cached",
        ]
        if self.concurrency is not None:
            parts.append(f"concurrency {self.concurrency}")
        return ", ".join(parts)


def _fmt_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


ProgressCallback = Callable[[ProgressEvent], None]


class ProgressReporter:
    """Counts completions and calls ``callback`` at most every ``interval_s`` seconds (and once at
    the end), so a long batch leaves a steady trail of done/total, rate, ETA and failures."""

    def __init__(
        self,
        total: int,
        callback: ProgressCallback | None,
        *,
        label: str = "llm",
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.callback = callback
        self.label = label
        self.interval_s = interval_s
        self.clock = clock
        self.start = clock()
        self.last_report = self.start
        self.done = 0
        self.cached = 0
        self.failures: Counter = Counter()
        self.concurrency: int | None = None

    def add(self, result: Result) -> None:
        self.done += 1
        if result.cached:
            self.cached += 1
        elif not result.ok:
            self.failures[result.error or "unknown"] += 1
        self.maybe_report()

    def add_cached(self, n: int) -> None:
        self.done += n
        self.cached += n

    def snapshot(self) -> ProgressEvent:
        elapsed = max(1e-9, self.clock() - self.start)
        fresh = self.done - self.cached
        rate = fresh / elapsed
        remaining = self.total - self.done
        eta = 0.0 if remaining == 0 else (remaining / rate if rate > 0 else None)
        return ProgressEvent(
            label=self.label,
            done=self.done,
            total=self.total,
            cached=self.cached,
            failed=sum(self.failures.values()),
            failures_by_reason=dict(self.failures),
            elapsed_s=elapsed,
            rate=rate,
            eta_s=eta,
            concurrency=self.concurrency,
        )

    def maybe_report(self, force: bool = False) -> None:
        now = self.clock()
        if self.callback is None:
            return
        if force or now - self.last_report >= self.interval_s:
            self.last_report = now
            self.callback(self.snapshot())
