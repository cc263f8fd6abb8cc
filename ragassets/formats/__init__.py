"""Training-data formats: examples from every source, the leak-free split, the SFT exports (alpaca,
chatml, sharegpt, messages) with their validator and dataset card, and the GRPO table. No Dagster import."""
