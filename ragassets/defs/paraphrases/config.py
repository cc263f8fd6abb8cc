"""Run config of `paraphrased_chunks` and `paraphrase_index`: how many paraphrases and their checks
(corpus.yaml `paraphrase:`), the model (`llm:`) and the embedder (`embedder:`)."""

from ragassets.defs.common import stage_config

ParaphraseConfig = stage_config("paraphrase", "llm", "embedder")
