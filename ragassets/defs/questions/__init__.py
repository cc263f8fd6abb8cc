"""The `questions` stage: assets.py, checks.py, config.py."""
