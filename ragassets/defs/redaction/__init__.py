"""The `redaction` stage: assets.py, checks.py, config.py."""
