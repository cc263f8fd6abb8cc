"""Asset checks, one module per stage. definitions.py collects every check defined here."""
