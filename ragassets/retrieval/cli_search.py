"""``ragassets search --corpus NAME "query" [-k 5]``: the chunks of a corpus closest to a query."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

SNIPPET_CHARS = 300


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def search_command(
    corpus: str,
    query: str,
    k: int = 5,
    data_root: str | Path | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Print the ``k`` best chunks of ``corpus`` for ``query``; returns the exit status (0, or 2 on error)."""
    from ragassets.embed.providers import EmbedderError
    from ragassets.retrieval.index import IndexArtifactError
    from ragassets.retrieval.retriever import Retriever

    out = out or sys.stdout
    try:
        retriever = Retriever.load(corpus, data_root)
        hits = retriever.search(query, k)
    except (FileNotFoundError, IndexArtifactError, EmbedderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        for h in hits:
            row = {"rank": h.rank, "score": round(h.score, 4), "chunk_id": h.chunk_id, "doc_id": h.doc_id,
                   "heading_path": list(h.heading_path), "text": h.text}
            print(json.dumps(row, ensure_ascii=False), file=out)
        return 0
    if not hits:
        print(f"no chunks in corpus '{corpus}'", file=out)
        return 0
    for h in hits:
        where = " > ".join(h.heading_path) or "(no heading)"
        print(f"{h.rank}. {h.score:.3f}  {h.chunk_id}  [{where}]", file=out)
        print(f"   {_snippet(h.text)}", file=out)
    return 0


def add_search_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``search`` subcommand on the ``ragassets`` parser."""
    p = sub.add_parser("search", help="search a corpus's chunks by meaning (needs chunk_index materialized)")
    p.add_argument("--corpus", required=True, help="corpus name")
    p.add_argument("query", help="what to look for")
    p.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per result")
    p.set_defaults(func=lambda a: search_command(a.corpus, a.query, a.k, None, a.json))
    return p
