"""The `documents` stage: assets.py, checks.py, config.py."""
