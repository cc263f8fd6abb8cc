"""Run config of `questions`: questions per chunk, window, difficulty mix and filters (corpus.yaml
`questions:`), the model (`llm:`) and the embedder used for deduplication (`embedder:`)."""

from ragassets.defs.common import stage_config

QuestionsConfig = stage_config("questions", "llm", "embedder")
