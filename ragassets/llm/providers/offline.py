"""``offline``: a deterministic, rule-based stand-in for a model. It is NOT a language model.

It exists so the whole graph runs on a laptop with no network and no weights, and so tests have
outputs they can predict. It answers every task the graph uses from the text it is given, with
rules whose outputs always parse and are always grounded in the source:

- ``paraphrase``: prose is rewritten sentence by sentence with restructurings that move, never
  change, its parts (a leading clause or phrase to the end and back, "in 2019" to the front, "because"
  clauses turned around, "A and B" swapped, passive to active and back, "X, which caused Y" split,
  semicolons and ", and" split, short sentences joined) and with a lexicon of several hundred
  conservative synonyms and phrase rewrites (inflected, guarded by the neighbouring words); ``variant``
  picks other rules and alternatives. Numbers, dates, names, headings, tables, code and HTML are never
  touched.
- ``questions``: sentences of the *current* chunk that carry a date, a number or a name become
  questions whose answer is that span, copied from the text; difficulty follows how much of the
  sentence the question gives away (easy: the whole sentence, medium: a reworded one, hard: only
  key terms).
- ``conversation``: the same facts as user questions with the source sentences as answers.
- ``rag_answer``: the context sentence sharing most content words with the question, cited.
- ``chunk_filter``: measurable properties (words, letter ratio, sentence shape, table-of-contents
  lines, repetition).
- ``judge``: overlap of answer and question terms with the source, and the question's shape.

Every result says ``provider=offline`` and model ``offline-rules-v1``. Other tasks get an extract
of the user message (or a minimal instance of the requested JSON schema).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ragassets.llm.accounting import estimate_message_tokens, estimate_tokens
from ragassets.llm.providers.base import Provider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage

OFFLINE_MODEL = "offline-rules-v1"

# ---------------------------------------------------------------------------------------------------
# text analysis

_ABBREV = (
    "Mr.|Mrs.|Ms.|Dr.|Prof.|Sr.|Jr.|St.|Mt.|No.|Fig.|fig.|Figs.|Eq.|Vol.|vs.|etc.|e.g.|i.e.|approx.|"
    "Jan.|Feb.|Mar.|Apr.|Jun.|Jul.|Aug.|Sep.|Sept.|Oct.|Nov.|Dec.|U.S.|a.m.|p.m.|Inc.|Ltd.|Co.|Corp."
)
_ABBREV_SET = set(_ABBREV.split("|"))
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sep\\.?|Sept\\.?|Oct\\.?|Nov\\.?|Dec\\.?"
)
_DATE = re.compile(
    rf"\b(?:(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS}),?\s+\d{{4}}"
    rf"|(?:{MONTHS})\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}/\d{2,4})\b"
)
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")
UNITS = {
    "percent",
    "%",
    "feet",
    "foot",
    "ft",
    "miles",
    "mile",
    "meters",
    "metres",
    "meter",
    "km",
    "kilometers",
    "kg",
    "kilograms",
    "pounds",
    "lb",
    "lbs",
    "tons",
    "hours",
    "hour",
    "minutes",
    "minute",
    "seconds",
    "second",
    "days",
    "day",
    "weeks",
    "years",
    "months",
    "psi",
    "degrees",
    "volts",
    "amperes",
    "amps",
    "watts",
    "kw",
    "mph",
    "knots",
    "fps",
    "gallons",
    "liters",
    "litres",
    "people",
    "persons",
    "employees",
    "dollars",
    "euros",
    "million",
    "billion",
    "thousand",
    "nautical",
    "times",
    "cm",
    "mm",
    "m",
    "g",
    "s",
}
# a time of day, whole: "09:00", "7:30 pm", "19:30" (never its hours and minutes as two numbers)
_CLOCK = re.compile(r"(?<![\w.:])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?\b)?(?![\w:])", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?%?")
_CAPWORD = re.compile(r"\b[A-Z][a-zA-Z'\-]+(?:\s+(?:of|de|von|van|the)?\s*[A-Z][a-zA-Z'\-]+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d[\d,.]*")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "more",
        "most",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "after",
        "also",
        "all",
        "any",
        "before",
        "between",
        "both",
        "during",
        "each",
        "few",
        "however",
        "into",
        "just",
        "many",
        "much",
        "must",
        "only",
        "other",
        "over",
        "same",
        "some",
        "through",
        "under",
        "until",
        "up",
        "very",
    ]
)

_SUBORDINATORS = (
    "After",
    "Before",
    "When",
    "While",
    "Because",
    "Although",
    "Though",
    "Since",
    "If",
    "Once",
    "Until",
    "During",
    "Following",
    "As soon as",
)
_SUBJECT_STARTERS = frozenset(
    [
        "the",
        "a",
        "an",
        "he",
        "she",
        "it",
        "they",
        "we",
        "i",
        "you",
        "this",
        "these",
        "those",
        "his",
        "her",
        "their",
        "our",
        "its",
        "there",
        "one",
        "each",
        "some",
    ]
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; lines (headings, list items) count as boundaries too."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[#>*\-]|\d+\.)\s)", text):
        block = " ".join(block.split())
        block = re.sub(r"^(?:#+|[>*\-]|\d+\.)\s+", "", block)
        if not block:
            continue
        pieces = _SENT_END.split(block)
        merged: list[str] = []
        for piece in pieces:
            if merged and merged[-1].split()[-1] in _ABBREV_SET:
                merged[-1] = merged[-1] + " " + piece
            else:
                merged.append(piece)
        out.extend(p.strip() for p in merged if p.strip())
    return out


def content_words(text: str) -> list[str]:
    return [w.lower().strip(".,") for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class Span:
    kind: str  # date | time | year | quantity | number | name
    text: str
    start: int
    end: int


_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*(?::[0-9a-f]+)?>")


def find_spans(sentence: str) -> list[Span]:
    """Dates, quantities, numbers and names in a sentence, most specific first, non-overlapping."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def add(kind: str, a: int, b: int) -> None:
        if free(a, b) and sentence[a:b].strip():
            spans.append(Span(kind, sentence[a:b], a, b))
            taken.append((a, b))

    # redaction placeholders (<PERSON>, <US_SSN:9c8f...>) are not facts: nothing is asked about them
    taken.extend((m.start(), m.end()) for m in _PLACEHOLDER.finditer(sentence))
    for m in _DATE.finditer(sentence):
        add("date", m.start(), m.end())
    for m in _CLOCK.finditer(sentence):
        add("time", m.start(), m.end())
    for m in _YEAR.finditer(sentence):
        add("year", m.start(), m.end())
    for m in _NUMBER.finditer(sentence):
        a, b = m.start(), m.end()
        if not any(ch.isdigit() for ch in m.group()):
            continue
        rest = sentence[b:]
        unit = re.match(r"\s*([A-Za-z%]+)", rest)
        if unit and unit.group(1).lower() in UNITS:
            b += unit.end()
            add("quantity", a, b)
        else:
            add("number", a, b)
    first_word_end = len(sentence.split()[0]) if sentence.split() else 0
    for m in _CAPWORD.finditer(sentence):
        a, b = m.start(), m.end()
        words = m.group().split()
        # a sentence-initial capital is a name only with two or more words
        if a < first_word_end and (len(words) < 2 or words[0].lower() in STOPWORDS):
            continue
        if len(words) == 1 and (words[0].lower() in STOPWORDS or len(words[0]) < 3):
            continue
        add("name", a, b)
    order = {"date": 0, "time": 1, "year": 2, "quantity": 3, "number": 4, "name": 5}
    return sorted(spans, key=lambda s: (order[s.kind], s.start))


def _match_case(src: str, repl: str) -> str:
    if src.isupper() and len(src) > 1:
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


# ---------------------------------------------------------------------------------------------------
# paraphrase: conservative synonyms, phrase rewrites and clause restructurings
#
# Every rule only moves or rewords; none adds, drops or changes a number, date or name. Capitalised
# words are never reworded except a sentence's first word when it is a connective or plainly a common
# word, and all-capitals words (acronyms) never. Lines that are not prose (Markdown headings and
# tables, fenced or indented code, HTML, images) are copied through unchanged.

