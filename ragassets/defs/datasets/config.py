"""Run config of `training_datasets` (corpus.yaml `datasets:`: format_threshold, include, eval_share, split_by,
seed) and `grpo_dataset` (`grpo:`: tasks, min_overall, what counts as a bare answer)."""

from ragassets.defs.common import stage_config

DatasetsConfig = stage_config("datasets")
GrpoConfig = stage_config("grpo")
