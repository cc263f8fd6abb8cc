"""Generated training data from chunks: paraphrases and questions. No Dagster import.

- :mod:`.windows`: sliding (previous, current, next) windows over a document's chunks;
- :mod:`.difficulty`: difficulty labels dealt over the corpus to follow the configured mix;
- :mod:`.questions`: plan, request, filter and account for the questions of every chunk;
- :mod:`.dedup`: near-duplicate questions (normalised text, embedding cosine) dropped in order;
- :mod:`.grounding`: is an answer supported by its window (token overlap, embedding similarity);
- :mod:`.paraphrase`: paraphrase requests, cleaning, fidelity band;
- :mod:`.recall`: recall@k of paraphrase -> original chunk;
- :mod:`.questions_json`: AutoDidact's questions.json, written and read back;
- :mod:`.ids`: stable ``paraphrase_id`` and ``question_id``.
"""