# Lexicon: "<kind> <source forms> = <replacement forms>". Several lines with one source add
# alternatives; the variant picks among them. "-" skips a form; "_" joins a multi-word replacement.
#   v   verb (base 3sg past participle -ing); the -ed/-ing forms are left alone after a determiner
#       ("the indicated pressure"), where they act as adjectives the replacement may not fit
#   va  verb whose -ed/-ing forms also serve as adjectives ("the modified valve", "the altered valve")
#   vn  verb whose base and 3sg forms are also nouns: the base only after "to", a modal or a pronoun,
#       the 3sg never, the -ed/-ing forms as for v
#   n   noun (singular plural)
#   nd  noun that is also a verb or has other senses: only right after a determiner
#   w   an invariable word (adjective, adverb, connective)
_LEXICON = """
v  indicate indicates indicated indicated indicating = show shows showed shown showing
v  show shows showed shown - = indicate indicates indicated indicated -
v  demonstrate demonstrates demonstrated demonstrated demonstrating = show shows showed shown showing
v  reveal reveals revealed revealed revealing = show shows showed shown showing
v  depict depicts depicted depicted depicting = show shows showed shown showing
v  exhibit exhibits exhibited exhibited exhibiting = display displays displayed displayed displaying
v  exhibit exhibits exhibited exhibited exhibiting = show shows showed shown showing
vn display displays displayed displayed displaying = show shows showed shown showing
v  perform performs performed performed performing = carry_out carries_out carried_out carried_out carrying_out
v  perform performs performed performed performing = execute executes executed executed executing
v  execute executes executed executed executing = perform performs performed performed performing
v  accomplish accomplishes accomplished accomplished accomplishing = achieve achieves achieved achieved achieving
v  accomplish accomplishes accomplished accomplished accomplishing = complete completes completed completed completing
v  achieve achieves achieved achieved achieving = attain attains attained attained attaining
v  attain attains attained attained attaining = reach reaches reached reached reaching
v  observe observes observed observed observing = notice notices noticed noticed noticing
v  observe observes observed observed observing = see sees saw seen seeing
v  - - noted noted noting = - - observed observed observing
v  discover discovers discovered discovered discovering = find finds found found finding
v  find finds found found finding = discover discovers discovered discovered discovering
v  determine determines determined determined determining = establish establishes established established establishing
v  determine determines determined determined determining = ascertain ascertains ascertained ascertained ascertaining
v  - - founded founded founding = - - established established establishing
v  obtain obtains obtained obtained obtaining = acquire acquires acquired acquired acquiring
v  acquire acquires acquired acquired acquiring = obtain obtains obtained obtained obtaining
va require requires required required requiring = need needs needed needed needing
vn need needs needed needed needing = require requires required required requiring
v  provide provides provided provided providing = supply supplies supplied supplied supplying
v  provide provides provided provided providing = give gives gave given giving
vn supply supplies supplied supplied supplying = provide provides provided provided providing
v  maintain maintains maintained maintained maintaining = keep keeps kept kept keeping
v  retain retains retained retained retaining = keep keeps kept kept keeping
va reduce reduces reduced reduced reducing = lower lowers lowered lowered lowering
va reduce reduces reduced reduced reducing = decrease decreases decreased decreased decreasing
v  occur occurs occurred occurred occurring = happen happens happened happened happening
v  occur occurs occurred occurred occurring = take_place takes_place took_place taken_place taking_place
v  happen happens happened happened happening = occur occurs occurred occurred occurring
v  assist assists assisted assisted assisting = help helps helped helped helping
v  verify verifies verified verified verifying = confirm confirms confirmed confirmed confirming
v  confirm confirms confirmed confirmed confirming = verify verifies verified verified verifying
va modify modifies modified modified modifying = alter alters altered altered altering
va modify modifies modified modified modifying = change changes changed changed changing
va alter alters altered altered altering = modify modifies modified modified modifying
v  allow allows allowed allowed allowing = permit permits permitted permitted permitting
vn permit permits permitted permitted permitting = allow allows allowed allowed allowing
v  prevent prevents prevented prevented preventing = stop stops stopped stopped stopping
va install installs installed installed installing = fit fits fitted fitted fitting
va install installs installed installed installing = mount mounts mounted mounted mounting
va - - located located - = - - situated situated -
v  examine examines examined examined examining = inspect inspects inspected inspected inspecting
v  examine examines examined examined examining = study studies studied studied studying
v  inspect inspects inspected inspected inspecting = examine examines examined examined examining
v  investigate investigates investigated investigated investigating = examine examines examined examined examining
v  investigate investigates investigated investigated investigating = study studies studied studied studying
va predict predicts predicted predicted predicting = forecast forecasts forecast forecast forecasting
va expect expects expected expected expecting = anticipate anticipates anticipated anticipated anticipating
va anticipate anticipates anticipated anticipated anticipating = expect expects expected expected expecting
va calculate calculates calculated calculated calculating = compute computes computed computed computing
va compute computes computed computed computing = calculate calculates calculated calculated calculating
v  contain contains contained contained containing = include includes included included including
v  - produces produced produced producing = - generates generated generated generating
va generate generates generated generated generating = produce produces produced produced producing
v  - causes caused caused causing = - produces produced produced producing
v  - causes caused caused causing = - brings_about brought_about brought_about bringing_about
v  utilize utilizes utilized utilized utilizing = use uses used used using
vn use uses used used using = employ employs employed employed employing
vn use uses used used using = utilize utilizes utilized utilized utilizing
v  employ employs employed employed employing = use uses used used using
v  consume consumes consumed consumed consuming = use uses used used using
v  select selects selected selected selecting = choose chooses chose chosen choosing
v  choose chooses chose chosen choosing = select selects selected selected selecting
vn purchase purchases purchased purchased purchasing = buy buys bought bought buying
v  buy buys bought bought buying = purchase purchases purchased purchased purchasing
v  ensure ensures ensured ensured ensuring = make_sure makes_sure made_sure made_sure making_sure
v  commence commences commenced commenced commencing = begin begins began begun beginning
v  begin begins began begun - = start starts started started -
va initiate initiates initiated initiated initiating = start starts started started starting
va initiate initiates initiated initiated initiating = begin begins began begun beginning
va terminate terminates terminated terminated terminating = end ends ended ended ending
v  cease ceases ceased ceased ceasing = stop stops stopped stopped stopping
v  - - stopped stopped - = - - halted halted -
va - completes completed completed completing = - finishes finished finished finishing
va - finishes finished finished - = - completes completed completed -
v  attempt attempts attempted attempted attempting = try tries tried tried trying
v  try tries tried tried trying = attempt attempts attempted attempted attempting
v  seem seems seemed seemed seeming = appear appears appeared appeared appearing
v  appear appears appeared appeared - = seem seems seemed seemed -
v  discuss discusses discussed discussed discussing = cover covers covered covered covering
v  discuss discusses discussed discussed discussing = examine examines examined examined examining
v  describe describes described described describing = outline outlines outlined outlined outlining
v  suggest suggests suggested suggested suggesting = indicate indicates indicated indicated indicating
v  recommend recommends recommended recommended recommending = advise advises advised advised advising
v  propose proposes proposed proposed proposing = suggest suggests suggested suggested suggesting
va improve improves improved improved improving = enhance enhances enhanced enhanced enhancing
va enhance enhances enhanced enhanced enhancing = improve improves improved improved improving
va eliminate eliminates eliminated eliminated eliminating = remove removes removed removed removing
v  exceed exceeds exceeded exceeded exceeding = surpass surpasses surpassed surpassed surpassing
v  transmit transmits transmitted transmitted transmitting = send sends sent sent sending
vn monitor monitors monitored monitored monitoring = watch watches watched watched watching
va assess assesses assessed assessed assessing = evaluate evaluates evaluated evaluated evaluating
va evaluate evaluates evaluated evaluated evaluating = assess assesses assessed assessed assessing
v  identify identifies identified identified identifying = recognize recognizes recognized recognized recognizing
v  activate activates activated activated activating = switch_on switches_on switched_on switched_on switching_on
v  deactivate deactivates deactivated deactivated deactivating = switch_off switches_off switched_off switched_off switching_off
v  conclude concludes concluded concluded concluding = infer infers inferred inferred inferring
v  inform informs informed informed informing = notify notifies notified notified notifying
v  notify notifies notified notified notifying = inform informs informed informed informing
v  - - presented presented presenting = - - showed shown showing
vn record records recorded recorded recording = log logs logged logged logging
vn transfer transfers transferred transferred transferring = move moves moved moved moving
v  move - moved moved moving = relocate - relocated relocated relocating
v  lend lends lent lent lending = loan loans loaned loaned loaning
vn harvest harvests harvested harvested harvesting = gather gathers gathered gathered gathering
v  - - experienced experienced - = - - encountered encountered -
v  encounter encounters encountered encountered encountering = experience experiences experienced experienced experiencing
vn plan plans planned planned planning = intend intends intended intended intending
va intend intends intended intended intending = plan plans planned planned planning
v  - - reported reported - = - - stated stated -
vn place places placed placed placing = put puts put put putting
vn turn turns turned turned turning = switch switches switched switched switching
vn switch switches switched switched switching = turn turns turned turned turning
v  - - conducted conducted conducting = - - performed performed performing
v  - - operated operated - = - - functioned functioned -
v  - - considered considered - = - - deemed deemed -
v  believe believes believed believed believing = think thinks thought thought thinking
v  attribute - attributed attributed attributing = ascribe - ascribed ascribed ascribing
vn sense senses sensed sensed sensing = detect detects detected detected detecting
v  illuminate illuminates illuminated illuminated illuminating = light_up lights_up lit_up lit_up lighting_up
va prescribe prescribes prescribed prescribed prescribing = specify specifies specified specified specifying
v  analyze analyzes analyzed analyzed analyzing = examine examines examined examined examining
v  - - saw seen - = - - observed observed -
v  stow stows stowed stowed stowing = store stores stored stored storing
v  store - stored stored storing = keep - kept kept keeping
va secure secures secured secured securing = fasten fastens fastened fastened fastening
v  attach attaches attached attached attaching = fasten fastens fastened fastened fastening
v  depart departs departed departed departing = leave leaves left left leaving
v  proceed proceeds proceeded proceeded proceeding = continue continues continued continued continuing
v  disappear disappears disappeared disappeared disappearing = vanish vanishes vanished vanished vanishing
va rupture ruptures ruptured ruptured rupturing = burst bursts burst burst bursting
v  preclude precludes precluded precluded precluding = rule_out rules_out ruled_out ruled_out ruling_out
v  conserve conserves conserved conserved conserving = save saves saved saved saving
v  affect affects - - affecting = influence influences - - influencing
va delete deletes deleted deleted deleting = erase erases erased erased erasing
n  incident incidents = event events
n  anomaly anomalies = irregularity irregularities
n  personnel - = staff -
n  ship ships = vessel vessels
n  hardware - = equipment -
nd use - = usage -
nd remainder - = rest -
nd onset - = start -
nd completion - = end -
nd possibility possibilities = chance chances
w  manually = by_hand
w  erratically = irregularly
w  intentionally = deliberately
w  deliberately = intentionally
w  inadvertently = accidentally
w  accidentally = inadvertently
w  originally = initially
w  possibly = perhaps
w  perhaps = possibly
w  relatively = comparatively
w  comparatively = relatively
w  reasonably = fairly
w  fairly = reasonably
w  briefly = momentarily
w  momentarily = briefly
w  momentary = brief
w  brief = short
w  shortly = soon
w  soon = shortly
w  again = once_more
w  unexpected = unforeseen
w  adverse = unfavorable
w  unfavorable = adverse
w  typical = usual
w  immediate = prompt
w  premature = early
w  simultaneous = concurrent
w  complicated = complex
w  around = approximately
v  offload offloads offloaded offloaded offloading = unload unloads unloaded unloaded unloading
v  retrieve retrieves retrieved retrieved retrieving = recover recovers recovered recovered recovering
v  egress egresses egressed egressed egressing = exit exits exited exited exiting
vn comment comments commented commented commenting = remark remarks remarked remarked remarking
va puncture punctures punctured punctured puncturing = pierce pierces pierced pierced piercing
v  - - exercised exercised - = - - used used -
v  remove removes removed removed removing = withdraw withdraws withdrew withdrawn withdrawing
n  retrieval - = recovery -
nd status - = state -
nd interior - = inside -
nd exterior - = outside -
n  fluctuation fluctuations = variation variations
w  aboard = on_board
w  during = in_the_course_of | during
w  several = a_number_of | several
v  deduce deduces deduced deduced deducing = infer infers inferred inferred inferring
v  recognize recognizes recognized recognized recognizing = identify identifies identified identified identifying
v  actuate actuates actuated actuated actuating = activate activates activated activated activating
v  expedite expedites expedited expedited expediting = speed_up speeds_up sped_up sped_up speeding_up
v  reproduce reproduces reproduced reproduced reproducing = replicate replicates replicated replicated replicating
v  disclose discloses disclosed disclosed disclosing = reveal reveals revealed revealed revealing
va gather gathers gathered gathered gathering = collect collects collected collected collecting
v  derive derives derived derived deriving = obtain obtains obtained obtained obtaining
v  protrude protrudes protruded protruded protruding = stick_out sticks_out stuck_out stuck_out sticking_out
v  comprise comprises comprised comprised comprising = include includes included included including
nd intention intentions = aim aims
n  restriction restrictions = limitation limitations
n  limitation limitations = restriction restrictions
w  mild = gentle
w  brilliant = bright
w  severe = intense
w  crude = rough
w  successive = consecutive
w  consecutive = successive
w  optimum = optimal
w  allowable = permissible
w  permissible = allowable
w  occasionally = sometimes
w  sometimes = occasionally
v  - - reached reached - = - - attained attained -
v  - - dropped dropped - = - - fell fallen -
v  - - increased increased - = - - rose risen -
v  - - decreased decreased - = - - fell fallen -
v  - - rose - - = - - increased - -
v  - - fell - - = - - dropped - -
v  - - returned returned - = - - came_back come_back -
v  - - established established - = - - set_up set_up -
w  after = following
w  before = prior_to
w  near = close_to
w  over = more_than
w  complete = full
w  separate = distinct
w  specific = particular
w  particular = specific
w  prime = principal
w  excellent = outstanding
va require requires required required requiring = call_for calls_for called_for called_for calling_for
v  maintain maintains maintained maintained maintaining = preserve preserves preserved preserved preserving
v  - - conducted conducted conducting = - - carried_out carried_out carrying_out
va - completes completed completed completing = - concludes concluded concluded concluding
v  describe describes described described describing = detail details detailed detailed detailing
va - - located located - = - - positioned positioned -
n  incident incidents = occurrence occurrences
n  problem problems = difficulty difficulties
n  anomaly anomalies = abnormality abnormalities
w  satisfactory = adequate
w  large = sizable
w  difficult = challenging
w  probably = most_likely
w  because = as
n  problem problems = issue issues
n  failure failures = malfunction malfunctions
nd malfunction malfunctions = failure failures
n  method methods = technique techniques
n  method methods = approach approaches
n  technique techniques = method methods
nd purpose purposes = aim aims
nd purpose purposes = goal goals
n  objective objectives = goal goals
nd goal goals = aim aims
nd outcome outcomes = result results
nd result results = outcome outcomes
n  analysis analyses = study studies
n  analysis analyses = evaluation evaluations
n  evaluation evaluations = assessment assessments
n  assessment assessments = evaluation evaluations
n  investigation investigations = inquiry inquiries
n  investigation investigations = study studies
n  examination examinations = inspection inspections
n  inspection inspections = examination examinations
nd amount amounts = quantity quantities
nd quantity quantities = amount amounts
nd portion portions = part parts
n  capability capabilities = ability abilities
n  ability abilities = capability capabilities
nd effect effects = influence influences
nd evidence - = indication -
nd indication indications = sign signs
n  equipment - = hardware -
n  component components = part parts
n  component components = element elements
n  crewman crewmen = crew_member crew_members
nd beginning - = start -
nd start - = beginning -
n  task tasks = job jobs
n  opportunity opportunities = chance chances
n  assistance - = help -
nd help - = assistance -
nd share - = portion -
n  autumn - = fall -
n  difficulty - = trouble -
nd instance instances = case cases
nd case cases = instance instances
n  manner - = way -
nd period periods = interval intervals
nd duration - = length -
nd area areas = region regions
n  region regions = area areas
n  location locations = position positions
n  vicinity - = neighborhood -
n  accuracy - = precision -
n  requirement requirements = need needs
nd photograph photographs = photo photos
n  modification modifications = change changes
n  modification modifications = alteration alterations
n  alteration alterations = modification modifications
nd increase increases = rise rises
nd decrease decreases = drop drops
nd decrease decreases = reduction reductions
w  approximately = roughly | about
w  roughly = approximately
w  nearly = almost
w  almost = nearly
w  additional = extra | further
w  extra = additional
w  adequate = sufficient
w  sufficient = adequate
w  sufficiently = adequately
w  adequately = sufficiently
w  significant = considerable | substantial
w  significantly = considerably | substantially
w  substantial = considerable
w  substantially = considerably
w  considerable = substantial
w  considerably = substantially
w  large = big
w  big = large
w  slight = minor
w  slightly = somewhat
w  minor = slight
w  rapid = fast | quick
w  rapidly = quickly
w  quickly = rapidly
w  quick = rapid
w  slowly = gradually
w  gradually = slowly
w  gradual = slow
w  sudden = abrupt
w  suddenly = abruptly
w  abrupt = sudden
w  abruptly = suddenly
w  usually = normally | typically
w  typically = usually
w  initial = starting | first
w  initially = at_first | originally
w  subsequent = later
w  subsequently = later | afterwards
w  previous = earlier | prior
w  previously = earlier
w  prior = previous
w  final = last
w  primary = main | principal
w  primarily = mainly | chiefly
w  mainly = chiefly | largely
w  chiefly = mainly
w  largely = mostly
w  mostly = largely
w  principal = main
w  necessary = needed | required
w  essential = vital
w  vital = essential
w  probable = likely
w  probably = likely
w  apparent = evident
w  apparently = evidently | seemingly
w  evident = apparent
w  evidently = apparently
w  obvious = clear
w  obviously = clearly
w  clearly = plainly
w  entire = whole
w  whole = entire
w  entirely = completely | wholly
w  completely = fully | entirely
w  fully = completely
w  wholly = entirely
w  totally = completely
w  essentially = practically | virtually
w  virtually = practically
w  practically = virtually
w  similar = comparable
w  similarly = likewise
w  likewise = similarly
w  important = significant
w  difficult = hard
w  easy = simple
w  easily = readily
w  readily = easily
w  simple = straightforward
w  correctly = properly
w  properly = correctly
w  proper = correct | appropriate
w  appropriate = suitable
w  suitable = appropriate
w  accurate = precise
w  accurately = precisely
w  precise = exact
w  exact = precise
w  precisely = exactly
w  exactly = precisely
w  satisfactory = acceptable
w  satisfactorily = adequately
w  acceptable = satisfactory
w  unusual = atypical
w  abnormal = anomalous
w  actual = real
w  actually = in_fact
w  constant = steady
w  constantly = continually
w  continuously = constantly
w  continuous = uninterrupted
w  frequently = often
w  often = frequently
w  generally = in_general
w  also = additionally
w  additionally = also
w  however = nevertheless | nonetheless
w  nevertheless = nonetheless
w  nonetheless = nevertheless
w  therefore = consequently | thus | hence
w  thus = therefore | hence
w  hence = therefore | thus
w  consequently = as_a_result | therefore
w  moreover = furthermore | in_addition
w  furthermore = moreover
w  although = though | even_though
w  though = although
w  whereas = while
w  because = since
w  upon = on
w  via = through
w  regarding = concerning | about
w  concerning = regarding
w  despite = in_spite_of
w  numerous = many
w  many = numerous
w  various = several
w  extremely = exceedingly
w  particularly = especially
w  especially = particularly
w  eventually = ultimately
w  ultimately = eventually
w  currently = at_present | now
w  recently = lately
w  unfortunately = regrettably
w  fortunately = luckily
w  confidently = with_confidence
w  routinely = regularly
w  periodically = at_intervals
w  temporarily = briefly
w  instantaneous = immediate
w  rarely = seldom
w  seldom = rarely
w  incorrect = wrong
w  incorrectly = wrongly
w  inadequate = insufficient
w  insufficient = inadequate
w  partially = partly
w  partly = partially
w  somewhat = slightly
w  solely = only
w  sizable = considerable
w  thereafter = afterwards
w  afterwards = after_that
w  afterward = after_that
w  meanwhile = in_the_meantime
w  simultaneously = at_the_same_time
w  crucial = critical
w  immediately = at_once
w  following = after
w  about = approximately | roughly
"""

