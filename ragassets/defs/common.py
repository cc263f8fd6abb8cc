"""What every stage needs: the corpus of its partition, its typed run config, the settings it resolves
from that config, and the same settings again for its checks.

A stage's run config is built from the settings blocks it reads (``stage_config("questions", "llm")``):
one optional sub-config per block, each field optional and described, so the launchpad shows the
schema, rejects wrong types and unknown keys, and an unset field falls through to corpus.yaml, then
``RAGASSETS_*`` variables, then the defaults in :mod:`ragassets.settings` (the one source of truth for
names, types, bounds and descriptions).

The settings an asset used are written to its materialization metadata (``effective_settings``, secret
values masked); its checks read them back with :func:`checked_settings`, so a run that overrides
``chunks.chunk_size`` is judged against that size, not corpus.yaml's.
"""

import enum
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, create_model

from ragassets import paths
from ragassets.partitions import CorpusNameError, validate_corpus_name
from ragassets.settings import BLOCKS, SECRET_WORDS, Settings, SettingsError, load_settings, validate_settings

EFFECTIVE_SETTINGS = "effective_settings"
MASK = "***"


def corpus_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    try:
        return validate_corpus_name(context.partition_key)
    except CorpusNameError as exc:
        raise dg.Failure(str(exc)) from None


class StageRunConfig(dg.Config):
    """Base of every stage's run config: one optional block per settings block the stage reads."""

    def overrides(self) -> dict[str, Any]:
        """The run-config layer in corpus.yaml's shape: only the keys the user set."""
        return {
            block: values
            for block, values in self.model_dump(mode="json", exclude_none=True).items()
            if values
        }

    def blocks(self) -> list[str]:
        return list(type(self).model_fields)


def _config_type(annotation: Any, name: str) -> Any | None:
    """The Dagster-config type for a settings field's annotation (None: not settable from the launchpad)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _config_type(inner[0], name) if len(inner) == 1 else None
    if origin is Literal:
        # Dagster config has no Literal; an enum shows as a choice in the launchpad
        return enum.Enum(f"{name.title().replace('_', '')}Choice", {str(v): str(v) for v in args}, type=str)
    if origin is tuple:
        return list[args[0]] if args else None
    if origin is dict:
        return annotation if args and args[1] is not Any else None
    if origin is list:
        item = _config_type(args[0], name) if args else None
        return list[item] if item is not None else None
    if annotation in (int, float, str, bool):
        return annotation
    return None


def _description(block: str, name: str, field: Any) -> str:
    default = field.get_default(call_default_factory=True)
    text = (field.description or f"{block}.{name}").rstrip()
    fallback = "not set" if default is None else f"{default!r}"
    return f"{text} Unset: corpus.yaml, then RAGASSETS_{block.upper()}_{name.upper()}, then {fallback}."


@cache
def _block_config(block: str) -> type[dg.Config]:
    """A dg.Config with every field of settings block ``block`` optional and described."""
    model = BLOCKS[block]
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        kind = _config_type(field.annotation, f"{block}_{name}")
        if kind is None:
            continue  # e.g. llm.engine_kwargs (free-form): corpus.yaml only
        fields[name] = (kind | None, Field(None, description=_description(block, name, field)))
    title = "".join(part.title() for part in block.split("_"))
    cls = create_model(f"{title}RunConfig", __base__=dg.Config, **fields)
    cls.__doc__ = (model.__doc__ or block).strip().splitlines()[0]
    return cls


def stage_config(*blocks: str) -> type[StageRunConfig]:
    """A run-config class with one optional sub-config per settings block (``questions``, ``llm``, ...)."""
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown settings block(s) {unknown}; known: {', '.join(BLOCKS)}")
    fields = {
        block: (
            _block_config(block) | None,
            Field(None, description=f"Overrides of the '{block}' block of corpus.yaml for this run."),
        )
        for block in blocks
    }
    return create_model("StageConfig", __base__=StageRunConfig, **fields)


def corpus_settings(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    root: Any | None = None,
    config: StageRunConfig | None = None,
) -> Settings:
    """Settings of the partition's corpus with this run's config on top; a bad key fails the step with a
    message naming it and the file."""
    corpus = corpus_of(context)
    try:
        return load_settings(paths.corpus_dir(corpus, root), run_config=config.overrides() if config else None)
    except SettingsError as exc:
        raise dg.Failure(description=str(exc)) from None


def _secret(key: str) -> bool:
    # ``*_env`` keys hold the NAME of a variable, which is not a secret and helps the reader
    return any(word in key for word in SECRET_WORDS) and not key.endswith("_env")


def masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if _secret(key) and value not in (None, "", [], {}):
        return MASK
    return value


def effective_settings(settings: Settings, blocks: list[str]) -> dict[str, Any]:
    """The values of ``blocks`` this run used, secrets masked (JSON-ready)."""
    dumped = settings.model_dump(mode="json")
    return {block: masked(dumped[block]) for block in blocks}


def settings_metadata(settings: Settings, config: StageRunConfig) -> dict[str, Any]:
    """Materialization metadata: the effective settings of the blocks the stage's run config covers,
    and which keys this run overrode."""
    return {
        EFFECTIVE_SETTINGS: dg.MetadataValue.json(effective_settings(settings, config.blocks())),
        "run_config_overrides": dg.MetadataValue.json(masked(config.overrides())),
    }


def _latest_effective(context: dg.AssetCheckExecutionContext, asset: str) -> dict[str, Any] | None:
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(EFFECTIVE_SETTINGS)
    return getattr(value, "data", None)


def checked_settings(context: dg.AssetCheckExecutionContext, root: Path | str | None, asset: str) -> Settings:
    """The settings ``asset``'s latest materialization of this partition used, for its checks to judge by.

    Corpus settings (defaults < RAGASSETS_* < corpus.yaml), with the blocks the asset recorded in its
    ``effective_settings`` metadata laid on top; masked secrets keep the corpus value. Without that
    metadata (a materialization older than this code) the corpus settings are returned.
    """
    return with_effective_settings(context, corpus_settings(context, root), asset, "the corpus settings")


def with_effective_settings(
    context: dg.AssetCheckExecutionContext, base: Settings, asset: str, fallback: str
) -> Settings:
    """``base`` with the blocks ``asset``'s latest materialization recorded in ``effective_settings`` laid on
    top (masked secrets keep ``base``'s value); ``base`` itself, with a warning naming ``fallback``, when the
    asset recorded none."""
    used = _latest_effective(context, asset)
    if not used:
        context.log.warning(f"{asset} recorded no {EFFECTIVE_SETTINGS}: judging with {fallback}")
        return base
    merged = base.model_dump()
    for block, values in used.items():
        if block in merged and isinstance(values, dict):
            merged[block].update({k: v for k, v in values.items() if v != MASK and k in merged[block]})
    try:
        return validate_settings(merged, f"{EFFECTIVE_SETTINGS} of {asset}")
    except SettingsError as exc:
        raise dg.Failure(description=str(exc)) from None
