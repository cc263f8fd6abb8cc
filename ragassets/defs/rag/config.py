"""Run configs of the RAG stage: the `rag:` block (filter, simulation, formats, grouping), with the small
model (`small_llm:`) for chunk_suitability and the model (`llm:`) for rag_conversations."""

from ragassets.defs.common import stage_config

ChunkSuitabilityConfig = stage_config("rag", "small_llm")
RagPreparedConfig = stage_config("rag")
RagConversationsConfig = stage_config("rag", "llm")