# Multi-word rewrites, tried before single words (longest first); ``None`` as the condition means
# always, otherwise a test on (previous word, next word).
_PHRASES: list[tuple[str, tuple[str, ...], Callable[[str, str], bool] | None]] = []


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DETERMINERS = _words(
    "the a an this that these those its their his her our your each every no any some such another"
)
_AUXILIARIES = frozenset(
    ["was", "were", "is", "are", "be", "been", "being", "has", "have", "had", "having", "am", "'s"]
)
_PASSIVE_AUX = frozenset(["was", "were", "is", "are", "be", "been", "being"])
_MODALS = frozenset(
    ["can", "could", "will", "would", "may", "might", "must", "should", "shall", "do", "does", "did", "not"]
)
_SUBJECT_PRONOUNS = frozenset(["we", "they", "i", "you", "he", "she", "it"])
_PARTICLES = frozenset(["up", "out", "off", "down", "over", "away", "back"])
_ING_OPENERS = frozenset(["and", "or", ",", "while", "when", "after", "before", "by", "without", "then", "("])
_PREPOSITIONS = _words(
    "in on at to of for with from by into onto near inside outside within between above below under "
    "behind beside along across through during after before"
)
_IRREGULAR_PAST = _words(
    "began became broke brought came did drew drove fell felt flew found gave got grew held kept knew "
    "left lost made meant met paid put ran read rose said sat saw sent set shot slept spent spoke "
    "stood took told thought threw understood went won wore wrote"
)
_COMMON_VERBS = _words(
    "return returns move moves grow grows lend lends borrow borrows go goes come comes take takes "
    "make makes give gives keep keeps hold holds run runs send sends open opens close closes start "
    "starts stop stops continue continues remain remains become becomes fail fails rise rises fall "
    "falls leave leaves reach reaches store stores write writes fill fills bring brings"
)
_TIME_NOUNS = _words(
    "time times moment moments point points period periods day days hour hours minute minutes second "
    "seconds week weeks month months year years instant case cases situation occasion occasions event "
    "events date dates stage stages phase phases"
)
# words after which a trailing "when/after/before/..." does not start a clause that may be fronted
_NO_FRONT_AFTER = _TIME_NOUNS | _words(
    "to of at and or but even just only right shortly soon long well immediately ever until the a an "
    "determine determined know knew known ask asked see saw check checked establish find found show "
    "showed indicate indicated decide decided learn learned note noted understand unclear sure how "
    "whether wonder wondered not"
)
_EVENT_VERBS = _words(
    "caused causes resulted results led leads allowed allows meant means made makes produced produces "
    "prevented prevents required requires indicated indicates showed shows suggested suggests "
    "confirmed confirms reduced reduces increased increases"
)
_FRONTED_EXCLUDED = frozenset(
    [
        "in addition",
        "in general",
        "in fact",
        "in contrast",
        "in summary",
        "in particular",
        "in conclusion",
        "in short",
        "in other words",
        "in turn",
        "in practice",
        "in any case",
        "on the other hand",
        "on the whole",
        "at first",
        "at last",
        "at least",
        "at most",
        "by contrast",
        "by comparison",
        "for example",
        "for instance",
        "at the same time",
    ]
)

_TOKEN = re.compile(r"___|[A-Za-z]+(?:[-'][A-Za-z]+)*|\d+(?:[.,:/]\d+)*%?|\S")
_NUM_WORDS = _words(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty "
    "hundred half a"
)


@dataclass(frozen=True)
class _Alt:
    text: str  # the replacement, words separated by spaces
    kind: str  # v va vn n nd w
    form: int  # verb: 0 base, 1 3sg, 2 past, 3 participle, 4 -ing; noun: 0 singular, 1 plural; w: 0
    past_pp: str | None = None  # for a source form that is both past and participle: the participle


def _parse_lexicon(spec: str) -> dict[str, list[_Alt]]:
    table: dict[str, list[_Alt]] = {}
    for line in spec.strip().splitlines():
        kind, rest = line.split(None, 1)
        src, dst = (part.split() for part in rest.split("="))
        if kind == "w":
            alts = " ".join(dst).split("|")
            for alt in alts:
                table.setdefault(src[0], []).append(_Alt(alt.strip().replace("_", " "), kind, 0))
            continue
        for i, (s, d) in enumerate(zip(src, dst, strict=True)):
            if s == "-" or d == "-":
                continue
            pp = None
            if kind.startswith("v") and i == 3 and src[2] == s:
                continue  # one source form for past and participle: the past entry carries both
            if kind.startswith("v") and i == 2 and src[3] == s and dst[3] != d:
                pp = dst[3].replace("_", " ")
            alt = _Alt(d.replace("_", " "), kind, i, pp)
            if alt not in table.setdefault(s, []):
                table[s].append(alt)
    return table


LEXICON: dict[str, list[_Alt]] = _parse_lexicon(_LEXICON)
# word -> its first replacement (the table at a glance)
SYNONYMS: dict[str, str] = {word: alts[0].text for word, alts in LEXICON.items()}
_VERB_FORMS = frozenset(w for w, alts in LEXICON.items() if any(a.kind.startswith("v") for a in alts))


def _verbish(word: str) -> bool:
    w = word.lower().strip(".,;:")
    return (
        w in _AUXILIARIES
        or w in _MODALS
        or w in _IRREGULAR_PAST
        or w in _COMMON_VERBS
        or w in _VERB_FORMS
        or (len(w) > 4 and w.endswith("ed"))
    )


def _is_number_token(tok: str) -> bool:
    return tok == "___" or tok[:1].isdigit() or tok[:1] in "$€£" or tok.lower() in _NUM_WORDS


def _phrase(pattern: str, *alts: str, when: Callable[[str, str], bool] | None = None) -> None:
    _PHRASES.append((pattern, alts, when))


_phrase("in order to", "to")
_phrase("prior to", "before")
_phrase("subsequent to", "after")
_phrase("as a result of", "because of", "owing to")
_phrase("as a result", "consequently", "therefore", when=lambda p, n: n == ",")
_phrase("because of", "owing to", "on account of")
_phrase("due to", "caused by", when=lambda p, n: p in _AUXILIARIES)
_phrase("due to", "because of", "owing to", when=lambda p, n: p not in _AUXILIARIES)
_phrase("in addition to", "besides", "as well as")
_phrase("in addition", "additionally", "moreover", when=lambda p, n: n == ",")
_phrase("for example", "for instance")
_phrase("for instance", "for example")
_phrase("such as", "like", "including")
_phrase("a large number of", "many")
_phrase("a number of", "several")
_phrase("at the same time", "simultaneously")
_phrase("in spite of", "despite")
_phrase("was able to", "could")
_phrase("were able to", "could")
_phrase("is able to", "can")
_phrase("are able to", "can")
_phrase("took place", "occurred", "happened")
_phrase("take place", "occur")
_phrase("takes place", "occurs")
_phrase("taking place", "occurring")
_phrase("carried out", "performed", "conducted")
_phrase("carry out", "perform", "conduct")
_phrase("carries out", "performs")
_phrase("carrying out", "performing")
_phrase("in the event of", "in case of")
_phrase("with respect to", "regarding", "with regard to")
_phrase("with regard to", "regarding")
_phrase("in the vicinity of", "near", "close to")
_phrase("in excess of", "more than")
_phrase("more than", "over", when=lambda p, n: _is_number_token(n) and n != "a")
_phrase("less than", "under", when=lambda p, n: _is_number_token(n) and n != "a")
_phrase("fewer than", "under", when=lambda p, n: _is_number_token(n) and n != "a")
_phrase("at this time", "at this point")
_phrase("at that time", "at that point", "then")
_phrase("in conjunction with", "together with", "along with")
_phrase("by means of", "using")
_phrase("at present", "currently")
_phrase("in general", "generally")
_phrase("once again", "again")
_phrase("a great deal of", "much")
_phrase("the majority of", "most of")
_phrase("in particular", "particularly")
_phrase("on the order of", "about", "roughly")
_phrase("in the course of", "during")
_phrase("for the purpose of", "for")
_phrase("with the exception of", "except for")
_phrase("resulted in", "led to")
_phrase("results in", "leads to", when=lambda p, n: p not in _DETERMINERS)
_phrase("resulting in", "leading to")
_phrase("result in", "lead to", when=lambda p, n: p not in _DETERMINERS)
_phrase("resulted from", "stemmed from", "arose from")
_phrase("resulting from", "stemming from")
_phrase("based on", "on the basis of", when=lambda p, n: p not in _AUXILIARIES)
_phrase("on the basis of", "based on")
_phrase("as well as", "along with", when=lambda p, n: n not in _PREPOSITIONS and not _verbish(n))
_phrase("in an attempt to", "in an effort to")
_phrase(
    "as to", "about", when=lambda p, n: p in ("concern", "doubt", "question", "uncertainty", "information")
)
_phrase("is indicative of", "indicates")
_phrase("are indicative of", "indicate")
_phrase("was indicative of", "indicated")
_phrase("were indicative of", "indicated")
_phrase("even though", "although")
_phrase("at times", "sometimes", "on occasion")
_phrase("coincident with", "simultaneous with")
_phrase("in comparison to", "compared with", "compared to")
_phrase("in comparison with", "compared with")
_phrase("in preparation for", "in readiness for", "to prepare for")
_phrase("at which time", "when", "at which point")
_phrase("consisted of", "comprised")
_phrase("consists of", "comprises")
_phrase("consisting of", "comprising")
_phrase("associated with", "connected with", "linked with")
_phrase("related to", "linked to", "connected with")
_phrase("ruled out", "excluded")
_phrase("was unable to", "could not")
_phrase("were unable to", "could not")
_phrase("at all times", "always")
_phrase("all of the", "all the")
_phrase("the rest of", "the remainder of")
_PHRASE_TOKENS = sorted(((p.split(), alts, when) for p, alts, when in _PHRASES), key=lambda x: -len(x[0]))


