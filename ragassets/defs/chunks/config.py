"""Run config of `chunks`: chunk size and overlap (corpus.yaml `chunks:`), and the embedder whose tokenizer
measures them (`embedder:`)."""

from ragassets.defs.common import stage_config

ChunksConfig = stage_config("chunks", "embedder")
