"""Checks on `redacted_documents`: the residual-PII gate (blocking; see :mod:`ragassets.defs.pii_gate`)."""

from ragassets.defs.pii_gate import no_residual_pii_check

redacted_documents_no_residual_pii = no_residual_pii_check(asset="redacted_documents", text_columns=["text"])