def _clause_free(rest: list[str]) -> bool:
    """No verb before the next punctuation: a noun phrase follows, not a clause."""
    for t in rest[:8]:
        if not t[:1].isalnum():
            return True
        if _verbish(t) or t.endswith("ing"):
            return False
    return True


def _guard(word: str, alt: _Alt, prev: str, prev2: str, nxt: str, rest: list[str] = ()) -> bool:
    """May ``word`` become ``alt`` between ``prev`` and ``nxt`` (lowercased tokens)?"""
    w = word
    after_det = prev in _DETERMINERS
    if alt.kind == "nd" and not after_det:
        return False
    if alt.kind in ("v", "vn") and alt.form in (2, 3, 4) and after_det:
        return False
    if alt.kind == "vn" and alt.form == 1:
        return False
    if (
        alt.kind == "vn"
        and alt.form == 0
        and not (prev == "to" or prev in _MODALS or prev in _SUBJECT_PRONOUNS)
    ):
        return False
    if alt.kind.startswith("v") and alt.form == 0 and after_det:
        return False
    if alt.kind.startswith("v") and nxt in _PARTICLES and not w.startswith(("turn", "switch")):
        return False  # a phrasal verb ("used up", "carried over")
    if (
        alt.kind.startswith("v")
        and alt.form == 4
        and not (prev in _AUXILIARIES or prev in _PREPOSITIONS or prev in _ING_OPENERS or not prev)
    ):
        return False  # "time consuming operations": an adjective or a noun
    if alt.kind == "w" and " " in alt.text and w.endswith("ly") and _verbish(nxt):
        return False  # "was by hand increased": a multi-word adverb goes after the verb, not before
    if w == "presented":  # "is presented in section 3", not "would have presented a problem"
        return prev in _PASSIVE_AUX or (prev.endswith("ly") and prev2 in _PASSIVE_AUX) or nxt in _PREPOSITIONS
    if w in ("proceed", "proceeds", "proceeded", "proceeding"):
        return nxt in ("with", ".", ",") or nxt.endswith("ly")
    w = word
    if alt.kind == "v" and alt.form in (2, 3) and prev in _PREPOSITIONS:
        return False  # "of affected pages": an adjective, not a verb
    if w in ("about", "around"):
        return _is_number_token(nxt) and nxt != "a"
    if w in ("reported",):
        return nxt == "that"
    if w in ("turn", "turns", "turned", "turning", "switch", "switches", "switched", "switching"):
        return nxt in ("on", "off")
    if w == "operated":
        return prev not in _AUXILIARIES and (
            nxt in (".", ",", "as", "within", "without", "during", "for") or nxt.endswith("ly")
        )
    if w == "considered":
        return prev in _AUXILIARIES and nxt not in ("to", "that", "by")
    if w == "conducted":
        return nxt not in ("heat", "current", "electricity", "through", "away", "into", "to")
    if w == "soon":
        return prev != "as"
    if w in ("stored", "store", "storing"):
        return nxt in _PREPOSITIONS and nxt != "to"
    if w in ("because",):
        return nxt != "of"
    if w in ("many",):
        return nxt != "of" and prev not in ("how", "so", "too", "as")
    if w in ("though",):
        return prev not in ("as", "even") and nxt[:1].isalpha()
    if w in ("subsequent", "prior"):
        return not nxt.startswith("to")
    if w in ("following",):
        return not after_det and prev not in _AUXILIARIES | {"by", "and", "or", "of"} and nxt[:1].isalnum()
    if w in ("immediately",):
        return nxt not in ("after", "before", "following", "prior")
    if w in ("required", "requires", "require", "requiring") and nxt == "that":
        return False
    if alt.text.startswith("call") and (nxt == "to" or prev in _AUXILIARIES and nxt in _PREPOSITIONS):
        return False  # "required to", "was required for": "called for" would not read
    if (
        alt.kind in ("n", "nd")
        and nxt[:1].isalpha()
        and nxt[:1].islower()
        and not (
            nxt in STOPWORDS
            or nxt in _PREPOSITIONS
            or nxt in _DETERMINERS
            or _verbish(nxt)
            or nxt.endswith("ly")
        )
    ):
        return False  # "the quantity indication": a modifier in a compound, keep it
    if w in ("after", "before"):
        # a preposition before a noun phrase, not a conjunction before a clause
        return (
            nxt
            in _DETERMINERS
            | {"launch", "entry", "landing", "undocking", "separation", "recovery", "lift-off"}
            and prev
            not in ("shortly", "soon", "immediately", "just", "right", "long", "well", "even", "and", "or")
            and prev[:1].isalpha()
            and _clause_free(rest)
        )
    if w == "near":
        return not after_det and nxt in _DETERMINERS
    if w == "over":
        return _is_number_token(nxt) and nxt != "a"
    if w in ("reached",):
        return _is_number_token(nxt) or nxt in ("about", "approximately", "roughly", "nearly", "almost")
    if w in ("dropped", "increased", "decreased", "returned", "rose", "fell"):
        if prev.endswith("ly") and prev2 in _AUXILIARIES:
            return False  # "was manually increased": passive
        return (
            prev not in _AUXILIARIES
            and (
                nxt in ("to", "from", "by", "below", "above", ".", ",", ";", "and", "during", "after", "at")
                or nxt.endswith("ly")
            )
            and not after_det
        )
    if w in ("expected", "expect", "expects"):
        # "as expected", "the expected value", "expected a rise": a forecast; "seed is expected rather than
        # encouraged" or "members are expected to": an obligation, which "anticipated" would not keep
        return prev in ("as", "than") or after_det or nxt in _DETERMINERS or _is_number_token(nxt)
    if w == "established":
        return prev in _AUXILIARIES and nxt in (
            ".",
            ",",
            ";",
            "and",
            "at",
            "by",
            "in",
            "for",
            "during",
            "with",
        )
    if w == "complete":
        return after_det and nxt[:1].isalpha() and nxt not in STOPWORDS
    if w == "separate":
        return prev not in ("to",) and prev not in _MODALS and nxt[:1].isalpha() and nxt not in STOPWORDS
    if w == "difficult" and prev in ("less", "more", "most", "least"):
        return False
    if w == "several":
        return nxt != "of"
    if alt.kind == "vn" and alt.form == 4 and not (prev in _AUXILIARIES or prev in _PREPOSITIONS):
        return False  # "caution and warning sensing": a noun
    if w in ("large", "big"):
        return nxt != "enough"
    if w.startswith(("provid", "allow")) and nxt in ("that", "for"):
        return False  # "provided that", "allowed for"
    if w in ("need", "needs") and nxt in ("not", "to"):
        return False
    if w.startswith("appear"):
        return nxt in ("to", "that")
    if w.startswith(("ensur", "suggest", "recommend", "conclud")):
        return nxt == "that"
    if w.startswith("describ"):
        return nxt != "as"
    if w in ("moved", "move", "moving"):
        return nxt == "to"
    if w == "located":
        return nxt in _PREPOSITIONS
    if w in ("used", "use", "using") and nxt == "to" and prev not in _AUXILIARIES:
        return False
    # "the system performed well": performing as functioning has no carry-out reading
    return not (
        w in ("performed", "performs", "perform", "performing")
        and prev not in _AUXILIARIES
        and (
            nxt in (".", ",", ";", "as", "well", "normally", "nominally", "without", "within")
            or nxt.endswith("ly")
        )
    )


def _pick_form(alt: _Alt, prev: str, prev2: str, nxt: str = "") -> str:
    """Past or participle for a source form that is both ("indicated": showed / shown): the
    participle after an auxiliary ("was indicated") or where no object follows ("the errors displayed
    to the crew"), the past otherwise ("the gauge indicated 5 psi")."""
    if alt.past_pp is None:
        return alt.text
    adverb = prev.endswith("ly") or prev in ("not", "also", "then", "since")
    helper = prev2 if adverb else prev
    if helper in _AUXILIARIES:
        return alt.past_pp
    if adverb or alt.text in ("fell", "rose", "came back"):
        return alt.text  # "the pressure suddenly dropped": a finite verb
    if nxt in _PREPOSITIONS or nxt in ("by", ",", ".", ";", ":", ")"):
        return alt.past_pp  # "the errors displayed to the crew": a participle
    return alt.text


def _an(word: str) -> bool:
    w = word.lower()
    if w.startswith(("uni", "use", "usu", "eu", "one", "ut", "ur")):
        return False
    if w.startswith(("hour", "honest", "honor", "honour")):
        return True
    return w[:1] in "aeiou"


def _reword(sentence: str, choose: Callable[[int, str, int], int | None]) -> str:
    """Replace phrases and words of ``sentence`` from the lexicon in one pass (a replacement is never
    reworded again). ``choose(k, word, n_alts)`` says which alternative the k-th candidate takes, or
    None to keep it."""
    toks = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sentence)]
    low = [t[0].lower() for t in toks]
    first_word = next((i for i, t in enumerate(toks) if t[0][:1].isalpha()), -1)
    pieces: list[tuple[int, int, str]] = []  # (start, end, replacement)
    k = 0
    i = 0
    n = len(toks)
    while i < n:
        tok = toks[i][0]
        prev = low[i - 1] if i > 0 else ""
        prev2 = low[i - 2] if i > 1 else ""
        if not tok[:1].isalpha():
            i += 1
            continue
        # capitalised words are names unless they open the sentence as a plainly common word
        if tok[:1].isupper():
            if i != first_word or (tok.isupper() and len(tok) > 1):
                i += 1
                continue
            nxt0 = toks[i + 1][0] if i + 1 < n else ""
            if nxt0[:1].isupper():
                i += 1
                continue
        done = False
        for words, alts, when in _PHRASE_TOKENS:
            m = len(words)
            if low[i : i + m] != words:
                continue
            nxt = low[i + m] if i + m < n else ""
            if when is not None and not when(prev, nxt):
                continue
            pick = choose(k, " ".join(words), len(alts))
            k += 1
            if pick is not None:
                pieces.append((toks[i][1], toks[i + m - 1][2], _match_case(tok, alts[pick])))
                i += m
                done = True
            break
        if done:
            continue
        word = low[i]
        alts_all = LEXICON.get(word)
        if alts_all:
            nxt = low[i + 1] if i + 1 < n else ""
            if word in ("caused", "causes", "causing") and "to" in low[i + 1 : i + 7]:
                alts_all = []
            alts = [a for a in alts_all if _guard(word, a, prev, prev2, nxt, low[i + 1 : i + 9])]
            if alts:
                pick = choose(k, word, len(alts))
                k += 1
                if pick is not None and alts[pick].text != word:
                    repl = _pick_form(alts[pick], prev, prev2, nxt)
                    pieces.append((toks[i][1], toks[i][2], _match_case(tok, repl)))
        i += 1
    if not pieces:
        return sentence
    # rebuild, fixing "a"/"an" right before a replacement
    result = []
    last = 0
    for a, b, repl in pieces:
        head = sentence[last:a]
        art = re.search(r"\b([Aa]n?)(\s+)$", head)
        if art:
            want = "an" if _an(repl) else "a"
            fixed = _match_case(art.group(1), want) if art.group(1) not in ("A", "An") else want.capitalize()
            head = head[: art.start(1)] + fixed + art.group(2)
        result.append(head)
        result.append(repl)
        last = b
    result.append(sentence[last:])
    return "".join(result)


