"""RAG training data, augmentoolkit-style, without its traps. No Dagster import.

- :mod:`.suitability`: a structured verdict per chunk from the small model (enum, one-line reason).
- :mod:`.neighbours`: nearest chunks in ``chunk_index`` (related chunks, hard negatives).
- :mod:`.simulate`: the frozen, seeded retrieval simulation (``rag_prepared``).
- :mod:`.answers`: question/answer pairs written against the simulated context.
- :mod:`.chat_format` and :mod:`.segments`: groups of items as axolotl ``input_output`` lines whose
  segments concatenate to the base model's chat template, with one labelled pair per line.
- :mod:`.exports`: the JSONL files.
"""
