"""Run config of the reasoning group: the `reasoning:` block of problem_set.yaml (samples, sampling per
domain, verification, sandbox limits, SFT mix) and the generator (`llm:`); and how a step finds its
problem set and that set's settings."""

from typing import Any

import dagster as dg

from ragassets.defs.common import EFFECTIVE_SETTINGS, MASK, StageRunConfig, _latest_effective, stage_config
from ragassets.reasoning.problem_sets import (
    load_problem_set_settings,
    problem_set_dir,
    validate_problem_set_name,
)
from ragassets.settings import Settings, SettingsError, validate_settings

ReasoningConfig = stage_config("reasoning", "llm")


def problem_set_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    try:
        return validate_problem_set_name(context.partition_key)
    except SettingsError as exc:
        raise dg.Failure(str(exc)) from None


def problem_set_settings(context: Any, root: Any, config: StageRunConfig | None = None) -> Settings:
    """Settings of the partition's problem set with this run's config on top; a bad key fails the step
    with a message naming it and the file."""
    name = problem_set_of(context)
    try:
        return load_problem_set_settings(problem_set_dir(name, root), config.overrides() if config else None)
    except SettingsError as exc:
        raise dg.Failure(description=str(exc)) from None


def checked_problem_set_settings(context: dg.AssetCheckExecutionContext, root: Any, asset: str) -> Settings:
    """The settings ``asset``'s latest materialization used (its effective_settings metadata over the
    problem set's), so a check judges with what the run used."""
    base = problem_set_settings(context, root)
    used = _latest_effective(context, asset)
    if not used:
        context.log.warning(f"{asset} recorded no {EFFECTIVE_SETTINGS}: judging with the problem set's settings")
        return base
    merged = base.model_dump()
    for block, values in used.items():
        if block in merged and isinstance(values, dict):
            merged[block].update({k: v for k, v in values.items() if v != MASK and k in merged[block]})
    try:
        return validate_settings(merged, f"{EFFECTIVE_SETTINGS} of {asset}")
    except SettingsError as exc:
        raise dg.Failure(description=str(exc)) from None
