"""Small PNG plots embedded in Markdown, for asset metadata. No Dagster import.

Where a picture says more than a number (score distributions, recall@k curves, token usage,
training loss), an asset adds a plot to its metadata::

    from dagster import MetadataValue
    from ragassets.plots import histogram_markdown

    metadata["score_distribution"] = MetadataValue.md(histogram_markdown(scores, title="Judge scores"))

The image is a PNG inside a ``data:`` URI, so it needs no file server and survives in the event log.
Rendering uses matplotlib's Agg canvas directly (``matplotlib.figure.Figure``), never ``pyplot``:
no global state, no display, safe in Dagster's worker threads and subprocesses.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: a plot larger than this is re-rendered at a lower resolution (metadata lives in the event log)
MAX_PNG_BYTES = 150_000
DEFAULT_DPI = 90
DEFAULT_SIZE = (5.5, 3.2)


def new_figure(size: tuple[float, float] = DEFAULT_SIZE) -> Figure:
    """A figure on an Agg canvas, for callers that draw something not covered below."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DEFAULT_DPI, max_bytes: int = MAX_PNG_BYTES) -> bytes:
    """The figure as PNG bytes, lowering the resolution until it fits in ``max_bytes``."""
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    while True:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        data = buf.getvalue()
        if len(data) <= max_bytes or dpi <= 30:
            return data
        dpi = max(30, int(dpi * 0.7))


def png_markdown(png: bytes, alt: str) -> str:
    """Markdown that shows ``png`` inline: ``![alt](data:image/png;base64,...)``."""
    safe_alt = alt.replace("[", "(").replace("]", ")").replace("\n", " ")
    return f"![{safe_alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def figure_markdown(fig: Figure, alt: str, dpi: int = DEFAULT_DPI, caption: str | None = None) -> str:
    """Render ``fig`` to PNG and return it as Markdown (with an optional caption line below)."""
    md = png_markdown(figure_png(fig, dpi=dpi), alt)
    return f"{md}\n\n{caption}" if caption else md


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _hist_range(values: Sequence[float]) -> tuple[float, float]:
    """The data's range, widened when the values are (nearly) all equal: numpy cannot cut a range
    narrower than a few float steps into bins."""
    lo, hi = min(values), max(values)
    pad = max(abs(lo), abs(hi), 1.0) * 1e-3
    return (lo - pad, hi + pad) if hi - lo < pad else (lo, hi)


def histogram_markdown(
    values: Sequence[float],
    *,
    title: str,
    xlabel: str = "value",
    bins: int = 20,
    threshold: float | None = None,
    value_range: tuple[float, float] | None = None,
) -> str:
    """A histogram (e.g. judge scores, fidelity cosines), with an optional threshold line.

    Non-finite values are left out and counted in the caption, never silently.
    """
    clean = _finite(values)
    dropped = len(values) - len(clean)
    fig = new_figure()
    ax = fig.add_subplot()
    if clean:
        ax.hist(clean, bins=bins, range=value_range or _hist_range(clean), color="#4C72B0", edgecolor="white")
    else:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    if threshold is not None:
        ax.axvline(threshold, color="#C44E52", linestyle="--", label=f"threshold {threshold:g}")
        ax.legend(loc="best", fontsize="small")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    caption = f"n = {len(clean)}" + (f", {dropped} non-finite value(s) left out" if dropped else "")
    return figure_markdown(fig, title, caption=caption)


def curve_markdown(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    markers: bool = True,
) -> str:
    """One or more lines over a shared x axis (recall@k for several indexes, training/eval loss)."""
    if not series:
        raise ValueError("curve_markdown needs at least one series")
    for name, ys in series.items():
        if len(ys) != len(x):
            raise ValueError(f"series {name!r} has {len(ys)} points but x has {len(x)}")
    fig = new_figure()
    ax = fig.add_subplot()
    for name, ys in series.items():
        ax.plot(
            list(x),
            [float("nan") if v is None else v for v in ys],
            marker="o" if markers else None,
            markersize=3,
            label=name,
        )
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(loc="best", fontsize="small")
    return figure_markdown(fig, title)


def bar_markdown(
    labels: Sequence[str],
    values: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str,
) -> str:
    """Bars per label (e.g. tokens per stage); a mapping of series gives stacked bars
    (e.g. ``{"input": [...], "output": [...]}`` tokens)."""
    stacks = dict(values) if isinstance(values, Mapping) else {ylabel: values}
    for name, ys in stacks.items():
        if len(ys) != len(labels):
            raise ValueError(f"series {name!r} has {len(ys)} values but there are {len(labels)} labels")
    fig = new_figure()
    ax = fig.add_subplot()
    bottom = [0.0] * len(labels)
    for name, ys in stacks.items():
        ax.bar(list(labels), list(ys), bottom=bottom, label=name)
        bottom = [b + float(y) for b, y in zip(bottom, ys, strict=True)]
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 4 else 0)
    if len(stacks) > 1:
        ax.legend(loc="best", fontsize="small")
    return figure_markdown(fig, title)
