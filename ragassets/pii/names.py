"""Word lists for finding person names without a NER model.

Built once per process from data that ships with installed packages (no download): first and last
names of many Faker locales, Faker's US states and countries as place names, spaCy's stop words and
Faker's list of common English words as ordinary vocabulary. The lists are lowercased sets; the
recognizer in :mod:`ragassets.pii.person` decides what a capitalised word sequence is from them.

Some Faker locales are deliberately left out of the name lists (``HELD_OUT_LOCALES``): the evaluation
in :mod:`ragassets.pii.evaluation` draws names from them to measure recall on names the lists do not
know, which is what a real corpus is full of.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``, as a set (lists below are easier to read as prose)."""
    return frozenset(text.split())


# Locales whose first/last names feed the lexicon. Latin script only: the recognizer works on
# capitalisation, which other scripts do not have.
NAME_LOCALES: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_NZ",
    "en_IN",
    "en_KE",
    "en_NG",
    "en_PK",
    "ga_IE",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_BE",
    "fr_CA",
    "es_ES",
    "es_MX",
    "es_CO",
    "es_AR",
    "it_IT",
    "nl_NL",
    "nl_BE",
    "pt_BR",
    "pt_PT",
    "pl_PL",
    "cs_CZ",
    "ro_RO",
    "sv_SE",
    "da_DK",
    "no_NO",
    "tr_TR",
    "yo_NG",
    "ig_NG",
    "sw",
    "tw_GH",
)
# Faker's "en" locale carries ~6,800 rare US given names (many of them also words or places:
# "Texas", "Apollo", "January"); they count as weak evidence only.
EXTENDED_FIRST_NAME_LOCALES: tuple[str, ...] = ("en",)
# Never used by the recognizer; the evaluation draws "unseen" names from them.
HELD_OUT_LOCALES: tuple[str, ...] = ("fi_FI", "hu_HU", "sk_SK", "id_ID", "zu_ZA", "hr_HR", "lt_LT", "et_EE")

