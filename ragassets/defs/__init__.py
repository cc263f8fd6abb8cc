"""The Dagster definitions, one folder per stage: ``<stage>/assets.py`` (thin assets),
``<stage>/checks.py`` (every check of those assets, the residual-PII gate included) and
``<stage>/config.py`` (the typed run config shown in the launchpad). ``definitions.py`` collects
every asset and check of every stage package here; a new stage adds a folder and nothing else."""
