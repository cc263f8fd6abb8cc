"""Run config of `documents`: the ingestion settings (corpus.yaml `documents:`) for one run."""

from ragassets.defs.common import stage_config

DocumentsConfig = stage_config("documents")
