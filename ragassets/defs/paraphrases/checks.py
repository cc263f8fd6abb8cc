"""Checks on paraphrases: close to the original but not a copy (fidelity), findable from the original's
index (the retrieval baseline), and no residual PII."""

import dagster as dg
import numpy as np
import polars as pl

from ragassets.defs.common import checked_settings, corpus_of
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.generation.embedding import EmbedderMismatch, document_embed_fn
from ragassets.generation.evaluation import evaluate_fidelity, evaluate_paraphrase_retrieval
from ragassets.plots import curve_markdown, figure_markdown, new_figure
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import IndexArtifactError

RECALL_DEPTH = 10

# a model asked to reword redacted text must not put PII back (or be fed it): the same gate as chunks
paraphrased_chunks_no_residual_pii = no_residual_pii_check(asset="paraphrased_chunks", text_columns=["text"])


def fidelity_histogram(cosines: np.ndarray, band: tuple[float, float]) -> str:
    """Histogram of cosine(original, paraphrase) with the band's two edges marked."""
    fig = new_figure()
    ax = fig.add_subplot()
    if cosines.size:
        # bins over the band and the data, never over the data alone: paraphrases that are all
        # copies have cosines equal to the last float bit, too narrow a range for 30 bins
        lo = min(band[0], float(np.nanmin(cosines)))
        hi = max(band[1], float(np.nanmax(cosines)), 1.0)
        ax.hist(cosines, bins=30, range=(lo, hi), color="#4C72B0", edgecolor="white")
    for edge, label, align in ((band[0], "drifted below", "left"), (band[1], "copy above", "right")):
        ax.axvline(edge, color="#C44E52", linestyle="--")
        ax.annotate(f"{label} {edge:g}", (edge, 0.95), xycoords=("data", "axes fraction"), fontsize="small",
                    ha=align)
    ax.set_title("Paraphrase fidelity")
    ax.set_xlabel("cosine(original chunk, paraphrase)")
    ax.set_ylabel("paraphrases")
    return figure_markdown(fig, "Paraphrase fidelity", caption=f"n = {cosines.size}")


@dg.asset_check(
    asset="paraphrased_chunks",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    description="Cosine between each chunk and its paraphrase lies inside paraphrase.fidelity_band: above it the "
    "paraphrase is a copy, below it has drifted. WARN when the share outside exceeds max_outside_band.",
)
def paraphrase_fidelity(
    context: dg.AssetCheckExecutionContext,
    paraphrased_chunks: pl.DataFrame,
    chunks: pl.DataFrame,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    settings = checked_settings(context, storage.root, "paraphrased_chunks")
    stage = settings.paraphrase
    embed = document_embed_fn(embedder.for_corpus(settings), embedder.cache(storage.root, settings))
    ev = evaluate_fidelity(paraphrased_chunks, chunks, embed, stage.fidelity_band)
    rep = ev.report
    low, high = rep.band
    passed = rep.share_outside <= stage.max_outside_band and ev.orphans == 0
    problems = []
    if rep.share_outside > stage.max_outside_band:
        problems.append(
            f"{rep.share_outside:.1%} of paraphrases outside the band [{low:g}, {high:g}] ({rep.too_close} copies, "
            f"{rep.too_far} drifted; allowed {stage.max_outside_band:.0%})"
        )
    if ev.orphans:
        problems.append(f"{ev.orphans} paraphrase(s) of chunks no longer in chunks: rematerialize paraphrased_chunks")
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={
            "paraphrases": rep.n,
            "share_outside_band": float(round(rep.share_outside, 4)),
            "too_close": rep.too_close,
            "too_far": rep.too_far,
            "band_low": float(low),
            "band_high": float(high),
            "cosine_mean": float(round(rep.mean, 4)),
            "cosine_median": float(round(rep.median, 4)),
            "orphan_paraphrases": ev.orphans,
            "examples": dg.MetadataValue.json(ev.examples),
            "fidelity_histogram": dg.MetadataValue.md(fidelity_histogram(ev.cosines, rep.band)),
        },
    )


@dg.asset_check(
    asset="paraphrase_index",
    additional_ins={"paraphrased_chunks": dg.AssetIn("paraphrased_chunks"), "chunks": dg.AssetIn("chunks")},
    description="recall@1 and recall@5 of each paraphrase searched against chunk_index finding its original "
    "chunk: the baseline of the retrieval reward. WARN below paraphrase.min_recall_at_1 / min_recall_at_5.",
)
def paraphrase_retrieval(
    context: dg.AssetCheckExecutionContext,
    paraphrased_chunks: pl.DataFrame,
    chunks: pl.DataFrame,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    corpus = corpus_of(context)
    settings = checked_settings(context, storage.root, "paraphrase_index")
    stage = settings.paraphrase
    try:
        ev = evaluate_paraphrase_retrieval(
            storage.artifact_dir("chunk_index", corpus), paraphrased_chunks, chunks,
            sample=stage.retrieval_sample, depth=RECALL_DEPTH,
            embedder=embedder.for_corpus(settings), cache=embedder.cache(storage.root, settings),
        )
    except (IndexArtifactError, EmbedderMismatch) as exc:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description=str(exc))
    r1, r5 = ev.recall_at_1, ev.recall_at_5
    curve = ev.recall.curve()
    passed = r1 >= stage.min_recall_at_1 and r5 >= stage.min_recall_at_5
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"paraphrase -> original recall@1 {r1:.3f} (min {stage.min_recall_at_1:g}), recall@5 {r5:.3f} "
            f"(min {stage.min_recall_at_5:g})"
        ),
        metadata={
            "recall_at_1": float(round(r1, 4)),
            "recall_at_5": float(round(r5, 4)),
            f"recall_at_{ev.recall.k_max}": float(round(curve[ev.recall.k_max], 4)),
            "mrr": float(round(ev.recall.mrr, 4)),
            "queries": ev.recall.n,
            "paraphrases": paraphrased_chunks.height,
            "indexed_chunks": ev.indexed,
            "embedder": ev.embedder,
            "missed_at_1": dg.MetadataValue.json(ev.missed),
            "recall_at_k_plot": dg.MetadataValue.md(
                curve_markdown(list(curve), {"paraphrase → original": list(curve.values())},
                               title="Paraphrase → original chunk", xlabel="k", ylabel="recall@k", ylim=(0, 1.02))
            ),
        },
    )
