"""Typed run config: every stage's config is shown in the launchpad with its settings' types and
descriptions, rejects unknown keys and wrong types, and the checks judge with what the asset used."""

import dagster as dg
import polars as pl
import pytest

from ragassets import paths
from ragassets.defs.common import MASK, effective_settings, stage_config
from ragassets.settings import BLOCKS, load_settings
from ragassets_tests.conftest import check_results, materialize


def _op_config_fields(asset: str) -> dict:
    """The config schema Dagster shows in the launchpad for ``asset``'s step."""
    from ragassets.definitions import defs

    job = defs.resolve_job_def("corpus_job")
    ops = job.run_config_schema.config_type.fields["ops"].config_type.fields
    return ops[asset].config_type.fields["config"].config_type.fields


def test_launchpad_shows_questions_per_chunk_with_its_description():
    questions = _op_config_fields("questions")["questions"].config_type.inner_type.fields
    field = questions["questions_per_chunk"]
    assert not field.is_required
    assert "Questions asked for per chunk" in field.description
    assert "Unset: corpus.yaml" in field.description


def test_every_stage_has_typed_optional_described_config():
    from ragassets.definitions import defs

    graph = defs.resolve_asset_graph()
    ops: dict = {}
    for job in defs.get_repository_def().get_all_jobs():
        ops.update(job.run_config_schema.config_type.fields["ops"].config_type.fields)
    # every asset's step (a multi-asset is one step) has typed config, in whichever job runs it
    steps = {defs.get_assets_def(k).node_def.name for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    for name in steps:
        op = ops[name]
        cfg = op.config_type.fields["config"].config_type
        assert cfg.fields, f"{name}: empty run config"
        for block, block_field in cfg.fields.items():
            assert block in BLOCKS and not block_field.is_required
            for key, field in block_field.config_type.inner_type.fields.items():
                assert not field.is_required, (name, block, key)
                assert field.description, (name, block, key)


def test_choices_are_enums_and_overrides_keep_only_what_was_set():
    cfg_cls = stage_config("llm", "chunks")
    cfg = cfg_cls(llm={"provider": "openai", "temperature": 0.2}, chunks={"chunk_size": 64})
    assert cfg.overrides() == {"llm": {"provider": "openai", "temperature": 0.2}, "chunks": {"chunk_size": 64}}
    assert cfg_cls().overrides() == {}
    with pytest.raises(Exception, match="provider"):
        cfg_cls(llm={"provider": "gpt"})


def test_unknown_and_ill_typed_keys_are_rejected_by_dagster(sample_root):
    with pytest.raises(dg.DagsterInvalidConfigError, match="chunk_sise"):
        materialize("sample", "chunks", run_config={"chunks": {"chunks": {"chunk_sise": 64}}})
    with pytest.raises(dg.DagsterInvalidConfigError, match="chunk_size"):
        materialize("sample", "chunks", run_config={"chunks": {"chunks": {"chunk_size": "big"}}})


def test_effective_settings_mask_secrets_but_not_variable_names(tmp_path):
    settings = load_settings(
        None, run_config={"documents": {"pdf_password": "hunter2"}, "llm": {"api_key_env": "MY_KEY"}}, environ={}
    )
    used = effective_settings(settings, ["documents", "llm"])
    assert used["documents"]["pdf_password"] == MASK
    assert used["llm"]["api_key_env"] == "MY_KEY"
    assert "hunter2" not in str(used)


@pytest.mark.slow
def test_check_judges_with_the_run_config_override(sample_root):
    default = load_settings(sample_root / "corpora" / "sample", environ={}).chunks.chunk_size
    size = 64
    assert default != size
    result = materialize(
        "sample", "documents,redacted_documents,chunks", run_config={"chunks": {"chunks": {"chunk_size": size}}}
    )
    check = check_results(result)["chunk_sizes_within_bounds"]
    assert check.metadata["chunk_size"].value == size
    mat = next(
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key.path == ["chunks"]
    )
    assert mat.metadata["effective_settings"].value["chunks"]["chunk_size"] == size
    assert mat.metadata["run_config_overrides"].value == {"chunks": {"chunk_size": size}}
    chunks = pl.read_parquet(paths.table_path("chunks", "sample", sample_root))
    assert chunks["n_tokens"].max() <= 2 * size  # prose chunks stop at 64 (tables may use the window)
    # a later run without the override is judged by corpus.yaml's size again
    materialize("sample", "chunks")
    again = check_results(materialize("sample", "chunks"))["chunk_sizes_within_bounds"]
    assert again.metadata["chunk_size"].value == default


def test_a_list_of_choices_becomes_a_list_of_enums():
    from typing import Literal

    from ragassets.defs.common import _config_type

    kind = _config_type(list[Literal["closed_book", "retrieval"]], "modes")
    (item,) = kind.__args__
    assert sorted(m.value for m in item) == ["closed_book", "retrieval"]
