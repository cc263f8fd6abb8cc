"""The `datasets` stage (training_datasets, grpo_dataset): assets.py, checks.py, config.py."""
