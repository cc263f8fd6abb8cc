"""Paraphrases of chunks: cleaning what a model returns, and how close a paraphrase stays.

A paraphrase is a noisy version of its chunk for retrieval training: the same facts in other words.
Two ways it can fail, both measured by the cosine similarity of the two texts' embeddings:

- too close (above the band's top): the model copied the chunk, so the pair teaches nothing;
- too far (below the band's bottom): the model drifted, dropped or invented facts, so the chunk
  is no longer the right answer to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from ragassets.generation.ids import paraphrase_id
from ragassets.llm import task_request

# "Here is the rewritten passage:" and friends, on a line of their own before the text
_PREAMBLE = re.compile(
    r"^\s*(?:sure[,!.]?\s*)?(?:here(?:'s| is| are)\b[^\n]{0,80}|(?:rewritten|paraphrased|reworded)"
    r"(?: passage| text| version)?)\s*:\s*\n+",
    re.IGNORECASE,
)
_FENCES = ('"""', "'''", "```")


def clean_paraphrase(text: str | None) -> str:
    """The paraphrase without the wrapping a chat model tends to add: a preamble line ("Here is the
    rewritten passage:"), surrounding triple quotes or a code fence. '' when nothing is left."""
    t = (text or "").strip()
    t = _PREAMBLE.sub("", t, count=1).strip()
    for fence in _FENCES:
        if t.startswith(fence) and t.endswith(fence) and len(t) >= 2 * len(fence):
            t = t[len(fence) : -len(fence)]
            if fence == "```":  # drop a language tag line
                t = re.sub(r"^[A-Za-z0-9_-]*\n", "", t)
            t = t.strip()
    return t


def pair_cosines(originals: np.ndarray, paraphrases: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two arrays of unit vectors (row i with row i)."""
    a = np.asarray(originals, dtype=np.float32)
    b = np.asarray(paraphrases, dtype=np.float32)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return np.einsum("ij,ij->i", a, b) if a.size else np.zeros(a.shape[0], dtype=np.float32)


@dataclass
class FidelityReport:
    """Where the cosines fall against the band [low, high]."""

    n: int
    too_close: int
    too_far: int
    band: tuple[float, float]
    mean: float
    median: float

    @property
    def outside(self) -> int:
        return self.too_close + self.too_far

    @property
    def share_outside(self) -> float:
        return self.outside / self.n if self.n else 0.0


def fidelity_report(cosines: Sequence[float] | np.ndarray, band: tuple[float, float]) -> FidelityReport:
    """Counts of cosines above ``band[1]`` (copies) and below ``band[0]`` (drifted)."""
    low, high = band
    if not low < high:
        raise ValueError(f"band must be (low, high) with low < high, got {band}")
    c = np.asarray(cosines, dtype=np.float64)
    return FidelityReport(
        n=int(c.size),
        too_close=int((c > high).sum()),
        too_far=int((c < low).sum()),
        band=(float(low), float(high)),
        mean=float(c.mean()) if c.size else 0.0,
        median=float(np.median(c)) if c.size else 0.0,
    )


# --------------------------------------------------------------------------------------------------
# generation

PARAPHRASES_SCHEMA = {
    "corpus": pl.String,
    "paraphrase_id": pl.String,
    "chunk_id": pl.String,
    "variant": pl.Int64,
    "text": pl.String,
    "provider": pl.String,
    "model": pl.String,
}


def paraphrase_requests(chunks: pl.DataFrame, n_paraphrases: int, prompts: Any, params: Any = None) -> list[Any]:
    """``n_paraphrases`` ``paraphrase`` requests per chunk, chunk by chunk (variant 0, 1, ...).

    Variant ``v`` carries ``variant=v`` in the prompt (so every variant is its own request with its
    own cache entry) and, when ``params`` are given, ``seed=v`` in them. ``params=None`` leaves the
    client's defaults in force.
    """
    if n_paraphrases < 1:
        raise ValueError(f"n_paraphrases must be at least 1, got {n_paraphrases}")
    out = []
    for cid, text in chunks.select("chunk_id", "text").iter_rows():
        for v in range(n_paraphrases):
            out.append(
                task_request(
                    "paraphrase", prompts, id=cid, params=replace(params, seed=v) if params is not None else None,
                    text=text or "", variant=v,
                )
            )
    return out


@dataclass
class ParaphraseRun:
    """The paraphrases table, and what did not become a row (by reason, with examples)."""

    table: pl.DataFrame
    requests: int
    failures: dict[str, int]
    failure_examples: list[dict[str, Any]]

    @property
    def nothing_answered(self) -> bool:
        """Every request failed in transport (server down, wrong URL or model): a setup problem."""
        answered = ("empty_output", "duplicate_variant")
        transport = sum(n for r, n in self.failures.items() if r not in answered)
        return self.requests > 0 and transport == self.requests

    def failure_summary(self, limit: int = 3) -> str:
        if not self.failures:
            return "no failures"
        details = sorted({e["detail"] for e in self.failure_examples if e.get("detail")})[:limit]
        return ", ".join(f"{r}: {n}" for r, n in sorted(self.failures.items())) + (
            f" (e.g. {'; '.join(details)})" if details else ""
        )


def collect_paraphrases(requests: Sequence[Any], results: Sequence[Any], corpus: str) -> ParaphraseRun:
    """Rows from the free-text results, cleaned; failed or empty answers are counted, not rows."""
    if len(requests) != len(results):
        raise ValueError(f"{len(requests)} paraphrase requests but {len(results)} results")
    rows: list[dict[str, Any]] = []
    failures: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for req, res in zip(requests, results):
        cid, variant = req.id, int((req.inputs or {}).get("variant", 0))
        text = clean_paraphrase(res.text) if res.ok else ""
        reason = None if res.ok else (res.error or "failed")
        if reason is None and not text:
            reason = "empty_output"
        if reason is None and (cid, text) in seen:  # the same text as another variant of this chunk
            reason = "duplicate_variant"
        seen.add((cid, text))
        if reason is not None:
            failures[reason] = failures.get(reason, 0) + 1
            if len(examples) < 20:
                examples.append({"chunk_id": cid, "variant": variant, "reason": reason,
                                 "detail": (getattr(res, "error_detail", None) or "")[:200]})
            continue
        rows.append(
            {"corpus": corpus, "paraphrase_id": paraphrase_id(cid, variant, text), "chunk_id": cid, "variant": variant, "text": text,
             "provider": res.provider, "model": res.model}
        )
    return ParaphraseRun(pl.DataFrame(rows, schema=PARAPHRASES_SCHEMA), len(requests), failures, examples)


def generate_paraphrases(
    chunks: pl.DataFrame, n_paraphrases: int, client: Any, prompts: Any, corpus: str, params: Any = None
) -> ParaphraseRun:
    """Ask ``client`` for the paraphrases of every chunk and collect them (see the module docstring)."""
    requests = paraphrase_requests(chunks, n_paraphrases, prompts, params)
    results = client.run(requests) if requests else []
    return collect_paraphrases(requests, results, corpus)
