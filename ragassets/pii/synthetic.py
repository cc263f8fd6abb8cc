"""Generated documents with planted PII, for tests and the redaction benchmark.

Every pattern type appears in the formats people write: phone numbers with and without country
code, with dots, dashes, spaces and parentheses; card numbers with and without spaces; IBANs of
several countries (valid check digits from Faker); SSNs; IPv4 and IPv6 (full and compressed);
email addresses bare, in angle brackets and in Markdown links. Each document records the values it
planted, so a test can check that none survives redaction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

from ragassets.pii.operators import _luhn_fix


@dataclass
class PlantedDoc:
    doc_id: str
    text: str
    planted: list[tuple[str, str]] = field(default_factory=list)  # (entity_type, value as written)


def _phone(rng: random.Random, fk: Faker) -> str:
    area, exchange, line = rng.randint(201, 989), rng.randint(200, 989), rng.randint(0, 9999)
    formats = [
        f"+1 {area} {exchange} {line:04d}",
        f"+1-{area}-{exchange}-{line:04d}",
        f"({area}) {exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"{area}-{exchange}-{line:04d}",
        f"+1 ({area}) {exchange}-{line:04d}",
        f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        f"020 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        f"+49 30 {rng.randint(100000, 999999)}",
        f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
    ]
    return rng.choice(formats)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "52", "55", "37", "6011"])
    length = 15 if prefix == "37" else 16
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix)))
    digits = _luhn_fix(digits)
    if rng.random() < 0.5:
        return digits
    if length == 15:
        return f"{digits[:4]} {digits[4:10]} {digits[10:]}"
    sep = rng.choice([" ", "-"])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random, fakers: dict[str, Faker]) -> str:
    fk = fakers[rng.choice(["de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT"])]
    iban = fk.iban()
    if rng.random() < 0.5:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    return rng.choice([f"{area:03d}-{group:02d}-{serial:04d}", f"{area:03d} {group:02d} {serial:04d}"])


def _ip(rng: random.Random, fk: Faker) -> str:
    choice = rng.random()
    if choice < 0.5:
        return fk.ipv4()
    if choice < 0.75:
        return fk.ipv6()
    return f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"


def _email(rng: random.Random, fk: Faker) -> tuple[str, str]:
    """(email, how it is written in the text)."""
    email = f"{fk.user_name()}@{fk.domain_name()}"
    style = rng.random()
    if style < 0.33:
        return email, f"<{email}>"
    if style < 0.66:
        return email, f"[{fk.first_name()}](mailto:{email})"
    return email, email


SENTENCES = (
    "Call the office on {phone} if the delivery is late.",
    "Her number is {phone}.",
    "Payment was made with card {card} last Tuesday.",
    "Please transfer the deposit to IBAN {iban} before the end of the month.",
    "The applicant's SSN is {ssn}.",
    "The server at {ip} stopped answering at noon.",
    "Requests came from {ip} and were blocked.",
    "Write to {email} for a copy of the minutes.",
    "The contact listed on the form was {email}.",
    "The seed library opens on Saturday mornings and closes in January for the inventory.",
    "Packets of rare varieties are limited to two per member.",
    "Germination is tested on fifty seeds rolled in a damp paper towel.",
)


def planted_pii_documents(n_docs: int = 40, seed: int = 0, sentences: int = 9) -> list[PlantedDoc]:
    """Documents in which every pattern type is planted several times, in varied formats."""
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in ("en_US", "de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT")}
    for i, fk in enumerate(fakers.values()):
        fk.seed_instance(seed * 100 + i)
    fk = fakers["en_US"]
    docs = []
    for d in range(n_docs):
        parts: list[str] = []
        planted: list[tuple[str, str]] = []
        for k in range(sentences):
            # cycle through the PII sentences so every document holds every type
            template = SENTENCES[(d + k) % 9] if k < 9 else rng.choice(SENTENCES[9:])
            values: dict[str, str] = {}
            if "{phone}" in template:
                values["phone"] = _phone(rng, fk)
                planted.append(("PHONE_NUMBER", values["phone"]))
            if "{card}" in template:
                values["card"] = _card(rng)
                planted.append(("CREDIT_CARD", values["card"]))
            if "{iban}" in template:
                values["iban"] = _iban(rng, fakers)
                planted.append(("IBAN_CODE", values["iban"]))
            if "{ssn}" in template:
                values["ssn"] = _ssn(rng)
                planted.append(("US_SSN", values["ssn"]))
            if "{ip}" in template:
                values["ip"] = _ip(rng, fk)
                planted.append(("IP_ADDRESS", values["ip"]))
            if "{email}" in template:
                email, written = _email(rng, fk)
                values["email"] = written
                planted.append(("EMAIL_ADDRESS", email))
            parts.append(template.format(**values))
        docs.append(PlantedDoc(f"doc-{seed}-{d:04d}", " ".join(parts), planted))
    return docs


def benchmark_paragraphs(n: int = 1000, seed: int = 0, size: int = 1000) -> list[str]:
    """``n`` paragraphs of about ``size`` characters: prose with names and a few planted values."""
    from ragassets.pii.evaluation import generate_name_corpus

    named = generate_name_corpus(n, seed=seed, sentences=6)
    planted = planted_pii_documents(n, seed=seed, sentences=4)
    out = []
    for a, b in zip(named, planted, strict=True):
        text = f"{a.text} {b.text}"
        while len(text) < size:
            text += " " + SENTENCES[9 + len(text) % 3]
        out.append(text[:size].rsplit(" ", 1)[0] + ".")
    return out
