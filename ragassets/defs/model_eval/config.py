"""Run config of `model_eval`: the `model_eval:` block (modes, top-k, answer length, batch, judge,
tolerance of the check) and `training:` (which base model the adapter belongs to)."""

from ragassets.defs.common import stage_config

ModelEvalConfig = stage_config("model_eval", "training")
