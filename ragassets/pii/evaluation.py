"""Measure person-name detection on generated text whose names are known.

Documents are built from sentence templates: some mention people in the ways real prose does (full
names, titles, initials, first names alone, surnames after a verb of speech, possessives, greetings),
others are distractors a name list trips over: Faker's company names made of surnames ("Lawson-Wang",
"Miller, Davis and Wilson"), towns made of first names ("South Anthonyfurt", "Lake Jennifer"),
streets ("3915 Andrew Run"), well-known places and organisations named after people ("Johnson
Space Center"), and ordinary words that are also names at the start of a sentence ("May", "Will").

Names come from two pools: locales whose lists the recognizer uses, and held-out locales it never
saw (:data:`ragassets.pii.names.HELD_OUT_LOCALES`). Recall is reported for both, so the figure for a
corpus full of unfamiliar names is not hidden behind the easy one.

Scoring is by span: a name counts as found when every letter of it is inside predicted PERSON
spans (a half-redacted name is a leak); a predicted span is correct when it overlaps a real name.

Run ``python -m ragassets.pii.evaluation`` to print the figures published in docs/pii.md.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from faker import Faker

from ragassets.pii.names import HELD_OUT_LOCALES

KNOWN_POOL: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "en_NG",
    "pl_PL",
)

# {n} full name, {f} first name, {l} last name, {i} "First X. Last", {t} "Title Last";
# the letters mark people. {city} {company} {street} {month} {day} {org} are distractors.
PERSON_TEMPLATES: tuple[str, ...] = (
    "Saturday mornings are led by {n}.",
    "{n} said the shipment would arrive on {month} {day}.",
    "Please send the signed form to {n} before Friday.",
    "According to {t}, the results were inconclusive.",
    "The report was reviewed by {i} and approved by {n2}.",
    "Minutes were taken by {n}, the committee secretary.",
    "Dear {f},\n\nThank you for your letter of {month} {day}.",
    "I spoke with {l} yesterday about the budget.",
    "{l} told the board that the figures were final.",
    "{n}'s car was parked outside the depot all weekend.",
    "The treasurer, {n}, will reimburse the invoices.",
    "Questions go to {n} on Tuesdays and Thursdays.",
    "Ask {f} for the keys if the office is locked.",
    "{t} and {t2} inspected the site on {month} {day}.",
    "The award went to {n}, who had worked there since 2009.",
    "We thank {n} and {n2} for their help with the survey.",
    "Contact {n} at the front desk.",
    "In the interview, {l} explained why the project was late.",
    "Signed: {i}",
    "{f} and {f2} packed the boxes while {n} counted the seeds.",
    "The patient, {n}, was discharged on {month} {day}.",
    "Notes from {t}: the samples were stored at 4 degrees.",
    "After the meeting {n} wrote to the council again.",
    "| {n} | Volunteer | Saturdays |",
    "- {n} (coordinator)",
)
DISTRACTOR_TEMPLATES: tuple[str, ...] = (
    "The meeting moved to {city} after the storm.",
    "Our supplier, {company}, raised its prices again.",
    "Deliveries go to {street}.",
    "The invoice from {company} arrived in {month}.",
    "May brought heavy rain, and the beds flooded twice.",
    "Will the shipment arrive before the market opens?",
    "Grant applications close at the end of {month}.",
    "The samples were sent to {org} for testing.",
    "Visitors from {city} asked about the lending rules.",
    "## Budget Review\n\nThe totals are in the table below.",
    "The Cherokee Purple and Red Russian varieties sold out first.",
    "Hope Street and Victoria Road are closed for repairs.",
    "Use the Export button in the Settings menu.",
    "Mark the jars with the lot number before storing them.",
    "The bus to {city} leaves from Station Square at 8.",
    "The Parkinson Award is given every {month}.",
)
ORGS: tuple[str, ...] = (
    "the Johnson Space Center",
    "Mount Sinai Hospital",
    "Washington University",
    "the Smith Institute",
    "Kennedy Space Center",
    "the Wellcome Trust",
    "Bristol Myers Squibb",
    "the Morgan Library",
    "Ford Motor Company",
    "the Nelson Museum",
)
TITLES = ("Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "Colonel", "Captain", "Judge", "Senator")


@dataclass
class LabeledText:
    """A generated text and the (start, end) spans of the people in it."""

    text: str
    names: list[tuple[int, int]] = field(default_factory=list)
    pools: list[str] = field(default_factory=list)  # "known" or "held_out", one per name


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.names: list[tuple[int, int]] = []
        self.pools: list[str] = []

    def add(self, text: str, pool: str | None = None) -> None:
        if pool is not None:
            self.names.append((self.length, self.length + len(text)))
            self.pools.append(pool)
        self.parts.append(text)
        self.length += len(text)


def _render(template: str, rng: random.Random, fakers: dict[str, Faker], out: _Builder) -> None:
    """Fill one template, recording the spans of the people."""
    en = fakers["en_US"]
    pos = 0
    people: dict[str, tuple[str, str, str]] = {}

    def person(slot: str) -> tuple[str, str, str]:
        if slot not in people:
            pool = "held_out" if rng.random() < 0.3 else "known"
            locale = rng.choice(HELD_OUT_LOCALES if pool == "held_out" else KNOWN_POOL)
            fk = fakers[locale]
            people[slot] = (fk.first_name(), fk.last_name(), pool)
        return people[slot]

    while pos < len(template):
        open_ = template.find("{", pos)
        if open_ < 0:
            out.add(template[pos:])
            break
        out.add(template[pos:open_])
        close = template.index("}", open_)
        slot = template[open_ + 1 : close]
        kind, key = slot[0], slot
        if slot in ("city", "company", "street", "month", "day", "org"):
            value = {
                "city": en.city,
                "company": en.company,
                "street": en.street_address,
                "month": en.month_name,
                "day": lambda: str(rng.randint(1, 28)),
                "org": lambda: rng.choice(ORGS),
            }[slot]()
            out.add(value)
        else:
            first, last, pool = person("p" + key[1:] if len(key) > 1 else "p")
            if kind == "n":
                out.add(f"{first} {last}", pool)
            elif kind == "f":
                out.add(first, pool)
            elif kind == "l":
                out.add(last, pool)
            elif kind == "i":
                out.add(f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}", pool)
            elif kind == "t":
                out.add(rng.choice(TITLES) + " ")
                out.add(last, pool)
            else:
                raise ValueError(f"unknown slot {{{slot}}} in template {template!r}")
        pos = close + 1


def generate_name_corpus(n_docs: int = 200, seed: int = 0, sentences: int = 8) -> list[LabeledText]:
    """``n_docs`` documents of ``sentences`` sentences each, about 60% mentioning people."""
    rng = random.Random(seed)
    fakers: dict[str, Faker] = {}
    for i, locale in enumerate(("en_US", *KNOWN_POOL, *HELD_OUT_LOCALES)):
        if locale not in fakers:
            fakers[locale] = Faker(locale)
            fakers[locale].seed_instance(seed * 1000 + i)
    docs = []
    for _ in range(n_docs):
        out = _Builder()
        for k in range(sentences):
            if k:
                out.add("\n\n" if rng.random() < 0.25 else " ")
            templates = PERSON_TEMPLATES if rng.random() < 0.6 else DISTRACTOR_TEMPLATES
            _render(rng.choice(templates), rng, fakers, out)
        docs.append(LabeledText("".join(out.parts), out.names, out.pools))
    return docs


@dataclass
class NameScores:
    """Span-level figures; ``recall_by_pool`` splits recall by where the names came from."""

    precision: float
    recall: float
    recall_by_pool: dict[str, float]
    n_names: int
    n_predicted: int
    false_positives: list[str]
    missed: list[str]


def score_names(
    docs: Sequence[LabeledText], predict: Callable[[list[str]], list[list[tuple[int, int]]]]
) -> NameScores:
    """Precision and recall of ``predict`` (texts -> PERSON spans per text) on labelled texts."""
    predictions = predict([d.text for d in docs])
    tp_pred = n_pred = 0
    found: dict[str, list[bool]] = {}
    false_pos: list[str] = []
    missed: list[str] = []
    for doc, spans in zip(docs, predictions, strict=True):
        covered = [False] * len(doc.text)
        for s, e in spans:
            n_pred += 1
            for k in range(s, e):
                covered[k] = True
            if any(s < ge and gs < e for gs, ge in doc.names):
                tp_pred += 1
            else:
                false_pos.append(doc.text[s:e])
        for (gs, ge), pool in zip(doc.names, doc.pools, strict=True):
            ok = all(covered[k] for k in range(gs, ge) if doc.text[k].isalnum())
            found.setdefault(pool, []).append(ok)
            if not ok:
                missed.append(doc.text[gs:ge])
    all_found = [x for v in found.values() for x in v]
    return NameScores(
        precision=tp_pred / n_pred if n_pred else 1.0,
        recall=sum(all_found) / len(all_found) if all_found else 1.0,
        recall_by_pool={k: sum(v) / len(v) for k, v in sorted(found.items())},
        n_names=len(all_found),
        n_predicted=n_pred,
        false_positives=false_pos,
        missed=missed,
    )


def evaluate_engine(n_docs: int, seed: int, threshold: float = 0.5) -> NameScores:
    """Scores of the offline engine (PERSON only, the given threshold) on a generated corpus."""
    from ragassets.pii.analyze import analyze_texts
    from ragassets.pii.engine import analyzer_for
    from ragassets.settings import PiiSettings

    policy = PiiSettings(entities=["PERSON"], threshold=threshold)
    analyzer = analyzer_for(policy)

    def predict(texts: list[str]) -> list[list[tuple[int, int]]]:
        found = analyze_texts(analyzer, texts, policy, processes=1)
        return [[(f.start, f.end) for f in fs if f.entity_type == "PERSON"] for fs in found]

    return score_names(generate_name_corpus(n_docs, seed=seed), predict)


def _main() -> None:  # pragma: no cover - prints the figures for docs/pii.md
    import collections
    import sys

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 2024
    n_docs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    print(
        "| threshold | documents | names | predicted spans | precision | recall | recall, listed locales | "
        "recall, held-out locales |\n|---|---|---|---|---|---|---|---|"
    )
    scores = {}
    for threshold in (0.4, 0.5, 0.6):
        s = scores[threshold] = evaluate_engine(n_docs, seed, threshold)
        print(
            f"| {threshold} | {n_docs} | {s.n_names} | {s.n_predicted} | {s.precision:.3f} | {s.recall:.3f} | "
            f"{s.recall_by_pool.get('known', 0):.3f} | {s.recall_by_pool.get('held_out', 0):.3f} |"
        )
    s = scores[0.5]
    print("\nmost frequent false positives (0.5):", collections.Counter(s.false_positives).most_common(15))
    print("sample of missed names (0.5):", s.missed[:25])


if __name__ == "__main__":  # pragma: no cover
    _main()
