"""Run config of `conversations`: turns, related chunks and seed (corpus.yaml `conversations:`) and the
model (`llm:`)."""

from ragassets.defs.common import stage_config

ConversationsConfig = stage_config("conversations", "llm")
