"""What replaces a finding: a placeholder, a consistent pseudonym, a mask, or a keyed hash.

All four are per corpus and deterministic, so re-running the redaction of a corpus gives the same
text:

- ``replace``: ``<PERSON>``, ``<EMAIL_ADDRESS>`` ... (the default);
- ``pseudonym``: a realistic fake from Faker (a name for a name, an IBAN for an IBAN, digits for
  digits in the original's format). Faker is seeded with a keyed hash of (corpus key, entity type,
  normalised original), so the same value always gets the same fake within a corpus and across
  runs, and different corpora get different fakes. A fake never equals an original value of the
  corpus (nor, for names, shares a word with one): it is drawn again if it would;
- ``mask``: every letter and digit becomes ``*`` (punctuation stays, so the shape is readable);
- ``hash``: ``<PERSON:1f3a...>``, an HMAC-SHA256 of the normalised value with the corpus key.

The corpus key is the value of the environment variable named by ``pii.secret_env`` when set,
else derived from the corpus name (then anyone who knows the corpus name can test guesses against
a hash or pseudonym; set a secret for real data). Original values only pass through memory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
from collections.abc import Callable, Iterable

from faker import Faker

from ragassets.pii.names import name_lexicon

LOCALES = {
    "en": "en_US",
    "de": "de_DE",
    "fr": "fr_FR",
    "es": "es_ES",
    "it": "it_IT",
    "nl": "nl_NL",
    "pt": "pt_BR",
}
MAX_ATTEMPTS = 25
_DIGITS_LETTERS = re.compile(r"[0-9A-Za-z]")


class OperatorError(ValueError):
    """A redaction operator cannot run as configured."""


def corpus_key(corpus: str, secret_env: str | None = None) -> bytes:
    """The per-corpus key of pseudonyms and hashes (see module docstring)."""
    if secret_env:
        secret = os.environ.get(secret_env)
        if not secret:
            raise OperatorError(
                f"pii.secret_env names the environment variable {secret_env!r}, which is not set; "
                "export it (any long random string) or remove the key"
            )
        return hmac.new(secret.encode(), f"ragassets-pii:{corpus}".encode(), hashlib.sha256).digest()
    return hashlib.sha256(f"ragassets-pii:{corpus}".encode()).digest()


def normalise(entity_type: str, value: str) -> str:
    """The form two mentions of one value share ("4111 1111 1111 1111" = "4111111111111111")."""
    if entity_type in {"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "US_BANK_NUMBER", "US_ITIN"}:
        return "".join(_DIGITS_LETTERS.findall(value)).upper()
    value = " ".join(value.split()).casefold()
    if entity_type == "PERSON" and value.endswith(("'s", "’s")):
        value = value[:-2]
    if entity_type == "URL":
        value = value.rstrip("/")
    return value


def placeholder(entity_type: str) -> str:
    return f"<{entity_type}>"


def mask(value: str) -> str:
    return _DIGITS_LETTERS.sub("*", value)


def keyed_hash(key: bytes, entity_type: str, value: str) -> str:
    digest = hmac.new(
        key, f"{entity_type}\0{normalise(entity_type, value)}".encode(), hashlib.sha256
    ).hexdigest()
    return f"<{entity_type}:{digest[:16]}>"


def _shape_like(value: str, rng: random.Random) -> str:
    """Random digits for digits and letters for letters, keeping case and punctuation."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(str(rng.randrange(10)))
        elif ch.isascii() and ch.isalpha():
            letter = chr(rng.randrange(26) + 97)
            out.append(letter.upper() if ch.isupper() else letter)
        else:
            out.append(ch)
    return "".join(out)


def _luhn_fix(number: str) -> str:
    """``number`` (digits with separators) with its last digit made a valid Luhn check digit."""
    positions = [i for i, c in enumerate(number) if c.isdigit()]
    if len(positions) < 2:
        return number
    digits = [int(number[i]) for i in positions[:-1]]
    total = 0
    for k, d in enumerate(reversed(digits)):
        if k % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    check = (10 - total % 10) % 10
    chars = list(number)
    chars[positions[-1]] = str(check)
    return "".join(chars)


def _match_case(fake: str, original: str) -> str:
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return fake.upper()
    return fake