# Honorifics and ranks, lowercase, without a trailing period. A capitalised word after one of these
# is a name even when no list knows it.
TITLES: frozenset[str] = words(
    """
    mr mrs ms miss mx dr prof professor sir dame lady lord rev reverend fr father sister brother
    col colonel capt captain cpt maj major gen general lt lieutenant sgt sergeant cdr commander cmdr
    adm admiral cpl corporal pvt private ens ensign brig brigadier
    sen senator rep representative gov governor pres president judge justice mayor chancellor
    officer detective det inspector insp constable sheriff agent
    rabbi imam pastor bishop cardinal pope
    herr frau fräulein dott dottore sig signor signora sra señor señora srta doña
    mme madame mlle mademoiselle monsieur mevrouw meneer dhr mevr
    """
)
# Words that end an organisation or place name: "Kennedy Space Center", "Quay Street", "Smith LLC".
# A name candidate directly followed by one of these is not a person.
NAME_BLOCKING_HEADS: frozenset[str] = words(
    """
    street st avenue ave road rd lane ln drive dr boulevard blvd square plaza court ct terrace
    park bridge river lake creek mountain mountains mount valley island islands bay beach harbor
    harbour port county city town village state states province district region airport station
    university college school academy institute hospital clinic center centre library museum
    church cathedral chapel temple mosque hall building tower stadium arena theatre theater
    company co corp corporation inc incorporated ltd llc llp plc gmbh ag sa bv nv group holdings
    foundation association society council committee department ministry agency bureau office
    bank trust partners associates industries enterprises systems technologies labs laboratory
    laboratories program programme project mission award prize medal act law theorem syndrome
    disease effect equation principle rule method test scale number index reaction
    spacecraft vehicle module rocket engine motor
    """
)
# Words that start a place name: "Lake Jennifer", "Port Davidberg", "Cape Kennedy".
PLACE_PREFIXES: frozenset[str] = words(
    "lake mount mt port fort ft cape san santa santo los las el la new north south east west upper lower"
    " saint uss hms rms mv"
)
# Titles that are abbreviations: their period does not end a sentence ("Dr. Kranz").
TITLE_ABBREVIATIONS: frozenset[str] = words(
    """
    mr mrs ms mx dr prof fr col capt cpt maj gen lt sgt cdr cmdr adm cpl pvt ens brig sen rep gov pres
    det insp dott sig sra srta mme mlle dhr mevr rev
    """
)
# What may follow a name in capitals without making it an organisation ("Jane Doe MD").
NAME_SUFFIXES: frozenset[str] = words("jr sr md phd dds esq ii iii iv rn dvm cpa mba ret")
NAME_PARTICLES: frozenset[str] = words(
    "van von der den de del della di da dos das du le la bin ibn al el ter ten zu y e"
)
MONTHS_AND_DAYS: frozenset[str] = words(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    monday tuesday wednesday thursday friday saturday sunday
    """
)
# Ordinary English words that are also given names; Faker's short common-word list misses them.
NAME_WORDS_IN_PROSE: frozenset[str] = words(
    """
    love hope faith grace joy will bill mark grant rose lily holly dawn eve rich art ray pat frank guy
    earl duke king prince baker cook hunter fisher porter ward hall hill wood field lane brook banks
    stone rock summer winter autumn spring sky river star chance chase chip clay cliff dale dash drew
    glen heath jack lance miles moss nick norm pierce reed rod skip storm wade wolf robin penny ruby
    pearl amber crystal jade ginger candy honey melody harmony patience liberty justice unity june
    april august may sunny dusty rusty sterling hero sage angel buck colt gene sue page case major
    price young long short little west north south east early else ever true son sister baby
    """
)
# Endings of made-up and real town names ("Darrelltown", "Paulborough", "Bradfordstad").
PLACE_SUFFIXES: tuple[str, ...] = (
    "town",
    "ton",
    "land",
    "ville",
    "berg",
    "burg",
    "burgh",
    "borough",
    "bury",
    "view",
    "port",
    "mouth",
    "stad",
    "furt",
    "chester",
    "fort",
    "haven",
    "side",
    "shire",
    "field",
    "ford",
    "wood",
    "dale",
)
# Cues around a candidate that make it more likely a person. Lowercase.
PERSON_VERBS_AFTER: frozenset[str] = words(
    """
    said says told tells wrote writes asked asks replied replies explained explains added adds
    noted notes reported reports argued argues recalled recalls answered answers confirmed confirms
    who whose himself herself
    """
)
PERSON_CUES_BEFORE: frozenset[str] = words(
    "by dear hi hello hey thank thanks contact ask named called cc attn met meet with"
)
# The subset of cues after which even a word no list knows is a name ("Dear Oleg", "ask Nomusa").
STRONG_CUES_BEFORE: frozenset[str] = words("dear hi hello hey thank thanks ask contact cc attn")
PERSON_ROLES: frozenset[str] = words(
    """
    coordinator manager director treasurer caretaker secretary chair chairman chairwoman chairperson
    president ceo cfo cto founder cofounder officer engineer commander pilot astronaut professor
    teacher student lawyer attorney nurse doctor physician surgeon author editor volunteer member
    colleague wife husband son daughter mother father brother sister friend uncle aunt cousin
    patient client customer employee candidate applicant lead leader head owner tenant landlord
    spokesperson spokesman spokeswoman analyst scientist researcher instructor trainer coach
    """
)


@dataclass(frozen=True)
class NameLexicon:
    """Lowercased word sets the person recognizer looks words up in.

    Names come in two tiers. *Primary* names are from the locales of the policy's language (for
    English: the English-speaking locales); one of them alone is evidence. *Other* names are from
    every listed locale; they count only next to more evidence, because the union of 35 locales
    holds words such as "Tank", "German" or "Apollo".
    """

    first: frozenset[str]
    last: frozenset[str]
    first_primary: frozenset[str]
    last_primary: frozenset[str]
    first_extended: frozenset[str]
    common: frozenset[str]
    stop_words: frozenset[str]
    places: frozenset[str]
    blocking_heads: frozenset[str]

    def is_first(self, word: str) -> bool:
        return word in self.first

    def is_last(self, word: str) -> bool:
        return word in self.last

    def is_name(self, word: str) -> bool:
        return word in self.first or word in self.last or word in self.first_extended

    def is_ambiguous(self, word: str) -> bool:
        """A name that is also an ordinary word or a place ("Will", "Green", "Georgia")."""
        return word in self.common or word in self.places

    def is_strong_first(self, word: str) -> bool:
        """A primary-tier first name that is not also an ordinary word."""
        return word in self.first_primary and not self.is_ambiguous(word)

    def is_strong_last(self, word: str) -> bool:
        return word in self.last_primary and not self.is_ambiguous(word)

    def is_known(self, word: str) -> bool:
        """Any-tier first or last name that is not an ordinary word."""
        return (word in self.first or word in self.last) and not self.is_ambiguous(word)


PRIMARY_LOCALES: dict[str, tuple[str, ...]] = {
    "en": ("en_US", "en_GB", "en_IE", "en_NZ", "en_KE", "en_NG", "ga_IE"),
    "de": ("de_DE", "de_AT", "de_CH"),
    "fr": ("fr_FR", "fr_BE", "fr_CA"),
    "es": ("es_ES", "es_MX", "es_CO", "es_AR"),
    "it": ("it_IT",),
    "nl": ("nl_NL", "nl_BE"),
    "pt": ("pt_BR", "pt_PT"),
}


def _strings(provider: type, attribute: str) -> list[str]:
    value = getattr(provider, attribute, None)
    if isinstance(value, (list, tuple, dict)):
        return [v for v in value if isinstance(v, str)]
    return []


@cache
def locale_names(locale: str) -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) of one Faker locale, as written (not lowercased)."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    first = set(
        _strings(provider, "first_names")
        + _strings(provider, "first_names_male")
        + _strings(provider, "first_names_female")
    )
    return frozenset(first), frozenset(_strings(provider, "last_names"))


def _words(names: frozenset[str] | set[str]) -> set[str]:
    """Lowercased single words of names ("Mary Ann" gives "mary" and "ann")."""
    out: set[str] = set()
    for name in names:
        for part in name.replace("-", " ").split():
            part = part.strip(".'’").lower()
            if len(part) > 1 and part.isalpha():
                out.add(part)
    return out


def _stop_words(language: str) -> set[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as EN

    words = {w.lower() for w in EN}
    if language != "en":
        module = importlib.import_module(f"spacy.lang.{language}.stop_words")
        words |= {w.lower() for w in module.STOP_WORDS}
    return words


def _common_words() -> set[str]:
    from faker.providers.lorem.en_US import Provider as Lorem

    return (
        {w.lower() for w in Lorem.word_list}
        | set(MONTHS_AND_DAYS)
        | set(TITLES)
        | set(NAME_BLOCKING_HEADS)
        | set(NAME_WORDS_IN_PROSE)
        | set(PERSON_ROLES)
    )


def _place_words() -> set[str]:
    from faker.providers.address.en_US import Provider as Address

    # single-word names only: the words of "Saint Helena" or "New Mexico" are not places by themselves
    return {p.lower() for p in (*Address.states, *Address.countries) if p.isalpha()}


@cache
def name_lexicon(language: str = "en") -> NameLexicon:
    """The lexicon for a policy language, built once per process (~0.3 s) from bundled data."""
    first: set[str] = set()
    last: set[str] = set()
    first_primary: set[str] = set()
    last_primary: set[str] = set()
    primary = PRIMARY_LOCALES.get(language, PRIMARY_LOCALES["en"])
    for locale in dict.fromkeys((*NAME_LOCALES, *primary)):
        f, lst = (_words(x) for x in locale_names(locale))
        first |= f
        last |= lst
        if locale in primary:
            first_primary |= f
            last_primary |= lst
    extended: set[str] = set()
    for locale in EXTENDED_FIRST_NAME_LOCALES:
        extended |= _words(locale_names(locale)[0])
    stop = _stop_words(language)
    common = _common_words() | stop
    # USPS street suffixes ("Trail", "Vista", "Landing") end place names too, except those that are
    # also unambiguous names ("Brooks", "Wells"), which would block real people
    from faker.providers.address.en_US import Provider as Address

    names = first_primary | last_primary
    street = {w.lower() for w in Address.street_suffixes if w.lower() not in names or w.lower() in common}
    return NameLexicon(
        first=frozenset(first),
        last=frozenset(last),
        first_primary=frozenset(first_primary),
        last_primary=frozenset(last_primary),
        first_extended=frozenset(extended - first),
        common=frozenset(common),
        stop_words=frozenset(stop),
        places=frozenset(_place_words()),
        blocking_heads=frozenset(NAME_BLOCKING_HEADS | street | {"apt", "suite", "unit", "floor"}),
    )
