"""Run config of `chunk_index`: the embedder and the FAISS index type (corpus.yaml `embedder:`)."""

from ragassets.defs.common import stage_config

ChunkIndexConfig = stage_config("embedder")