def substitute(sentence: str, every: int = 1, offset: int = 0) -> str:
    """Swap phrases and words from the lexicon (first alternative each); ``every``/``offset`` pick a
    subset of the candidates (the k-th is replaced when (k + offset) % every == 0)."""

    def choose(k: int, word: str, n_alts: int) -> int | None:
        return 0 if (k + offset) % max(1, every) == 0 else None

    return _reword(sentence, choose)


def reorder_clause(sentence: str) -> str:
    """'After X, Y.' -> 'Y after X.', only when the sentence plainly opens with a subordinate
    clause: a known subordinator, then a comma followed by what looks like the main clause's subject
    (a determiner or pronoun, or a capitalised name). Commas inside the clause (dates, numbers) are
    skipped over, so 'On April 13, 1970, the crew ...' splits after 1970."""
    text = sentence.strip()
    conj = next((c for c in _SUBORDINATORS if text.startswith(c + " ")), None)
    if conj is None:
        return sentence
    end = text[-1] if text[-1] in ".!?" else "."
    body = text[:-1] if text[-1] in ".!?" else text
    for c in _top_commas(body):
        if not body[c + 1 : c + 2].isspace():
            continue
        clause, main = body[len(conj) + 1 : c], body[c + 1 :].lstrip()
        if len(clause) < 3 or not main:
            continue
        first = main.split()[0]
        if first.lower() in _SUBJECT_STARTERS:
            main = main[:1].upper() + main[1:]
        elif first[:1].isupper() and first.lower() not in STOPWORDS:
            pass  # a name as subject keeps its capital
        else:
            continue
        if len(main.split()) < 2 or "," in main and main.index(",") < 3:
            return sentence
        return f"{main.rstrip(',;')} {conj.lower()} {clause}{end}"
    return sentence


# --- restructurings: each takes a sentence and returns the rewritten one, or None when it does not apply


def _split_end(sentence: str) -> tuple[str, str]:
    s = sentence.rstrip()
    if s and s[-1] in ".!?":
        return s[:-1].rstrip(), s[-1]
    return s, ""


def _top_commas(text: str) -> list[int]:
    """Positions of commas outside brackets and not inside a date or number ("April 13, 1970")."""
    out = []
    depth = 0
    last_visible = ""  # the last non-space character before the current one
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            j = i + 1
            while j < len(text) and text[j] == " ":
                j += 1
            if not (last_visible.isdigit() and text[j : j + 1].isdigit()):
                out.append(i)
        if not ch.isspace():
            last_visible = ch
    return out


def _plain(text: str) -> bool:
    """No quotes, colons, semicolons or brackets: a sentence simple enough to move parts of."""
    return not re.search(r"[\"“”:;()\[\]]", text)


def _cap(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :] if ch.islower() else text
        if ch.isdigit():
            return text
    return text


def _decap(text: str, vocab: frozenset[str]) -> str | None:
    """``text`` with its first word lowercased when that word is plainly not a name; unchanged when
    it starts with a number, an acronym or a name; None when it cannot tell."""
    m = re.match(r"([A-Za-z][\w'\-]*)(\s+(\S+))?", text)
    if m is None:
        return text if text[:1].isdigit() or text[:1] in "$€£" else None
    w = m.group(1)
    nxt = m.group(3) or ""
    if not w[:1].isupper():
        return text
    if w == "I" or (len(w) > 1 and (w.isupper() or any(c.isupper() or c.isdigit() for c in w[1:]))):
        return text
    lw = w.lower()
    if lw in _SUBJECT_STARTERS or lw in STOPWORDS or lw in _DETERMINERS:
        return lw + text[len(w) :]
    if nxt[:1].isupper():
        return text  # a name of two or more words keeps its capitals
    if lw in vocab or lw in LEXICON:
        return lw + text[len(w) :]
    return None


def _subjectish(word: str) -> bool:
    w = word.strip("\"'(")
    return bool(w) and (
        w.lower() in _SUBJECT_STARTERS or w.lower() in _DETERMINERS or w[:1].isupper() or w[:1].isdigit()
    )


_TRAIL_CONJ = re.compile(
    r"(,?) (because of|because|although|though|whereas|since|while|when|after|before|until|once|unless) "
)


