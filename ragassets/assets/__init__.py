"""One module per stage, named after it. definitions.py collects every asset defined here."""
