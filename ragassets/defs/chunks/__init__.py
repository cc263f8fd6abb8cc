"""The `chunks` stage: assets.py, checks.py, config.py."""
