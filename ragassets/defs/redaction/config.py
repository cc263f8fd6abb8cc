"""Run config of `redacted_documents` / `pii_findings`: the PII policy (corpus.yaml `pii:`) for one run.

The residual-PII gates judge with the corpus policy, never with a run override: a run cannot weaken them."""

from ragassets.defs.common import stage_config

RedactionConfig = stage_config("pii")
