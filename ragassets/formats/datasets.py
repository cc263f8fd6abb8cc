"""The SFT datasets of a corpus, end to end without Dagster: keep the judged pairs at the threshold,
merge the included sources, split without leakage, write the four formats and the dataset card.

    ds = build_training_datasets(settings.datasets, scored_qa, chunks, conversations=..., rag_conversations=...)
    write_training_datasets(ds, export_dir / "sft", corpus, settings.datasets)
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ragassets.formats.card import CardFacts, dataset_card
from ragassets.formats.examples import Example, merge_examples, select_qa
from ragassets.formats.sft import SPLITS, write_sft_exports
from ragassets.formats.split import Split, split_examples
from ragassets.storage import atomic_write_text

CARD_FILE = "README.md"
OFFLINE_PROVIDER = "offline"

TABLE_SCHEMA = {
    "corpus": pl.String,
    "example_id": pl.String,
    "source": pl.String,
    "split": pl.String,
    "chunk_id": pl.String,  # the first source chunk (where the example was written from)
    "source_chunk_ids": pl.List(pl.String),
    "messages": pl.String,  # JSON list of {role, content}
    "text": pl.String,  # the turns' text, for reading and the PII gate
}


@dataclass
class TrainingDatasets:
    split: Split
    scored_pairs: int
    kept_pairs: int
    threshold: float
    include: list[str]
    judges: list[str]  # provider:model of the judge(s) that scored the pairs

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> source -> examples."""
        return {
            name: dict(Counter(e.source for e in (self.split.train if name == "train" else self.split.eval)))
            for name in SPLITS
        }

    def table(self, corpus: str) -> pl.DataFrame:
        rows = [
            _row(corpus, e, name)
            for name, examples in (("train", self.split.train), ("eval", self.split.eval))
            for e in examples
        ]
        return pl.DataFrame(rows, schema=TABLE_SCHEMA)

    @property
    def judge_is_stand_in(self) -> bool:
        return any(j.startswith(f"{OFFLINE_PROVIDER}:") for j in self.judges)


def _row(corpus: str, e: Example, split: str) -> dict[str, Any]:
    return {
        "corpus": corpus,
        "example_id": e.example_id,
        "source": e.source,
        "split": split,
        "chunk_id": e.source_chunk_ids[0],
        "source_chunk_ids": list(e.source_chunk_ids),
        "messages": json.dumps(list(e.messages), ensure_ascii=False),
        "text": "\n\n".join(m["content"] for m in e.messages),
    }


def build_training_datasets(
    settings: Any,
    scored: pl.DataFrame,
    chunks: pl.DataFrame,
    *,
    conversations: pl.DataFrame | None = None,
    rag_conversations: pl.DataFrame | None = None,
) -> TrainingDatasets:
    """``settings``: a DatasetsSettings (format_threshold, include, eval_share, split_by, seed)."""
    kept = select_qa(scored, settings.format_threshold)
    examples, _ = merge_examples(
        settings.include, qa=kept, conversations=conversations, rag_conversations=rag_conversations
    )
    doc_of = dict(chunks.select("chunk_id", "doc_id").iter_rows()) if settings.split_by == "document" else None
    split = split_examples(
        examples, eval_share=settings.eval_share, by=settings.split_by, seed=settings.seed, doc_of=doc_of
    )
    judges = sorted(
        {f"{p}:{m}" for p, m in scored.select("judge_provider", "judge_model").unique().iter_rows() if p}
    ) if scored.height else []
    return TrainingDatasets(
        split=split,
        scored_pairs=scored.height,
        kept_pairs=kept.height if "qa" in settings.include else 0,
        threshold=settings.format_threshold,
        include=list(settings.include),
        judges=judges,
    )


def write_training_datasets(ds: TrainingDatasets, directory: Path, corpus: str, settings: Any) -> dict[str, Path]:
    """The four formats (train and eval) and README.md in ``directory``; returns the paths by file name."""
    written = write_sft_exports(directory, {"train": ds.split.train, "eval": ds.split.eval})
    facts = CardFacts(
        corpus=corpus,
        threshold=ds.threshold,
        include=ds.include,
        counts=ds.counts(),
        split_by=ds.split.by,
        eval_share=settings.eval_share,
        seed=settings.seed,
        groups=ds.split.groups,
        eval_groups=ds.split.eval_groups,
        method=ds.split.method,
        left_out=len(ds.split.left_out),
        judge=", ".join(ds.judges) or "none (no pairs judged)",
        judge_is_stand_in=ds.judge_is_stand_in,
        scored_pairs=ds.scored_pairs,
        kept_pairs=ds.kept_pairs,
    )
    card = directory / CARD_FILE
    atomic_write_text(card, dataset_card(facts))
    written[CARD_FILE] = card
    return written
