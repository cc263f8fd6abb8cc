"""Asset metadata people can read: row counts, column schemas, a preview, figures Dagster plots."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

PREVIEW_ROWS = 5
PREVIEW_CHARS = 160


def column_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()])


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def markdown_preview(df: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as a Markdown table, long cells cut, nested values shown as text."""
    if df.is_empty():
        return "_(no rows)_"
    cols = [c for c, t in df.schema.items() if not isinstance(t, (pl.Array,)) and c != "vector"][:8]
    head = df.select(cols).head(rows)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def table_metadata(df: pl.DataFrame) -> dict[str, Any]:
    """Row count, column schema and a preview: what every tabular asset shows in the UI."""
    return {
        "dagster/row_count": dg.MetadataValue.int(df.height),
        "dagster/column_schema": column_schema(df),
        "preview": dg.MetadataValue.md(markdown_preview(df)),
    }


def stored_table_metadata(table) -> dict[str, Any]:
    """:func:`table_metadata` of a table on disk (a ``StoredTable``), reading only its first rows."""
    head = next(iter(table.batches(rows=PREVIEW_ROWS)), None)
    return {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in table.schema.items()]
        ),
        "preview": dg.MetadataValue.md(markdown_preview(head) if head is not None else "_(no rows)_"),
    }


def counts_metadata(prefix: str, counts: dict[str, int]) -> dict[str, dg.MetadataValue]:
    """``{prefix}/{key}: n`` integers (Dagster plots each across runs) plus a readable summary."""
    out: dict[str, dg.MetadataValue] = {f"{prefix}/{k}": dg.MetadataValue.int(int(v)) for k, v in counts.items()}
    if counts:
        out[prefix] = dg.MetadataValue.md("\n".join(f"- {k}: {v}" for k, v in sorted(counts.items())))
    return out


# --- plots (issue 7): pictures where they say more than a number -----------------------------------


def plot_metadata(markdown: str) -> dg.MetadataValue:
    """A plot rendered by :mod:`ragassets.plots` (Markdown with an inline PNG) as a metadata value."""
    return dg.MetadataValue.md(markdown)


def histogram_metadata(values: Any, **kwargs: Any) -> dg.MetadataValue:
    """Distribution of scores (judge scores, fidelity cosines), e.g. ``threshold=0.7``.

    Keyword arguments go to :func:`ragassets.plots.histogram_markdown` (``title`` is required).
    """
    from ragassets.plots import histogram_markdown

    return plot_metadata(histogram_markdown(list(values), **kwargs))


def curve_metadata(x: Any, series: dict[str, Any], **kwargs: Any) -> dg.MetadataValue:
    """Lines over a shared x axis (recall@k per index, training and eval loss per step)."""
    from ragassets.plots import curve_markdown

    return plot_metadata(curve_markdown(list(x), series, **kwargs))


def bar_metadata(labels: Any, values: Any, **kwargs: Any) -> dg.MetadataValue:
    """Bars per label, stacked when ``values`` maps series names to lists (token usage per stage)."""
    from ragassets.plots import bar_markdown

    return plot_metadata(bar_markdown(list(labels), values, **kwargs))
