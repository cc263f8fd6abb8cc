"""The `pii` resource: Presidio offline, one AnalyzerEngine per process, shared by assets and checks.

The engine is built on first use (about a second) and kept for the life of the process, keyed by
the policy's language and spaCy model (:func:`ragassets.pii.engine.analyzer_for`), so every asset
and check of a run step reuses it. Presidio and spaCy are imported only when a step needs them:
loading the code location stays fast.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from ragassets.settings import PiiSettings


class PiiResource(dg.ConfigurableResource):
    """Finds and redacts PII with the policy of each corpus (``pii:`` in corpus.yaml).

    ``processes`` overrides ``pii.processes`` for every corpus (e.g. 1 on a small machine).
    """

    processes: int | None = Field(
        None, ge=0, description="Worker processes for large corpora; unset: pii.processes."
    )

    def _policy(self, policy: PiiSettings) -> PiiSettings:
        return policy if self.processes is None else policy.model_copy(update={"processes": self.processes})

    def analyzer(self, policy: PiiSettings):
        """The process's AnalyzerEngine for this policy's language and model."""
        from ragassets.pii.engine import analyzer_for

        return analyzer_for(policy)

    def engine_description(self, policy: PiiSettings) -> str:
        """One line for metadata: which engine found the PII."""
        if policy.spacy_model:
            extra = " + name lists" if policy.name_lists else ""
            return f"Presidio with spaCy model {policy.spacy_model} (NER){extra}"
        return "Presidio offline: blank spaCy pipeline, pattern recognizers + name lists for PERSON"

    def redact(self, corpus: str, docs: Sequence[tuple[str, str]], policy: PiiSettings):
        """Redact (doc_id, text) pairs: a :class:`ragassets.pii.redact.RedactionResult`."""
        from ragassets.pii.redact import redact_corpus

        policy = self._policy(policy)
        return redact_corpus(corpus, docs, policy, self.analyzer(policy))

    def redactor(self, corpus: str, policy: PiiSettings):
        """A :class:`ragassets.pii.redact.CorpusRedactor`: redacts a corpus read in batches."""
        from ragassets.pii.redact import CorpusRedactor

        policy = self._policy(policy)
        return CorpusRedactor(corpus, policy, self.analyzer(policy))

    def residual(
        self,
        texts: Sequence[str],
        ids: Sequence[str],
        policy: PiiSettings,
        known_replacements=(),
        sources: Sequence[str | None] | None = None,
        workers=None,
    ):
        """PII still in already-redacted texts: a :class:`ragassets.pii.residual.ResidualReport`.

        ``sources[i]``: the redacted document ``texts[i]`` was cut or written from (None where
        unknown), so derived text is judged inside its document (see ragassets.pii.residual)."""
        from ragassets.pii.residual import residual_pii

        policy = self._policy(policy)
        return residual_pii(
            texts, ids, policy, known_replacements, self.analyzer(policy), sources=sources, workers=workers
        )

    def residual_in_table(self, asset, table, columns, id_column, policy: PiiSettings, known, documents, chunk_doc,
                          workers=None):
        """PII still in a stored table, read in batches: see :func:`ragassets.pii.residual.residual_pii_in_table`."""
        from ragassets.pii.residual import residual_pii_in_table

        policy = self._policy(policy)
        return residual_pii_in_table(
            asset, table, columns, id_column, policy, known, documents, chunk_doc, self.analyzer(policy), workers
        )

    def analysis_workers(self, policy: PiiSettings, total_chars: int):
        """Worker processes for analysing a table in batches (:class:`ragassets.pii.analyze.AnalysisWorkers`):
        started once, shared by every batch; use in a ``with`` block."""
        from ragassets.pii.analyze import AnalysisWorkers

        policy = self._policy(policy)
        return AnalysisWorkers(policy, total_chars)
