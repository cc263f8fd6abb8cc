"""The code location loads, and its shape (assets, checks, jobs, sensors) is reviewed as a snapshot.

When you add or rename a definition, regenerate the snapshot and commit it with the change:
RAGASSETS_UPDATE_SNAPSHOTS=1 pytest ragassets_tests/test_definitions.py
"""

import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.txt"


def describe(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        deps = ", ".join(sorted(k.to_user_string() for k in node.parent_keys))
        lines.append(f"asset {key.to_user_string()} [group={node.group_name}] <- {deps or '-'}")
    for ck in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        spec = graph.get_check_spec(ck)
        lines.append(f"check {ck.asset_key.to_user_string()}:{ck.name}{' blocking' if spec.blocking else ''}")
    repo = defs.get_repository_def()
    lines += [f"job {j.name}" for j in sorted(repo.get_all_jobs(), key=lambda j: j.name) if not j.name.startswith("__")]
    lines += [f"sensor {s.name}" for s in sorted(repo.sensor_defs, key=lambda s: s.name)]
    return "\n".join(lines) + "\n"


def test_definitions_load_and_validate():
    from ragassets.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    repo.load_all_definitions()
    # every asset is partitioned (by corpus or problem set), but base_model: one base model for every corpus
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        shared = key == dg.AssetKey("base_model")
        assert (graph.get(key).partitions_def is None) == shared, key


def test_definitions_snapshot():
    from ragassets.definitions import defs

    current = describe(defs)
    if os.environ.get("RAGASSETS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), "definitions changed: regenerate with RAGASSETS_UPDATE_SNAPSHOTS=1"


def test_loading_the_code_location_does_not_load_the_heavy_libraries():
    """The orchestrator, the UI's code server and every step process import the definitions: Presidio,
    spaCy, torch and transformers (about 360 MB and several seconds) load only in a step that uses them."""
    import subprocess
    import sys

    heavy = ("presidio_analyzer", "spacy", "torch", "transformers", "sentence_transformers")
    code = (
        "import sys, ragassets.definitions\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "", f"importing ragassets.definitions loaded {out.stdout.strip()}"
