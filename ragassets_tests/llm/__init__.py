"""Tests of ragassets.llm (no Dagster needed)."""
