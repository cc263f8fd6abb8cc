"""Run config of `scored_qa`: the rubric's thresholds, the judge's window and min pass rate (corpus.yaml
`judge:`), and the judge's model (`small_llm:`)."""

from ragassets.defs.common import stage_config

JudgeConfig = stage_config("judge", "small_llm")