def front_trailing_clause(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'Y because X.' -> 'Because X, y.' (also although, when, after, before, until, once ...)."""
    body, end = _split_end(sentence)
    if not end or not _plain(body):
        return None
    for m in _TRAIL_CONJ.finditer(body):
        comma, conj = m.group(1), m.group(2)
        main, clause = body[: m.start()], body[m.end() :]
        mw, cw = main.split(), clause.split()
        if len(mw) < 4 or len(cw) < 2 or _top_commas(main) or _top_commas(clause):
            continue
        temporal = conj in ("since", "while", "when", "after", "before", "until", "once", "unless")
        if mw[-1].lower() in (_NO_FRONT_AFTER if temporal else _NO_FRONT_AFTER - _TIME_NOUNS):
            continue
        if (temporal and mw[-1][-1:].isdigit()) or _SUBORDINATE.search(main):
            continue
        if conj in ("since", "while") and not comma:
            continue
        if conj != "because of":
            if not any(_verbish(w) for w in cw[1:]):
                continue
            if conj not in ("because", "although", "though", "whereas") and not _subjectish(cw[0]):
                continue
        if conj in ("until", "before") and re.search(r"\bnot\b|n't\b", main):
            continue
        if mw[-1].lower().endswith(("ed", "en")) and mw[-2].lower() not in _AUXILIARIES:
            continue  # "the shift observed after the soak was ...": a participle, not a main clause
        low = _decap(main, vocab)
        if low is None:
            continue
        return f"{conj[:1].upper()}{conj[1:]} {clause}, {low}{end}"
    return None


_SEASON = r"(?:early |late |mid-)?(?:spring|summer|autumn|fall|winter)"
_TIME_UNIT = r"(?:hours?|hr|minutes?|min|seconds?|sec|days?|weeks?|months?|years?)"
_TIMEY = re.compile(
    rf"^(?:(?:the )?(?:{_DATE.pattern})|{_YEAR.pattern}|{_SEASON}|(?:the )?(?:morning|afternoon|evening|night)"
    rf"|(?:{MONTHS})|(?:about |approximately |roughly )?\d+(?:\.\d+)? {_TIME_UNIT}(?: \d+ {_TIME_UNIT})?"
    rf"(?: (?:after|before) [a-z\- ]+)?|\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?: [a-z.]+)?"
    r"|(?:Mondays?|Tuesdays?|Wednesdays?|Thursdays?|Fridays?|Saturdays?|Sundays?))$"
)
_TRAIL_HEAD = re.compile(
    r" (in|on|during|by|at|since|until|prior to|following|within|after|before|throughout) "
)
_NUM_TIME_CLAUSE = re.compile(
    rf"^(?:about |approximately |roughly )?\d[\d.,]* {_TIME_UNIT}(?: (?:after|before|of|following) [^,;]+)?$"
)


def _time_phrase(head: str, rest: str) -> bool:
    words = rest.split()
    if head in ("within", "at") and _NUM_TIME_CLAUSE.match(rest) and " and " not in rest:
        return len(words) <= 12
    if not words or len(words) > 7 or "," in rest.replace(", 19", "").replace(", 20", ""):
        return False
    if any(w.lower() in ("and", "or", "which", "that", "who", "where") for w in words):
        return False
    if head in ("during", "prior to", "following", "after", "before", "throughout", "until"):
        return (
            not any(_verbish(w) or w.lower() in _PREPOSITIONS for w in words)
            and len(words) <= 5
            and words[0].lower() not in ("which", "that", "this")
        )
    if head == "by":
        return bool(_DATE.fullmatch(rest) or _YEAR.fullmatch(rest))
    return bool(_TIMEY.match(rest))


def front_trailing_phrase(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'X moved to Y in 2019.' -> 'In 2019, x moved to Y.'; where the sentence joins two verbs with
    'and', the phrase moves only to the start of the second: '... and, in 2019, moved to Y.'"""
    body, end = _split_end(sentence)
    if not end or not _plain(body):
        return None
    matches = list(_TRAIL_HEAD.finditer(body))
    for m in reversed(matches):
        head, rest = m.group(1), body[m.end() :]
        if not _time_phrase(head, rest):
            continue
        main = body[: m.start()]
        if len(main.split()) < 3 or main.split()[-1].lower() in _PREPOSITIONS | _DETERMINERS | _AUXILIARIES:
            return None  # after "is"/"was" the phrase is the predicate: "The meeting is on 8 March."
        phrase = f"{head} {rest}"
        mwords = main.split()
        if _SUBORDINATE.search(main) or " than " in main or re.search(r"\bto (?!the |a |an |\d)[a-z]", main):
            return None  # the phrase may belong to an inner clause or an infinitive
        if mwords[-1].endswith(("ed", "en")) and (len(mwords) < 2 or mwords[-2].lower() not in _AUXILIARIES):
            return None  # "... than that experienced during Apollo 8": it belongs to the participle
        ands = [a for a in re.finditer(r" and ", main)]
        commas = _top_commas(main)
        if ands or " or " in main or " but " in main:
            if not ands:
                return None
            a = ands[-1]
            after = main[a.end() :]
            nxt = after.split()[0] if after.split() else ""
            if any(c > a.start() for c in commas) or not _verbish(nxt) or nxt.lower() in _AUXILIARIES:
                return None
            before = main[: a.start()].rstrip(",")
            sep = "," if main[: a.start()].endswith(",") else ""
            return f"{before}{sep} and, {phrase}, {after}{end}"
        if commas:
            return None
        low = _decap(main, vocab)
        if low is None:
            return None
        return f"{_cap(phrase)}, {low}{end}"
    return None


_PP_TO_PAST = {
    "taken": "took",
    "given": "gave",
    "made": "made",
    "seen": "saw",
    "found": "found",
    "shown": "showed",
    "driven": "drove",
    "done": "did",
    "brought": "brought",
    "held": "held",
    "sent": "sent",
    "written": "wrote",
    "begun": "began",
    "caught": "caught",
    "built": "built",
    "kept": "kept",
    "heard": "heard",
    "felt": "felt",
    "led": "led",
    "struck": "struck",
    "chosen": "chose",
    "thrown": "threw",
    "lit": "lit",
    "read": "read",
}
_NO_ACTIVE = _words(
    "increased decreased reduced raised lowered changed offset multiplied divided exceeded separated "
    "based located characterized limited surrounded covered bounded dominated defined estimated "
    "expected given known considered believed thought required needed designed intended scheduled "
    "planned"
)
_PASSIVE = re.compile(r" (was|were) ([a-z]+) by ")
_CLAUSE_OPENER = re.compile(
    r"(?:^|\b(?:after|when|because|since|until|before|once|while|although|that|and|but) )"
    r"(?=(?:the|a|an|this|these|those|its|their|each|The|A|An|This|These|Those|Its|Their|Each) )"
)


def passive_to_active(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'..., after the tank was inspected by the crew.' -> '..., after the crew inspected the tank.'
    Only a plain subject (a determiner and a few words), a regular or listed participle and an agent
    that is a plain noun phrase or a name running to the next comma or the end."""
    body, end = _split_end(sentence)
    if not end or not _plain(body):
        return None
    for m in _PASSIVE.finditer(body):
        pp = m.group(2)
        if pp in _NO_ACTIVE or not (pp in _PP_TO_PAST or (pp.endswith("ed") and len(pp) > 4)):
            continue
        left = body[: m.start()]
        starts = [o.end() for o in _CLAUSE_OPENER.finditer(left)]
        if not starts:
            continue
        a = starts[-1]
        np = left[a:]
        npw = np.split()
        if not 2 <= len(npw) <= 6 or any(_verbish(w) or not re.fullmatch(r"[\w.\-']+", w) for w in npw[1:]):
            continue
        if any(w.lower() in ("and", "or", "of", "which", "that") for w in npw):
            continue
        stop = re.search(r"[,;]", body[m.end() :])
        agent = body[m.end() : m.end() + stop.start()] if stop else body[m.end() :]
        tail = body[m.end() + stop.start() :] if stop else ""
        aw = agent.split()
        if not 1 <= len(aw) <= 5 or any(not re.fullmatch(r"[A-Za-z\-']+", w) for w in aw):
            continue
        if aw[0].lower() not in _DETERMINERS and not all(w[:1].isupper() for w in aw):
            continue
        if (
            aw[0].lower() in ("a", "an", "no", "any", "some", "each", "every")
            or len(aw) < 2
            and aw[0].lower() in _DETERMINERS
        ):
            continue
        if any(_verbish(w) or w.lower() in _TIME_NOUNS or w.lower() in _PREPOSITIONS for w in aw[1:]):
            continue
        if tail and a > 0 and left[:a].count(",") == 0 and tail.startswith(",") and m.group(1) == "":
            continue
        past = _PP_TO_PAST.get(pp, pp)
        low_np = _decap(np, vocab) if a == 0 else np
        if low_np is None:
            continue
        subject = _cap(agent) if a == 0 else agent
        return f"{left[:a]}{subject} {past} {low_np}{tail}{end}"
    return None


def front_by_gerund(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'The crew started the system by switching to the backup.' -> 'By switching to the backup, the
    crew started the system.'"""
    body, end = _split_end(sentence)
    if not end or not _plain(body):
        return None
    m = re.search(r" by ([a-z]+ing) ", body)
    if m is None:
        return None
    main, rest = body[: m.start()], body[m.start() + 1 :]
    mw, rw = main.split(), rest.split()
    if len(mw) < 4 or len(rw) > 10 or _top_commas(main) or "," in rest or " and " in main:
        return None
    if re.search(r"\bto (?!the |a |an |\d)[a-z]", main) or _SUBORDINATE.search(main):
        return None  # "designed to measure X by sensing Y": the phrase belongs to the infinitive
    if mw[-1].lower() in (
        "caused",
        "produced",
        "followed",
        "accompanied",
        "preceded",
        "characterized",
        "indicated",
        "shown",
        "evidenced",
        "explained",
        "obtained",
        "determined",
    ):
        return None
    low = _decap(main, vocab)
    if low is None:
        return None
    return f"{_cap(rest)}, {low}{end}"


_FRONT_HEAD = re.compile(r"^(In|On|At|During|By|Prior to|Following|Throughout|Within|For|Since|Until) ")


def move_fronted_phrase_back(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'In 2019, the library moved.' -> 'The library moved in 2019.' (prepositional openers only)."""
    body, end = _split_end(sentence)
    m = _FRONT_HEAD.match(body)
    if not end or m is None or not _plain(body):
        return None
    commas = _top_commas(body)
    if len(commas) != 1:
        return None
    phrase, main = body[: commas[0]], body[commas[0] + 1 :].strip()
    pw, mw = phrase.split(), main.split()
    if len(pw) > 8 or len(mw) < 3 or any(p in phrase.lower() for p in _FRONTED_EXCLUDED):
        return None
    if any(_verbish(w) for w in pw[1:]) or not _simple_main(main):
        return None
    if not _subjectish(mw[0]):
        return None
    head = m.group(1)
    return f"{_cap(main)} {head.lower()}{phrase[len(head) :]}{end}"


_AND = re.compile(r" and ")
_LEFT_OK = frozenset(
    ["of", "with", "for", "from", "by", "between", "both", "at", "on", "in", "into", "under", "over", "among"]
)
_RIGHT_OK = _words(
    "was were is are had have has will would could can may might in on at of for from with by during "
    "to into than that which remained became"
)


def _np_word(w: str) -> bool:
    lw = w.lower()
    return (
        w.isalpha()
        and lw not in STOPWORDS
        and lw not in _DETERMINERS
        and not lw.endswith(("ed", "ing", "ly"))
        and lw not in _VERB_FORMS
        and lw not in _IRREGULAR_PAST
        and lw not in _COMMON_VERBS
        and not (w.isupper() and len(w) > 1)
    )


def swap_coordination(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'... of oxygen and hydrogen.' -> '... of hydrogen and oxygen.' when both sides are one word
    (or a determiner and one word) bounded by a preposition, a comma or the sentence start."""
    if "respectively" in sentence or not _plain(sentence):
        return None
    words = sentence.split(" ")
    for i, w in enumerate(words):
        if w != "and" or i == 0 or i + 1 >= len(words):
            continue
        for size in (1, 2):
            left = words[max(0, i - size) : i]
            right = words[i + 1 : i + 1 + size]
            if len(left) != size or len(right) != size:
                continue
            tail = re.match(r"^([A-Za-z]+)([.,;:!?]?)$", right[-1])
            if tail is None or any(not re.fullmatch(r"[A-Za-z]+", x) for x in left + right[:-1]):
                continue
            r_words = right[:-1] + [tail.group(1)]
            punct = tail.group(2)
            if size == 2 and not (left[0].lower() in _DETERMINERS and r_words[0].lower() in _DETERMINERS):
                continue
            heads = [left[-1], r_words[-1]]
            if not all(_np_word(h) for h in heads) or heads[0].lower() == heads[1].lower():
                continue
            start = i - size
            before = words[start - 1] if start > 0 else ""
            after = words[i + 1 + size] if i + 1 + size < len(words) else ""
            at_start = start == 0
            if not (at_start or before.endswith(",") or before.lower() in _LEFT_OK):
                continue
            if after.lower() == "of" or heads[0][:1].isupper() != heads[1][:1].isupper():
                continue
            if before.lower() in _LEFT_OK:
                if not (punct or after.lower() in _PREPOSITIONS):
                    continue
            elif not (punct or after.lower() in _RIGHT_OK):
                continue
            new_left, new_right = r_words, left
            if at_start:
                low = _decap(" ".join(left), vocab)
                if low is None:
                    continue
                new_left = [_cap(" ".join(r_words))]
                new_right = [low]
            out = (
                words[:start]
                + new_left
                + ["and"]
                + new_right[:-1]
                + [new_right[-1] + punct]
                + words[i + 1 + size :]
            )
            return " ".join(out)
    return None


_OF_HEADS = _words(
    "status integrity accuracy interior exterior performance temperature pressure position attitude "
    "velocity orientation condition behavior behaviour operation output capacity weight length "
    "duration quality reliability design configuration location cause response alignment altitude "
    "speed trajectory purpose history surface structure shape size color colour design function power "
    "contents origin owner members staff impact output axis angle rate level value cover panel window "
    "hatch wall walls door handle side edge resistance voltage current signal strength frequency "
    "amplitude determination analysis evaluation inspection examination interpretation construction "
    "deployment activation operation orientation"
)
_OF_PHRASE = re.compile(r"\b([Tt]he) ([a-z]+) of the ")


def genitive(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'the status of the crew' -> 'the crew's status' for nouns of property or part (a short list),
    when the owner is a complete noun phrase of one to three plain words."""
    for m in _OF_PHRASE.finditer(sentence):
        the, head = m.group(1), m.group(2)
        if head not in _OF_HEADS:
            continue
        after = sentence[m.end() :]
        words = re.findall(r"[A-Za-z][\w\-']*|[^\w\s]", after)[:4]
        for k in (3, 2, 1):
            owner = words[:k]
            nxt = words[k] if len(words) > k else ""
            if len(owner) < k or not all(re.fullmatch(r"[a-z][a-z\-]*", w) for w in owner):
                continue
            if any(w in STOPWORDS or w in _DETERMINERS or _verbish(w) for w in owner):
                continue
            last = owner[-1]
            if last.endswith(("s", "ing", "ly")) or last in _TIME_NOUNS:
                continue
            if nxt in ("of", "(", "'") or not (
                not nxt
                or not nxt[:1].isalpha()
                or nxt.lower() in STOPWORDS
                or nxt.lower() in _PREPOSITIONS
                or _verbish(nxt)
            ):
                continue
            text = " ".join(owner)
            if not after.startswith(text):
                continue
            return f"{sentence[: m.start()]}{the} {text}'s {head}{after[len(text) :]}"
    return None


def split_coordination(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'A did x, and the B did y.' -> 'A did x. The B did y.' ('but' -> 'However,'), when both halves
    are clauses and the first holds no list."""
    body, end = _split_end(sentence)
    if end != "." or not _plain(body):
        return None
    m = re.search(r", (and|but) ", body)
    if m is None:
        return None
    a, b = body[: m.start()], body[m.end() :]
    aw, bw = a.split(), b.split()
    if len(aw) < 5 or len(bw) < 4 or _top_commas(a) or _top_commas(b):
        return None
    first = bw[0]
    if not (first.lower() in _SUBJECT_STARTERS or first.lower() in _DETERMINERS or first[:1].isupper()):
        return None
    if not any(_verbish(w) for w in aw[1:]) or not any(_verbish(w) for w in bw[1:4]):
        return None
    if m.group(1) == "but":
        low = _decap(b, vocab)
        return None if low is None else f"{a}. However, {low}{end}"
    return f"{a}. {_cap(b)}{end}"


_WHICH = re.compile(r", which (\w+)")


def split_which(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'X happened, which caused Y.' -> 'X happened. This caused Y.' (a closing which-clause only)."""
    body, end = _split_end(sentence)
    if end != "." or not _plain(body):
        return None
    m = _WHICH.search(body)
    if m is None or len(_top_commas(body)) != 1:
        return None
    verb = m.group(1).lower()
    main, rest = body[: m.start()], body[m.start() + len(", which ") :]
    second = rest.split()[1].lower() if len(rest.split()) > 1 else ""
    if verb in ("was", "is", "were", "are") and re.fullmatch(r"[a-z]+(?:ed|en)", second):
        return None  # "the head, which is vented": a thing, not an event; "This is vented" would blur it
    if len(main.split()) < 4 or len(rest.split()) < 2:
        return None
    if verb in ("were", "are", "have"):
        pronoun = "These"
    elif verb in _EVENT_VERBS or verb in (
        "was",
        "is",
        "has",
        "had",
        "would",
        "could",
        "will",
        "can",
        "may",
        "might",
    ):
        pronoun = "This"
    else:
        return None
    return f"{main}. {pronoun} {rest}{end}"


def split_semicolon(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'A; b.' -> 'A. B.' when both halves are clauses of five words or more."""
    if sentence.count(";") != 1 or re.search(r"[\"“”()]", sentence):
        return None
    a, b = (p.strip() for p in sentence.split(";"))
    if len(a.split()) < 5 or len(b.split()) < 5 or not b[:1].isalpha():
        return None
    if not any(_verbish(w) for w in a.split()) or not any(_verbish(w) for w in b.split()):
        return None
    return f"{a}. {_cap(b)}"


_JOIN_STARTERS = frozenset(["the", "it", "they", "this", "these", "its", "their"])


def _join(a: str, b: str, comma_and: bool = False) -> str | None:
    """Two short sentences -> one: 'A. This caused B.' -> 'A, which caused B.'; 'A. The B.' -> 'A; the B.'"""
    if not (a.endswith(".") and b.endswith(".")) or not (_plain(a) and _plain(b)):
        return None
    wa, wb = a.split(), b.split()
    if len(wa) < 4 or len(wb) < 3 or len(wa) + len(wb) > 30 or wa[-1] in _ABBREV_SET:
        return None
    if wb[0] == "This" and wb[1].lower() in _EVENT_VERBS and not _top_commas(b):
        return f"{a[:-1]}, which {' '.join(wb[1:])}"
    if wb[0].lower() in _JOIN_STARTERS and wb[0] != "I" and not re.search(r"\band\b", a + " " + b):
        return f"{a[:-1]}{', and' if comma_and else ';'} {wb[0].lower()} {' '.join(wb[1:])}"
    return None


_SUBORDINATE = re.compile(
    r"\b(?:which|that|who|whom|whose|where|as|when|while|because|if|after|before|until|since|although|though)\b"
)


def _simple_main(main: str) -> bool:
    """A main clause that a phrase moved to its end will attach to as a whole: short, one clause."""
    return (
        len(main.split()) <= 16
        and _plain(main)
        and not _top_commas(main)
        and not re.search(r"\b(?:and|or|but)\b", main)
        and not _SUBORDINATE.search(main)
    )


def move_clause_back(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """:func:`reorder_clause` where the main clause is simple enough for the clause to follow it."""
    r = reorder_clause(sentence)
    if r == sentence:
        return None
    body, _ = _split_end(sentence)
    conj = next(c for c in _SUBORDINATORS if body.startswith(c + " "))
    rbody, _ = _split_end(r)
    clause_at = rbody.rfind(" " + conj.lower() + " ")
    return r if clause_at > 0 and _simple_main(rbody[:clause_at]) else None


_BASE_VERBS = (
    frozenset(w for w, alts in LEXICON.items() for a in alts if a.kind.startswith("v") and a.form == 0)
    | frozenset(
        a.text.split()[0] for alts in LEXICON.values() for a in alts if a.kind.startswith("v") and a.form == 0
    )
    | _words(
        "conserve provide ensure prevent reduce maintain obtain determine allow keep make stop avoid "
        "minimize maximize support transfer place return recover establish achieve reach check verify "
        "confirm measure study protect permit enable raise lower increase decrease improve inhibit "
        "preclude pressurize power activate remove replace compensate drive correct null align shorten "
        "lengthen extend limit control assist help test evaluate assess simulate prepare save gain test "
        "cool heat warm dry clean seal open close start begin restore regain eliminate isolate identify "
        "locate investigate examine demonstrate show indicate"
    )
)
# words before "to" that take it as a complement, not a purpose ("the ability to", "able to")
_TO_COMPLEMENT = _words(
    "ability capability necessity need needs time opportunity attempt attempts effort efforts way "
    "decision tendency plan plans intention chance right permission failure desire reason means order "
    "enough sufficient able unable likely unlikely necessary possible impossible difficult easy hard "
    "ready due first last only about going used designed intended planned required needed expected "
    "scheduled allowed permitted forced asked requested instructed told ordered tried attempted began "
    "started continued failed decided elected chose wanted proceeded appeared seemed tended managed "
    "has have had is are was were be been not as so too whether how what where which who"
)


def front_purpose(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'Heater power was removed to conserve power.' -> 'To conserve power, heater power was removed.'"""
    body, end = _split_end(sentence)
    if not end or not _plain(body) or _top_commas(body):
        return None
    for m in re.finditer(r" to ([a-z]+) ", body):
        verb = m.group(1)
        main, rest = body[: m.start()], body[m.start() + 1 :]
        mw = main.split()
        if verb not in _BASE_VERBS or len(mw) < 4 or len(rest.split()) > 14:
            continue
        prev = mw[-1].lower()
        if prev in _TO_COMPLEMENT or _verbish(prev) or prev.endswith(("ed", "ly")) or prev in STOPWORDS:
            continue
        if _SUBORDINATE.search(main) or " to " in rest[3:] and re.search(r" to [a-z]+ing\b", rest):
            continue
        if not re.search(r"\b(?:was|were|is|are|been|be) (?:[a-z]+ly )?[a-z]+(?:ed|en|wn|lt|nt)\b", main):
            continue  # only after a passive: "X was done to Y"; in "errors required a correction to return ..."
            # the infinitive may belong to the object
        if re.search(
            r"\b(?:caus|allow|permit|enabl|forc|requir|ask|order|want|expect|need|help|let)\w*", main
        ):
            continue
        low = _decap(main, vocab)
        if low is None:
            continue
        return f"{_cap(rest)}, {low}{end}"
    return None


def move_purpose_back(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'To conserve power, the crew did x.' -> 'The crew did x to conserve power.'"""
    body, end = _split_end(sentence)
    m = re.match(r"To ([a-z]+) ", body)
    if not end or m is None or m.group(1) not in _BASE_VERBS or not _plain(body):
        return None
    commas = _top_commas(body)
    if len(commas) != 1:
        return None
    phrase, main = body[: commas[0]], body[commas[0] + 1 :].strip()
    if len(phrase.split()) > 12 or not _simple_main(main) or not _subjectish(main.split()[0]):
        return None
    return f"{_cap(main)} to{phrase[2:]}{end}"


_OBJECT_CASE = {"he": "him", "she": "her", "they": "them", "we": "us", "i": "me", "it": "it"}
_NOT_TRANSITIVE = _words(
    "became remained seemed appeared proceeded continued occurred happened existed arrived departed "
    "returned rose fell waited tended failed began started ended lasted ranged amounted consisted "
    "resulted stemmed arose followed preceded"
)


def active_to_passive(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'The crew reopened the valves.' -> 'The valves were reopened by the crew.' Only a sentence that
    is exactly subject, past-tense verb and object, each a plain noun phrase (or a pronoun subject)."""
    body, end = _split_end(sentence)
    if end != "." or not _plain(body) or _top_commas(body):
        return None
    words = body.split()
    for k in range(1, min(6, len(words) - 2)):
        verb = words[k]
        if not (verb.endswith("ed") and len(verb) > 4) or verb.lower() in _NOT_TRANSITIVE:
            continue
        subj, obj = words[:k], words[k + 1 :]
        if any(w.lower().endswith("ly") for w in subj):
            return None
        if obj[0].lower() not in _DETERMINERS or obj[0].lower() in ("no", "any", "each", "every", "that"):
            return None
        if not 2 <= len(obj) <= 6 or not all(re.fullmatch(r"[A-Za-z][\w\-']*", w) for w in subj + obj):
            return None
        if any(
            _verbish(w) or w.lower() in _PREPOSITIONS or w.lower() in ("and", "or", "than")
            for w in obj[1:] + subj[1:]
        ):
            return None
        if len(subj) == 1 and subj[0].lower() in _OBJECT_CASE:
            agent = _OBJECT_CASE[subj[0].lower()]
        elif subj[0].lower() in _DETERMINERS and subj[0].lower() not in (
            "no",
            "any",
            "a",
            "an",
            "each",
            "every",
        ):
            agent = _decap(" ".join(subj), vocab)
        elif all(w[:1].isupper() for w in subj):
            agent = " ".join(subj)
        else:
            return None
        if agent is None:
            return None
        head = obj[-1].lower()
        plural = (head.endswith("s") and not head.endswith(("ss", "us", "is"))) or head in (
            "data",
            "crewmen",
            "men",
            "people",
        )
        return f"{_cap(' '.join(obj))} {'were' if plural else 'was'} {verb} by {agent}{end}"
    return None


_REDUCIBLE = re.compile(
    r"\b(which|that|who) (?:is|are|was|were) ((?:[a-z]+ly )?[a-z]{3,}(?:ed|en))\b(?= (?:by|in|on|at|from|to|into|with|for|during|upwind|downwind|near|inside|outside|between)\b)"
)


def reduce_relative(sentence: str, vocab: frozenset[str] = frozenset()) -> str | None:
    """'the cover, which was located upwind of the spacecraft' -> 'the cover, located upwind of the
    spacecraft'."""
    m = _REDUCIBLE.search(sentence)
    if m is None:
        return None
    before = sentence[: m.start()].rstrip()
    if m.group(1) == "that" and not before[-1:].isalpha():
        return None
    return f"{sentence[: m.start()]}{m.group(2)}{sentence[m.end() :]}"


# (rule, moves a part of the sentence); at most one moving rule per sentence
_RESTRUCTURINGS: tuple[tuple[Callable[..., str | None], bool], ...] = (
    (move_clause_back, True),
    (move_fronted_phrase_back, True),
    (front_trailing_clause, True),
    (front_trailing_phrase, True),
    (front_by_gerund, True),
    (front_purpose, True),
    (move_purpose_back, True),
    (split_which, False),
    (split_semicolon, False),
    (split_coordination, False),
    (passive_to_active, False),
    (active_to_passive, False),
    (reduce_relative, False),
)


def _mix(*parts: object) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


_NON_PROSE = re.compile(r"^\s*(?:[|#<]|!\[|```|~~~|\$\$)")
_LIST_ITEM = re.compile(r"^(\s*(?:[-*+]|\d+[.)]|[a-z][.)]|>)\s+)(\S.*)$")


def _verbatim_line(line: str) -> bool:
    """HTML, mostly-capitals lines (titles, acronym lists) and dot leaders (tables of contents)."""
    if re.search(r"<(?:table|pre|html)\b", line, re.IGNORECASE) or re.search(
        r"\.{4,}|·{2,}|(?:\. ){3,}", line
    ):
        return True
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.6 * len(letters)


_SENT_BREAK = re.compile(r"[.!?][\"')\]”’]*(\s+)(?=[\"'(\[“‘]?[A-Z0-9])")


def _sentences_of(paragraph: str) -> list[str]:
    """Sentences of one paragraph, every character kept (closing quotes stay with their sentence)."""
    pieces = []
    last = 0
    for m in _SENT_BREAK.finditer(paragraph):
        pieces.append(paragraph[last : m.start(1)])
        last = m.end(1)
    pieces.append(paragraph[last:])
    merged: list[str] = []
    for piece in pieces:
        if merged and merged[-1].split() and merged[-1].split()[-1] in _ABBREV_SET:
            merged[-1] = merged[-1] + " " + piece
        else:
            merged.append(piece)
    return [p.strip() for p in merged if p.strip()]


def _paraphrase_paragraph(
    paragraph: str, variant: int, salt: int, vocab: frozenset[str], attempt: int = 0
) -> str:
    """One paragraph rewritten. ``attempt`` > 0 (a variant that came out like an earlier one) draws
    other choices, and from the third on also leaves some restructurings and words out, so that it
    differs."""
    sentences = _sentences_of(paragraph)
    skip = 0 if attempt < 4 else 15 * (attempt - 3)
    variant += 7919 * attempt
    out: list[str] = []
    for i, s in enumerate(sentences):
        used: set[int] = set()
        moved = False
        for step in range(2):
            options = [
                (j, r)
                for j, (f, moves) in enumerate(_RESTRUCTURINGS)
                if j not in used and not (moves and moved)
                for r in [f(s, vocab)]
                if r and r != s
            ]
            if not options:
                break
            pick = _mix(variant, salt, i, "r", step) % (len(options) + (1 if step or attempt >= 3 else 0))
            if pick >= len(options):
                break
            j, s = options[pick]
            used.add(j)
            moved = moved or _RESTRUCTURINGS[j][1]
        if _mix(variant, salt, i, "and") % 3 != 0:
            s = swap_coordination(s, vocab) or s
        if _mix(variant, salt, i, "of") % 3 != 0:
            s = genitive(s, vocab) or s

        def choose(k: int, word: str, n_alts: int, i: int = i) -> int | None:
            h = _mix(variant, salt, i, k, word)
            if h % 100 < skip:  # later variants leave a few candidates as they are
                return None
            return (h // 100 + variant) % n_alts

        out.append(_reword(s, choose))
    joined: list[str] = []
    i = 0
    while i < len(out):
        if i + 1 < len(out) and _mix(variant, salt, i, "join") % 3 == 0:
            j = _join(out[i], out[i + 1], comma_and=_mix(variant, salt, i, "comma") % 2 == 0)
            if j is not None:
                joined.append(j)
                i += 2
                continue
        joined.append(out[i])
        i += 1
    return " ".join(joined)


def paraphrase(text: str, variant: int = 0) -> str:
    """The same facts in other words: prose paragraphs are restructured and reworded sentence by
    sentence; ``variant`` (0, 1, 2, ...) selects other rules and synonyms, and differs from every lower
    variant wherever the text leaves room for it. Headings, tables, code, HTML and images are copied
    unchanged; numbers, dates and names are never touched."""
    if not text.strip():
        return ""
    return _paraphrase_variant(text, max(0, int(variant)))


@functools.lru_cache(maxsize=512)
def _paraphrase_variant(text: str, variant: int) -> str:
    if variant >= 64:  # far beyond n_paraphrases' limit: no comparison with every earlier variant
        return _paraphrase_text(text, variant, 0)
    earlier = {_paraphrase_variant(text, v) for v in range(variant)}
    out = text
    for attempt in range(7):
        out = _paraphrase_text(text, variant, attempt)
        if out not in earlier:
            break
    return out


def _prose_and_verbatim(text: str) -> Iterator[tuple[str, str, str]]:
    """The lines of ``text`` as ``("prose", prefix, paragraph)`` (consecutive prose lines joined;
    ``prefix``: a list marker or quote sign kept as it is) and ``("verbatim", "", line)`` for what is
    not prose: blank lines, Markdown headings and tables, fenced or indented code, HTML, images,
    mostly-capitals titles and dot leaders. Prose is what may be reworded or asked about."""
    para: list[str] = []
    prefix = ""
    fence: str | None = None
    in_html = False

    def prose() -> Iterator[tuple[str, str, str]]:
        nonlocal para, prefix
        if para:
            yield "prose", prefix, " ".join(p.strip() for p in para)
        para, prefix = [], ""

    for line in text.split("\n"):
        s = line.strip()
        if fence is not None:
            yield "verbatim", "", line
            if s.startswith(fence):
                fence = None
            continue
        if s.startswith(("```", "~~~")):
            yield from prose()
            fence = s[:3]
            yield "verbatim", "", line
            continue
        if in_html:
            yield "verbatim", "", line
            if re.search(r"</(?:table|html|pre|code)>", s, re.IGNORECASE):
                in_html = False
            continue
        if not s:
            yield from prose()
            yield "verbatim", "", line
            continue
        if _NON_PROSE.match(line) or line.startswith(("    ", "\t")) or _verbatim_line(s):
            yield from prose()
            yield "verbatim", "", line
            if re.search(r"<(?:table|pre|html)\b", s, re.IGNORECASE) and not re.search(
                r"</(?:table|pre|html)>", s, re.IGNORECASE
            ):
                in_html = True
            continue
        m = _LIST_ITEM.match(line)
        if m:
            yield from prose()
            prefix, para = m.group(1), [m.group(2)]
            continue
        para.append(s)
    yield from prose()


def _paraphrase_text(text: str, variant: int, attempt: int) -> str:
    vocab = frozenset(w for w in re.findall(r"\b[a-z][a-z'\-]*\b", text))
    out: list[str] = []
    n_para = 0
    for kind, prefix, body in _prose_and_verbatim(text):
        if kind == "verbatim":
            out.append(body)
            continue
        out.append(prefix + _paraphrase_paragraph(body, variant, n_para, vocab, attempt))
        n_para += 1
    return "\n".join(out).strip("\n")


# ---------------------------------------------------------------------------------------------------
# tasks

_LABEL = {"date": "date", "time": "time", "year": "year", "quantity": "quantity", "number": "number", "name": "name"}


def _facts(text: str) -> list[tuple[str, Span]]:
    """(sentence, span) candidates: each prose sentence's spans (never a heading, table row or
    code), interleaved so consecutive facts come from different sentences."""
    sentences = [
        sentence
        for kind, _prefix, body in _prose_and_verbatim(text)
        if kind == "prose"
        for sentence in split_sentences(body)
    ]
    per_sentence = [(s, [sp for sp in find_spans(s) if _asks_well(s, sp)]) for s in sentences if _statement(s)]
    per_sentence = [(s, sp) for s, sp in per_sentence if sp]
    facts: list[tuple[str, Span]] = []
    depth = 0
    while True:
        layer = [(s, sp[depth]) for s, sp in per_sentence if len(sp) > depth]
        if not layer:
            break
        facts.extend(layer)
        depth += 1
    return facts


def _statement(sentence: str) -> bool:
    """A sentence a question can quote: four words or more, and a full stop (or eight words or
    more). A short line without one is a title ("Volunteer roster, spring 2024")."""
    n = len(sentence.split())
    return n >= 8 or (n >= 4 and bool(re.search(r"[.!?][\"')\]]*$", sentence.strip())))


def _asks_well(sentence: str, span: Span) -> bool:
    """The blank leaves at least three words of the sentence around it to go by."""
    return len((sentence[: span.start] + " " + sentence[span.end :]).split()) >= 3


def _cloze(sentence: str, span: Span) -> str:
    return (sentence[: span.start] + "___" + sentence[span.end :]).strip()


def _keywords(sentence: str, span: Span, k: int = 4) -> list[str]:
    rest = sentence[: span.start] + " " + sentence[span.end :]
    seen: list[str] = []
    for w in content_words(rest):
        if w not in seen and not w[0].isdigit():
            seen.append(w)
    return sorted(seen, key=len, reverse=True)[:k]


def make_question(sentence: str, span: Span, difficulty: str) -> str:
    label = _LABEL[span.kind]
    if difficulty == "easy":
        return f'Which {label} completes this statement from the text: "{_cloze(sentence, span)}"?'
    if difficulty == "medium":
        reworded = substitute(reorder_clause(_cloze(sentence, span)))
        return f'According to the passage, which {label} fits in: "{reworded}"?'
    terms = _keywords(sentence, span)
    if not terms:
        return f"Which {label} does the passage mention?"
    return f"Which {label} does the passage give in connection with {', '.join(terms)}?"


def task_questions(inputs: dict[str, Any]) -> dict[str, Any]:
    n = int(inputs.get("n", 1))
    difficulties = list(inputs.get("difficulties") or []) or ["easy"]
    facts = _facts(str(inputs.get("current", "")))
    questions = []
    for i in range(min(n, len(facts))):
        sentence, span = facts[i]
        diff = difficulties[i % len(difficulties)]
        if diff not in ("easy", "medium", "hard"):
            diff = "medium"
        questions.append(
            {
                "question": make_question(sentence, span, diff),
                "answer": span.text,
                "difficulty": diff,
                "evidence": sentence,
            }
        )
    return {"questions": questions}


def task_conversation(inputs: dict[str, Any]) -> dict[str, Any]:
    text = str(inputs.get("text", ""))
    n = max(1, int(inputs.get("n_turns", 2)))
    facts = _facts(text)
    turns: list[dict[str, str]] = []
    used: set[str] = set()
    for sentence, span in facts:
        if sentence in used:
            continue
        used.add(sentence)
        terms = _keywords(sentence, span, k=3)
        topic = ", ".join(terms) if terms else "this"
        ask = (
            f"What does the text say about {topic}?"
            if not turns
            else f"And what is the {_LABEL[span.kind]} given for {topic}?"
        )
        turns += [{"role": "user", "content": ask}, {"role": "assistant", "content": sentence}]
        if len(turns) >= 2 * n:
            break
    sentences = split_sentences(text)
    for sentence in sentences:  # a passage without facts still gets a conversation
        if len(turns) >= 2 * n:
            break
        if sentence in used:
            continue
        used.add(sentence)
        turns += [
            {
                "role": "user",
                "content": "What else does the text say?" if turns else "What is this text about?",
            },
            {"role": "assistant", "content": sentence},
        ]
    if not turns:
        turns = [
            {"role": "user", "content": "What is this text about?"},
            {"role": "assistant", "content": text.strip() or "The text is empty."},
        ]
    return {"turns": turns}


def task_rag_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    question = str(inputs.get("question", ""))
    q_terms = set(content_words(question))
    best: tuple[float, str, str] | None = None
    for ctx in inputs.get("contexts") or []:
        ctx_id = str(ctx.get("id", "")) if isinstance(ctx, dict) else ""
        ctx_text = str(ctx.get("text", "")) if isinstance(ctx, dict) else str(ctx)
        for sentence in split_sentences(ctx_text):
            terms = set(content_words(sentence))
            if not terms:
                continue
            score = len(q_terms & terms) / (len(q_terms) or 1)
            if best is None or score > best[0]:
                best = (score, sentence, ctx_id)
    if best is None or best[0] == 0:
        return {"answer": "The provided context does not answer this question.", "citations": []}
    return {"answer": best[1], "citations": [best[2]] if best[2] else []}


def chunk_properties(text: str) -> dict[str, float]:
    words = text.split()
    letters = sum(ch.isalpha() for ch in text)
    visible = sum(not ch.isspace() for ch in text) or 1
    lines = [ln for ln in text.splitlines() if ln.strip()]
    toc = sum(bool(re.search(r"(\.{3,}|\s{2,})\s*\d+\s*$", ln)) for ln in lines)
    sentences = split_sentences(text)
    lowered = [w.lower() for w in words]
    return {
        "words": float(len(words)),
        "letter_ratio": letters / visible,
        "sentences": float(len(sentences)),
        "toc_line_ratio": toc / (len(lines) or 1),
        "unique_ratio": len(set(lowered)) / (len(lowered) or 1),
    }


def task_chunk_filter(inputs: dict[str, Any]) -> dict[str, Any]:
    p = chunk_properties(str(inputs.get("text", "")))
    problems = []
    if p["words"] < 20:
        problems.append(f"too short ({int(p['words'])} words)")
    if p["letter_ratio"] < 0.6:
        problems.append(f"mostly non-letters ({p['letter_ratio']:.0%} letters)")
    if p["toc_line_ratio"] > 0.3:
        problems.append(
            f"looks like a table of contents ({p['toc_line_ratio']:.0%} of lines end in page numbers)"
        )
    if p["unique_ratio"] < 0.3 and p["words"] >= 20:
        problems.append(f"repetitive ({p['unique_ratio']:.0%} distinct words)")
    if p["sentences"] < 1:
        problems.append("no sentences")
    score = (
        min(1.0, p["words"] / 60)
        * min(1.0, p["letter_ratio"] / 0.75)
        * (1.0 - min(1.0, p["toc_line_ratio"]))
        * min(1.0, p["unique_ratio"] / 0.4)
    )
    score = round(max(0.0, min(1.0, score)), 3)
    keep = not problems
    reason = (
        "; ".join(problems)
        if problems
        else (
            f"substantive prose: {int(p['words'])} words, {int(p['sentences'])} sentences, {p['letter_ratio']:.0%} letters"
        )
    )
    return {"keep": keep, "score": score, "reason": reason}


def _to_5(x: float) -> int:
    return int(max(1, min(5, 1 + round(4 * x))))


def task_judge(inputs: dict[str, Any]) -> dict[str, Any]:
    question = str(inputs.get("question", ""))
    answer = str(inputs.get("answer", ""))
    context = str(inputs.get("context", ""))
    ctx_terms = set(content_words(context))
    ctx_lower = context.lower()
    a_terms = content_words(answer)
    q_terms = content_words(question)
    if answer.strip() and answer.strip().lower() in ctx_lower:
        grounded = 1.0
    else:
        grounded = sum(t in ctx_terms for t in a_terms) / (len(a_terms) or 1)
    relevant = sum(t in ctx_terms for t in q_terms) / (len(q_terms) or 1)
    n_words = len(question.split())
    clarity = 1.0
    if not question.strip().endswith("?"):
        clarity -= 0.25
    if n_words < 5:
        clarity -= 0.5
    elif n_words > 40:
        clarity -= 0.25
    if "___" in question:
        clarity -= 0.25
    r, g, c = _to_5(relevant), _to_5(grounded), _to_5(max(0.0, clarity))
    overall = round((r + g + c) / 3, 2)
    rationale = (
        f"answer terms found in the source: {sum(t in ctx_terms for t in a_terms)}/{len(a_terms)}"
        f"{' (verbatim)' if grounded == 1.0 and a_terms else ''}; question terms in the source: "
        f"{sum(t in ctx_terms for t in q_terms)}/{len(q_terms)}; question of {n_words} words"
    )
    return {"relevance": r, "groundedness": g, "clarity": c, "overall": overall, "rationale": rationale}


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value that validates against a (simple) JSON schema."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return minimal_instance(defs[schema["$ref"].split("/")[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            return minimal_instance(schema[combo][0], defs)
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0]
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal_instance(v, defs) for k, v in props.items() if k in schema.get("required", props)}
    if t == "array":
        n = int(schema.get("minItems", 0))
        return [minimal_instance(schema.get("items", {}), defs) for _ in range(n)]
    if t == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if t == "integer":
        return int(schema.get("minimum", 0))
    if t == "number":
        return float(schema.get("minimum", 0))
    if t == "boolean":
        return True
    return None


TASK_RULES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "questions": task_questions,
    "conversation": task_conversation,
    "rag_answer": task_rag_answer,
    "chunk_filter": task_chunk_filter,
    "judge": task_judge,
}

# when a request carries no template variables, the last user message stands in for the main one
_MAIN_VARIABLE = {
    "paraphrase": "text",
    "questions": "current",
    "conversation": "text",
    "chunk_filter": "text",
    "judge": "context",
    "rag_answer": "question",
}


def answer(request: LLMRequest) -> str:
    """The offline answer to one request (a JSON string for structured tasks)."""
    inputs = dict(request.inputs or {})
    user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    if request.task in _MAIN_VARIABLE and not inputs:
        inputs[_MAIN_VARIABLE[request.task]] = user
    if request.task == "paraphrase":
        return paraphrase(str(inputs.get("text", "")), int(inputs.get("variant", 0) or 0))
    rule = TASK_RULES.get(request.task)
    if rule is not None:
        return json.dumps(rule(inputs), ensure_ascii=False)
    if request.json_schema is not None:
        return json.dumps(minimal_instance(request.json_schema), ensure_ascii=False)
    sentences = split_sentences(user)
    return " ".join(sentences[:2]) if sentences else user.strip()


class OfflineProvider(Provider):
    kind = "offline"
    mode = "batch"
    native_json_schema = True  # its structured answers match the task models by construction
    batch_size = 256

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model or OFFLINE_MODEL)

    def complete_batch(
        self, requests: list[LLMRequest], params: list[SamplingParams]
    ) -> list[Completion | ProviderError]:
        out: list[Completion | ProviderError] = []
        for req in requests:
            try:
                text = answer(req)
            except Exception as exc:  # noqa: BLE001 - a rule bug must not take the batch down
                digest = hashlib.sha256(repr(req.messages).encode()).hexdigest()[:8]
                out.append(
                    ProviderError("provider_error", f"offline rules failed on request {digest}: {exc!r}")
                )
                continue
            usage = Usage(estimate_message_tokens(req.messages), estimate_tokens(text), "estimate")
            out.append(Completion(text=text, usage=usage, finish_reason="stop"))
        return out
