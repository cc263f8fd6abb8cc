"""ragassets: a Dagster asset graph that turns document corpora into LLM training data."""

__version__ = "0.1.0"
