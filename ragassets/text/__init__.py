"""Text processing with no Dagster import: chunking and token counting."""
