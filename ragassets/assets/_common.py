"""What every asset needs: the corpus of its partition, its resolved settings, and run config."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ragassets import paths
from ragassets.partitions import CorpusNameError, validate_corpus_name
from ragassets.settings import Settings, SettingsError, load_settings


class StageConfig(dg.PermissiveConfig):
    """Run config overrides in the shape of corpus.yaml, for example ``{chunks: {chunk_size: 128}}``.

    They win over corpus.yaml, which wins over RAGASSETS_* variables, which win over defaults.
    """


def corpus_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    try:
        return validate_corpus_name(context.partition_key)
    except CorpusNameError as exc:
        raise dg.Failure(str(exc)) from None


def corpus_settings(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    root: Any | None = None,
    config: StageConfig | None = None,
) -> Settings:
    """Settings of the partition's corpus; a bad key fails the step with a message naming it and the file."""
    corpus = corpus_of(context)
    try:
        return load_settings(paths.corpus_dir(corpus, root), run_config=config.model_dump() if config else None)
    except SettingsError as exc:
        raise dg.Failure(description=str(exc)) from None
