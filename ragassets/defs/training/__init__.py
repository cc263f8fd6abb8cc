"""The `training` stage: the base model (not partitioned) and the LoRA adapter of each corpus."""
