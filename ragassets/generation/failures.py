"""Messages for failures a person has to act on, shared by the generation stages."""

from __future__ import annotations


def nothing_answered_message(stage: str, summary: str) -> str:
    """Every request of a stage failed in transport: almost always the server or the model name."""
    return (
        f"no {stage} request got an answer from the LLM ({summary}). Check that the server in llm.base_url "
        "is running and serves llm.model (corpus.yaml `llm:`, the stage's own provider/model/base_url, or "
        "the `llm` resource), then re-materialize; answers already received are cached."
    )
