"""Run config of the reasoning group: the `reasoning:` block of problem_set.yaml (samples, sampling per
domain, verification, sandbox limits, SFT mix) and the generator (`llm:`); and how a step finds its
problem set and that set's settings."""

from typing import Any

import dagster as dg

from ragassets.defs.common import StageRunConfig, stage_config, with_effective_settings
from ragassets.reasoning.problem_sets import (
    load_problem_set_settings,
    problem_set_dir,
    validate_problem_set_name,
)
from ragassets.settings import Settings, SettingsError

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
    return with_effective_settings(context, problem_set_settings(context, root), asset, "the problem set's settings")
