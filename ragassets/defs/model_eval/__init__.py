"""The `model_eval` stage: the tuned model against its base on the eval split, closed-book and with retrieval."""
