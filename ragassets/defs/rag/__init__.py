"""The RAG training-data stage (`chunk_suitability`, `rag_prepared`, `rag_conversations`): assets.py,
checks.py, config.py."""
