"""PERSON without a NER model: name lists, titles, initials and context find names; places,
organisations and ordinary capitalised words are left alone."""

import pytest

THRESHOLD = 0.5


def names(person, text: str) -> list[str]:
    return [text[s:e] for s, e, score, _ in person.find_names(text) if score >= THRESHOLD]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saturday mornings are led by Daniel Okafor.", ["Daniel Okafor"]),
        ("Keys are held by the caretaker, Mr. Alvarez.", ["Alvarez"]),
        ("The crew of James A. Lovell and Fred W. Haise returned.", ["James A. Lovell", "Fred W. Haise"]),
        ("Data from V. S. Whitehead and J. G. Garcia were used.", ["V. S. Whitehead", "J. G. Garcia"]),
        ("Reimbursements go to the treasurer, Thomas Whitfield.", ["Thomas Whitfield"]),
        ("Please ask Margaret about the keys.", ["Margaret"]),
        ("Dear Oleg,\n\nthank you for the seeds.", ["Oleg"]),
        ("The report was signed by Colonel Sanders and Dr. Kranz.", ["Sanders", "Kranz"]),
        ("After the meeting Jay van de Velden wrote to the council.", ["Jay van de Velden"]),
        ("Daniel Okafor opened the door. Later, Okafor said it was locked.", ["Daniel Okafor", "Okafor"]),
        ("Reach Daniel Okafor at daniel.okafor@example.com today.", ["Daniel Okafor"]),
    ],
)
def test_finds_names_in_the_forms_prose_uses_them(person, text: str, expected: list[str]) -> None:
    assert names(person, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The samples went to the Johnson Space Center for testing.",
        "The library moved to 14 Quay Street in 2019.",
        "The meeting moved to Lake Jennifer after the storm.",
        "The crew was recovered by USS Iwo Jima. Later the Iwo Jima sailed to Hawaii.",
        "Helicopters were staged from Patrick AFB, Florida.",
        "The invoice from Morgan and Sons arrived in April.",
        "May brought heavy rain, and the beds flooded twice.",
        "Will the shipment arrive before the market opens?",
        "Mark the jars with the lot number before storing them.",
        "| Cherokee Purple | Tomato | 340 |",
        "The oxygen tank failed. Cryogenic Oxygen Tank data are in section 8.",
    ],
)
def test_places_organisations_and_ordinary_words_are_not_people(person, text: str) -> None:
    assert names(person, text) == []


def test_title_and_possessive_stay_outside_the_span(person) -> None:
    text = "Mr. Alvarez's keys and Daniel Okafor's bicycle"
    assert names(person, text) == ["Alvarez", "Daniel Okafor"]


def test_a_name_alone_at_the_start_of_a_sentence_needs_more_evidence(person) -> None:
    # a capital at the start of a sentence says nothing; the same word mid-sentence is a name
    assert names(person, "Victoria was closed for repairs.") == []
    assert names(person, "The keys are with Victoria today.") == ["Victoria"]


def test_reasons_explain_each_finding(person) -> None:
    [(_, _, score, why)] = person.find_names("Reach him via Dr. Kranz now.")
    assert score >= 0.85 and "title" in why
