"""The `chunk_index` stage: assets.py, checks.py, config.py."""
