"""Where the generation stages sit in the graph: questions come from the original chunks only."""

from ragassets.definitions import defs


def _parents(name: str) -> set[str]:
    graph = defs.resolve_asset_graph()
    key = next(k for k in graph.get_all_asset_keys() if k.to_user_string() == name)
    return {k.to_user_string() for k in graph.get(key).parent_keys}


def test_questions_are_generated_from_chunks_never_from_paraphrases():
    assert _parents("questions") == {"chunks"}
    assert _parents("paraphrased_chunks") == {"chunks"}
    assert _parents("paraphrase_index") == {"paraphrased_chunks", "chunk_index"}


def test_llm_stages_share_the_llm_pool():
    for name in ("questions", "paraphrased_chunks"):
        assert defs.resolve_assets_def(name).op.pool == "llm"


def test_generated_text_passes_the_residual_pii_gate():
    graph = defs.resolve_asset_graph()
    gated = {c.asset_key.to_user_string() for c in graph.asset_check_keys if c.name == "no_residual_pii"}
    assert {"questions", "paraphrased_chunks"} <= gated
    for asset in ("questions", "paraphrased_chunks"):
        key = next(c for c in graph.asset_check_keys if c.name == "no_residual_pii" and c.asset_key.to_user_string() == asset)
        assert graph.get_check_spec(key).blocking
