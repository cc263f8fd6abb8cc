"""Which difficulties to ask for, so the corpus as a whole follows the configured mix.

Asking every chunk for "easy, medium" with two questions per chunk would never produce a hard
question. Instead the labels are dealt out over the whole corpus like seats in an apportionment:
at each position the difficulty furthest below its target share gets the next question. Any prefix
of the sequence is as close to the mix as whole numbers allow, so a corpus of 7 chunks and a corpus
of 7,000 both get the mix, and chunk ``i`` always gets the same labels for the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping

DIFFICULTIES = ("easy", "medium", "hard")


def difficulty_sequence(total: int, mix: Mapping[str, float]) -> list[str]:
    """``total`` labels whose running counts track ``mix`` (shares, normalised here) as closely as
    possible; ties go to the easier label."""
    unknown = sorted(set(mix) - set(DIFFICULTIES))
    if unknown:
        raise ValueError(f"unknown difficulty {', '.join(unknown)}; use easy, medium, hard")
    weight = sum(max(0.0, float(v)) for v in mix.values())
    if weight <= 0:
        raise ValueError("the difficulty mix needs at least one positive share")
    shares = {d: max(0.0, float(mix.get(d, 0.0))) / weight for d in DIFFICULTIES}
    counts = dict.fromkeys(DIFFICULTIES, 0)
    out: list[str] = []
    for i in range(1, total + 1):
        # deficit of each label after i positions; the largest one takes position i
        pick = max((d for d in DIFFICULTIES if shares[d] > 0), key=lambda d: shares[d] * i - counts[d])
        counts[pick] += 1
        out.append(pick)
    return out


def assign_difficulties(n_chunks: int, per_chunk: int, mix: Mapping[str, float]) -> list[list[str]]:
    """The labels for each of ``n_chunks`` chunks (``per_chunk`` each), dealt from one sequence."""
    if per_chunk < 1:
        raise ValueError(f"questions per chunk must be at least 1, got {per_chunk}")
    seq = difficulty_sequence(n_chunks * per_chunk, mix)
    return [seq[i * per_chunk : (i + 1) * per_chunk] for i in range(n_chunks)]
