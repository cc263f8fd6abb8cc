"""The `conversations` stage: assets.py, checks.py, config.py."""
