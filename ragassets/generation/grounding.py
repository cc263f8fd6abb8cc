"""Is an answer supported by the text it was generated from?

An answer is grounded in its window (previous, current and next chunk) when

1. its normalised text occurs in the window's normalised text (the usual case: short answers
   copied from the passage), or
2. enough of its content words occur in the window (``min_overlap``, share of the answer's
   distinct content words), which tolerates reordering and inflection around the same facts, or
3. its embedding is close to the embedding of some sentence of the window (``min_cosine``), for
   answers that paraphrase the passage. Only answers that fail 1 and 2 are embedded.

An answer the model made up (a number that is not in the text, a name from elsewhere) fails all
three. The score of an answer is the best of the measures it was given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ragassets.text.sentences import split_sentences
from ragassets.text.words import content_words, loose_words, normalize

EmbedFn = Callable[[list[str]], np.ndarray]


def token_overlap(answer: str, context: str) -> float:
    """Share of the answer's distinct content words that occur in ``context`` (1.0 when the whole
    answer occurs in it as a run of words; 0.0 for an empty answer). Joined tokens match by their
    parts too, so "555" is found in "555-0134" and "1,970" in "1970"."""
    a = loose_words(answer)
    if not a:
        return 0.0
    c = loose_words(context)
    if f" {' '.join(a)} " in f" {' '.join(c)} ":
        return 1.0
    terms = {p for w in content_words(answer) for p in loose_words(w)}
    ctx = set(c)
    return sum(t in ctx for t in terms) / len(terms) if terms else 0.0


@dataclass
class GroundingResult:
    """Per answer: score in [0, 1], how it was measured (``text`` or ``embedding``), grounded or not."""

    scores: list[float]
    methods: list[str]
    grounded: list[bool]

    @property
    def share_grounded(self) -> float:
        return sum(self.grounded) / len(self.grounded) if self.grounded else 1.0


def grounding(
    answers: Sequence[str],
    contexts: Sequence[str],
    *,
    min_overlap: float = 0.6,
    min_cosine: float = 0.7,
    embed: EmbedFn | None = None,
) -> GroundingResult:
    """Grounding of each ``answers[i]`` in ``contexts[i]`` (see the module docstring).

    ``embed``: texts -> unit-length vectors (rows); None skips the embedding measure.
    """
    if len(answers) != len(contexts):
        raise ValueError(f"{len(answers)} answers but {len(contexts)} contexts")
    scores = [token_overlap(a, c) for a, c in zip(answers, contexts)]
    methods = ["text"] * len(answers)
    grounded = [s >= min_overlap for s in scores]
    todo = [i for i, ok in enumerate(grounded) if not ok and normalize(answers[i])]
    if embed is not None and todo:
        # embed each distinct text once: the failing answers and the sentences of their windows
        sents = {i: split_sentences(contexts[i]) or [contexts[i]] for i in todo}
        distinct = sorted({answers[i] for i in todo} | {s for ss in sents.values() for s in ss})
        vecs = embed(distinct)
        row = {t: k for k, t in enumerate(distinct)}
        for i in todo:
            a = vecs[row[answers[i]]]
            best = float(max(vecs[row[s]] @ a for s in sents[i])) if sents[i] else 0.0
            if best > scores[i]:
                scores[i], methods[i] = best, "embedding"
            grounded[i] = best >= min_cosine
    return GroundingResult(scores=scores, methods=methods, grounded=grounded)
