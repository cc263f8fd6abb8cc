"""Run config of `base_model` and `lora_adapter`: the `training:` block of corpus.yaml (base model,
method, LoRA shape, optimizer, steps, batch, checkpoints, GRPO)."""

from ragassets.defs.common import stage_config

TrainingConfig = stage_config("training")
