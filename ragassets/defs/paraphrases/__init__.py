"""The `paraphrases` stage: assets.py, checks.py, config.py."""