class Pseudonymizer:
    """Consistent fake values for one corpus.

    ``forbidden`` holds the (normalised) original values of the corpus; fakes that equal one, or
    names that share a word with an original name, are drawn again. It lives in memory only.
    """

    def __init__(self, key: bytes, language: str = "en", forbidden: Iterable[tuple[str, str]] = ()):
        self.key = key
        self.faker = Faker(LOCALES.get(language, "en_US"))
        self.first_names = name_lexicon(language).first
        self.forbidden: set[tuple[str, str]] = set()
        self.forbidden_name_words: set[str] = set()
        for entity_type, value in forbidden:
            self.forbid(entity_type, value)
        self._cache: dict[tuple[str, str], str] = {}

    def forbid(self, entity_type: str, value: str) -> None:
        self.forbidden.add((entity_type, normalise(entity_type, value)))
        if entity_type == "PERSON":
            self.forbidden_name_words.update(w.casefold() for w in re.findall(r"[^\W\d_]+", value))

    def _allowed(self, entity_type: str, fake: str) -> bool:
        if (entity_type, normalise(entity_type, fake)) in self.forbidden:
            return False
        if entity_type == "PERSON":
            return not any(w.casefold() in self.forbidden_name_words for w in re.findall(r"[^\W\d_]+", fake))
        return True

    def pseudonym(self, entity_type: str, value: str) -> str:
        """The fake for ``value``: the same for the same (corpus, type, normalised value)."""
        norm = normalise(entity_type, value)
        cached = self._cache.get((entity_type, norm))
        if cached is not None:
            return cached
        fake = value
        for attempt in range(MAX_ATTEMPTS):
            seed = int.from_bytes(
                hmac.new(self.key, f"{entity_type}\0{norm}\0{attempt}".encode(), hashlib.sha256).digest()[:8],
                "big",
            )
            fake = self._generate(entity_type, value, seed)
            if self._allowed(entity_type, fake):
                break
        else:  # 25 draws all collided with real values: fall back to something that cannot
            fake = keyed_hash(self.key, entity_type, value)
        self._cache[(entity_type, norm)] = fake
        return fake

    def _generate(self, entity_type: str, value: str, seed: int) -> str:
        fk = self.faker
        fk.seed_instance(seed)
        rng = random.Random(seed)
        generators: dict[str, Callable[[], str]] = {
            "PERSON": lambda: self._person(value),
            "EMAIL_ADDRESS": lambda: fk.email(safe=True),
            "IBAN_CODE": fk.iban,
            "IP_ADDRESS": lambda: fk.ipv6() if ":" in value else fk.ipv4(),
            "URL": fk.url,
            "LOCATION": fk.city,
            "ORGANIZATION": fk.company,
            "DATE_TIME": lambda: fk.date(),
            "NRP": fk.country,
            "CREDIT_CARD": lambda: _luhn_fix(_shape_like(value, rng)),
        }
        make = generators.get(entity_type)
        if make:
            fake = make()
        elif entity_type == "PHONE_NUMBER":
            # keep a country code or trunk prefix, so the number still reads as one of its country
            prefix = re.match(r"\s*(?:\+\d{1,3}|\(?0)", value)
            cut = prefix.end() if prefix else 0
            fake = value[:cut] + _shape_like(value[cut:], rng)
        else:
            fake = _shape_like(value, rng)
        if entity_type == "US_SSN":
            while fake[:3] in ("000", "666") or fake[:1] == "9":
                fake = _shape_like(value, rng)
        return _match_case(fake, value)

    def _person(self, value: str) -> str:
        words = re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", value)
        if len(words) <= 1:
            first = bool(words) and words[0].casefold() in self.first_names
            return self.faker.first_name() if first else self.faker.last_name()
        return f"{self.faker.first_name()} {self.faker.last_name()}"


def make_operator(
    operator: str, key: bytes, pseudonymizer: Pseudonymizer | None = None
) -> Callable[[str, str], str]:
    """``(entity_type, original) -> replacement`` for one of replace, pseudonym, mask, hash."""
    if operator == "replace":
        return lambda entity_type, value: placeholder(entity_type)
    if operator == "mask":
        return lambda entity_type, value: mask(value)
    if operator == "hash":
        return lambda entity_type, value: keyed_hash(key, entity_type, value)
    if operator == "pseudonym":
        if pseudonymizer is None:
            raise OperatorError("the pseudonym operator needs a Pseudonymizer")
        return pseudonymizer.pseudonym
    raise OperatorError(f"pii.operator: unknown operator {operator!r}; use replace, pseudonym, mask or hash")
