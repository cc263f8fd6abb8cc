"""The dataset card (``README.md``) written beside the SFT exports: where the data came from, how many
examples of each source, the threshold, the judge, the split, and how to load it.

The card deliberately declares no ``configs:`` in its front matter. ``datasets`` caches a folder's
configs under the folder's *name* and the config name (``sft/messages``) without the files' contents,
so after a re-export with another threshold (or for another corpus, whose folder is also ``sft``)
``load_dataset(folder, "messages")`` can return the previous rows. ``load_dataset("json",
data_files=...)`` keys its cache on the files themselves and is what the card shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ragassets.formats.sft import FORMATS, SPLITS, export_name

FORMAT_NOTES = {
    "messages": "TRL `SFTTrainer` (conversational `messages`)",
    "sharegpt": "axolotl / LLaMA-Factory / Unsloth `sharegpt` (`conversations` of from/value)",
    "alpaca": "axolotl `alpaca`, LLaMA-Factory (`instruction`, `input`, `output`)",
    "chatml": "plain-text trainers (`text` with `<|im_start|>` turns)",
}


@dataclass
class CardFacts:
    corpus: str
    threshold: float
    include: list[str]
    counts: Mapping[str, Mapping[str, int]]  # split -> source -> examples
    split_by: str
    eval_share: float
    seed: int
    groups: int
    eval_groups: int
    judge: str  # "provider:model"
    judge_is_stand_in: bool = False
    scored_pairs: int = 0
    kept_pairs: int = 0
    method: str = "groups"  # how the split was made (ragassets.formats.split)
    left_out: int = 0  # examples resting on both sides' chunks (held_out split only)
    notes: list[str] = field(default_factory=list)


def dataset_card(facts: CardFacts) -> str:
    """The README.md text (Markdown with YAML front matter)."""
    front = ["---", "tags:", "- ragassets", "- sft", f"- {facts.corpus}", "---", ""]
    total = {s: sum(facts.counts.get(s, {}).values()) for s in SPLITS}
    rows = ["| source | train | eval |", "|---|---:|---:|"]
    for source in facts.include:
        rows.append(
            f"| {source} | {facts.counts.get('train', {}).get(source, 0)} | {facts.counts.get('eval', {}).get(source, 0)} |"
        )
    rows.append(f"| **total** | **{total['train']}** | **{total['eval']}** |")
    thr = "0 (every judged pair, unscored ones too)" if facts.threshold == 0 else f"overall >= {facts.threshold:g} of 10"
    judge = f"`{facts.judge}`" + (
        " — **the offline stand-in, a heuristic, not a model**: scores are grounding overlap, question form "
        "and answer length, not a real judgment" if facts.judge_is_stand_in else ""
    )
    formats = ["| config | files | for |", "|---|---|---|"]
    for fmt in FORMATS:
        files = ", ".join(f"`{export_name(fmt, s)}`" for s in SPLITS)
        formats.append(f"| `{fmt}` | {files} | {FORMAT_NOTES[fmt]} |")
    body = [
        f"# SFT dataset of corpus `{facts.corpus}`",
        "",
        ("Written by ragassets (`training_datasets` asset) from the corpus's redacted documents: judged "
        "question/answer pairs, multi-turn conversations and RAG conversations, each line traced to the "
        "chunks it was written from (`source_chunk_ids`)."),
        "",
        "## Sources and counts",
        "",
        *rows,
        "",
        f"- question/answer pairs: {facts.kept_pairs} of {facts.scored_pairs} judged pairs kept at threshold {thr}",
        f"- judge: {judge}",
        f"- sources included (`datasets.include`): {', '.join(facts.include)}",
        "",
        "## Split",
        "",
        *split_text(facts),
        "",
        "## Files",
        "",
        *formats,
        "",
        ("Every line also has `source_chunk_ids` (the chunks behind the example), `source` "
        "(qa, conversations, rag_conversations) and `example_id`."),
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'ds = load_dataset("json", data_files={"train": "messages.train.jsonl", "eval": "messages.eval.jsonl"})',
        "# any format the same way, e.g. sharegpt.train.jsonl; load files, not this folder by name: datasets",
        "# caches a folder's configs under its name (sft), so a re-export could load stale rows",
        "",
        "from trl import SFTConfig, SFTTrainer",
        'trainer = SFTTrainer(model="path/to/model", train_dataset=ds["train"], eval_dataset=ds["eval"],',
        '                     args=SFTConfig(output_dir="out"))',
        "```",
        "",
        *facts.notes,
    ]
    return "\n".join(front + body).rstrip() + "\n"


def split_text(facts: CardFacts) -> list[str]:
    """How the split was made, in words."""
    by = facts.split_by
    if facts.method == "held_out":
        return [
            (f"Split by **{by}** with seed {facts.seed} (eval_share {facts.eval_share:g}): examples that share a {by} "
            f"are tied together into {facts.groups} group(s), too few to deal whole groups, so {by}s were held out "
            f"for eval. Examples resting only on held-out {by}s are eval, those on the others train, and "
            f"{facts.left_out} example(s) resting on both were left out, so no {by} appears in both train and eval.")
        ]
    return [
        (f"Split by **{by}** with seed {facts.seed}: {facts.eval_groups} of {facts.groups} groups of examples in eval "
        f"(eval_share {facts.eval_share:g}). Examples that share a {by} are one group, so no {by} appears in both "
        "train and eval.")
    ]
