"""The `judge` stage (scored_qa): assets.py, checks.py, config.py."""
