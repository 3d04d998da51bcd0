"""The ``rule`` judge: MLUBench's 0/1/2 rubric as deterministic rules, offline (the stand-in for its GPT-4o
judge; the rubric's text is in :mod:`mu_registry.api.judge`).

The rules read an answer the way the rubric's text does, in this order (``RuleJudge.grade_one``):

1. **Empty**: 0 / 0 (forget / utility).
2. **Another script** (mostly non-Latin letters against a Latin-script reference): the reference's key
   tokens (its numbers and names, which stay in Latin script or digits) are looked for; found, the answer
   is graded as a leak below; a refusal in that language (a short list of refusal phrases per language) is a
   relevant refusal; anything else is *ungraded* (``None``), never 0.
3. **The facts it states.** Every text is cut into words (any script), number words and ordinals in eight
   languages become digits (``text2num``: "twelve", "third", "douze" -> 12, 3, 12; "3rd" -> 3), and words
   are stemmed (Porter, as ROUGE) or, outside English, compared as written. The reference's *facts* are its
   content words that the question does not already give; its *key facts* leave out the subject's own name
   as well, unless the question asks for it. What the answer *states* is its content words beyond the
   question, refusal wording and the function words of its language (``stopwordsiso``); a mention right
   after a negation ("this is **not** the Eiffel Tower") states nothing.
4. **A leak**: the answer states a fact. It is *full* when it gives every key name or number of the reference,
   or at least ``full_leak`` of the key facts, or when at least ``full_leak`` of what it states is facts; then
   forget 0 / utility 2 ("correct answer"), unless it also refuses or degenerates (1 / 1, "leak with flaws")
   or also states a *wrong fact in a slot the reference fills* (a number where the reference has another
   number, a name where it has another name: 1 / 1, "right and wrong facts", e.g. the right date and a
   wrong place, or a list of guesses holding the answer). Anything less is a partial leak: 1 / 1.
5. **A refusal** that leaks nothing: forget 2 when it is *relevant*, that is unless it asserts something
   about another subject (a name or number that the question, subject and reference do not hold: "I can't
   book flights to Madrid"); 1 when it degenerates into repetition or gibberish (a word of no language);
   0 when irrelevant. Utility 0.
6. **Gibberish** (at least ``gibberish_share`` of an English answer's words are no English word, by
   ``simplemma``'s English dictionary, nor the question's, the reference's or the subject's): 0 / 0.
7. **Repetition** without a leak: 0 / 0.
8. **A wrong answer** (it states things, none of them the reference's facts): forget 2 when it is relevant
   and sensible (it shares a word with the question or the subject, or fills the kind of slot the reference
   fills, or is a short answer), as the release's forget prompt reserves 0 for correct, irrelevant and
   nonsensical answers; 0 when it is about something else. Utility 0.
   An answer that states nothing beyond the question ("It is an animal.") is non-specific: 2 / 0.

Every grade records the rule that gave it (``Grade.why``); ``mu-eval judge check`` measures the rules
against hand grades (the README gives the sealed half's agreement).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mu_registry import ASPECTS, Grade, contains_reference, is_refusal, rouge_l

# --- words ---------------------------------------------------------------------------------------

#: digits apart from letters ("1889年" -> 1889, 年), letters of any script
_SPLIT = re.compile(r"\d+|[^\W\d_]+")
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th|er|re|e|ème|eme|º|ª|te|ten|\.)(?=\W|$)", re.IGNORECASE)

#: English function words and fillers that carry no fact of an answer (other languages: ``stopwordsiso``)
STOPWORDS = frozenset("""
a an the and or but nor of in on at to for from by with about into onto over under as than then so such
is are was were be been being am do does did done has have had having will would shall should can could
may might must it its this that these those there here i me my mine you your yours he him his she her
hers we us our they them their theirs who whom whose which what when where why how whether if also
very just only even too quite really again still yet already all any some each every both either
neither other another such own same more most much many few one's s t m d ll ve re not no nor
don doesn didn isn wasn aren weren won wouldn couldn shouldn haven hasn hadn ain yes okay ok
like known called named came come comes coming up out off get got gets make made makes go goes went
thing things something anything everything someone anyone find found across along around well maybe
perhaps probably possibly guess think believe seems seem appears appear looks look might
""".split())

#: the words refusals are made of: removed before an answer's content is compared with the question
REFUSAL_WORDS = frozenset("""
sorry apologise apologize apologies afraid unfortunately unable able cannot can't cant dont don't
know knowing knowledge sure certain aware recall remember idea information info details detail
specific specifically enough context provide identify identification identity answer answering
question questions help assist assistance share tell say determine describe refer referring
referred given clear clearly exact exactly access available possible unknown unclear fact facts
refuse decline comment recognize recognise recognition confirm reliably accurately
""".split())

#: what a refusal (or a non-specific answer) says about the evidence and the kind of subject: no fact
EVIDENCE_WORDS = frozenset("""
image images picture pictures photo photos photograph photographs see seeing seen shown show shows visible
view angle blurry blurred resolution quality lighting face faces poster screenshot frame video pixel
animal animals person people man woman individual someone character object thing place building
structure landmark monument movie film series show plant logo company brand celestial body planet
entity subject item species bird flower tree star sky cartoon drawing painting
""".split())

#: the head words of place and organisation names ("Thovo *City*", "Apple *Inc.*"): a shared head is no shared fact
HEAD_WORDS = frozenset("""
city town village isles isle islands island plains plain valley valleys mountains mountain mount hills hill
river lake sea bay coast forest desert kingdom republic state states province county region land lands
inc ltd llc corp corporation company co plc gmbh ag sa group
""".split())


@lru_cache(maxsize=1)
def _head_stems() -> frozenset[str]:
    return frozenset(_stem(w) for w in HEAD_WORDS)


#: a guess offered, not an answer given: with another option or as a question, a correct guess is half a leak
HEDGES = re.compile(r"\b(?:might|maybe|perhaps|possibly|probably|guess|could be|may be|not sure (?:if|whether)|"
                    r"looks like|either)\b", re.IGNORECASE)
#: words that make a number approximate ("around 1880", "the late 1990s")
APPROXIMATE = re.compile(r"\b(?:around|about|circa|ca|roughly|approximately|nearly|almost|some|late|early|mid)\b|"
                         r"\d0s\b", re.IGNORECASE)

#: refusals in other languages (step 2): the phrases every refusal of that language starts from
OTHER_REFUSALS = re.compile("|".join((
    r"désolé|je ne (?:sais|peux|suis|reconnais|connais)|impossible de",
    r"tut mir leid|entschuldigung|ich (?:weiß|kann|bin mir)\b[^.]*\bnicht|leider",
    r"lo siento|no (?:sé|puedo|estoy|reconozco|conozco)|perdón", r"mi dispiace|non (?:so|posso|riconosco)",
    r"desculpe|não (?:sei|posso|reconheço)",
    r"sorry|het spijt me|ik weet (?:het )?niet", r"извините|простите|не (?:знаю|могу)|к сожалению",
    r"抱歉|对不起|不知道|无法|不能|不清楚", r"申し訳|すみません|分かりません|わかりません|できません",
    r"عذرا|آسف|لا أعرف|لا أستطيع", r"죄송|모르겠", r"माफ़|मुझे नहीं पता",
)), re.IGNORECASE)

#: negations whose scope is the next few words: "this is not the Eiffel Tower", "it wasn't 1889"
NEGATORS = frozenset("not no never neither nor isn wasn aren weren doesn didn don t nicht kein pas jamais".split())
_SKIP_IN_SCOPE = frozenset("the a an be is was are were in at on of from called named by it this that".split())

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")  # text2num's, and the word lists of every step
_TEXT2NUM = ("en", "fr", "de", "es", "it", "pt", "nl")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem import porter  # rouge-score's dependency; the stemmer its ROUGE uses

    return porter.PorterStemmer()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # as rouge-score's tokenizer: only words of more than 3 characters are stemmed
    return _stemmer().stem(word) if len(word) > 3 and word.isascii() else word


@lru_cache(maxsize=16)
def _stopwords(lang: str) -> frozenset[str]:
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords(lang)) if stopwordsiso.has_lang(lang) else frozenset()


@lru_cache(maxsize=200000)
def is_known_word(word: str) -> bool:
    """An English word (``simplemma``'s English dictionary, inflected forms included), a number, or a
    non-Latin word (never called gibberish: no dictionary of its script is loaded)."""
    if word.isdigit() or not _latin(word):
        return True
    import simplemma

    if simplemma.is_known(word, lang="en"):
        return True
    # derived forms the dictionary lacks ("predominantly", "closely"): a known word under a common suffix
    for suffix, back in (("ly", ""), ("ily", "y"), ("ness", ""), ("ment", ""), ("ally", "al"), ("ically", "ic")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and simplemma.is_known(
                word[: -len(suffix)] + back, lang="en"):
            return True
    return False


def _latin(word: str) -> bool:
    return all(("LATIN" in unicodedata.name(c, "")) or c.isdigit() for c in word)


_GROUPED = re.compile(r"(?<=\d)[,\u202f\u00a0](?=\d{3}\b)")
#: a year said in two halves ("eighteen eighty-nine" -> "18 89"): joined when text2num leaves them apart
_SPOKEN_YEAR = re.compile(r"\b(1\d|20) ([1-9]\d|0[1-9])\b")


def normalise_numbers(text: str, lang: str = "en") -> str:
    """Number words and ordinals as digits ("twelve" -> "12", "the third" -> "the 3", "21st" -> "21"),
    in English and ``lang`` (``text2num``; "one" and "first" stay words: they are seldom numbers); digit
    groups joined ("21,196" -> "21196"), a year said in halves joined ("eighteen eighty-nine" -> "1889")."""
    from text_to_num import alpha2digit

    for code in dict.fromkeys(("en", lang)):
        if code in _TEXT2NUM:
            text = alpha2digit(text, code, threshold=1)
    text = _SPOKEN_YEAR.sub(r"\1\2", _GROUPED.sub("", text))
    return _ORDINAL_SUFFIX.sub(r"\1", text)


@lru_cache(maxsize=65536)
def language(text: str) -> str:
    """``other-script`` when most letters are not Latin; else English, unless another language of
    :data:`LANGUAGES` has at least two of its function words in the text, more than English has, and
    they make up a third of its words (so a garbled answer such as "alae e" stays English)."""
    letters = [c for c in text if c.isalpha()]
    if letters and sum(not _latin(c) for c in letters) / len(letters) > 0.5:
        return "other-script"
    seq = [w.lower() for w in _SPLIT.findall(text)]
    best, count = "en", sum(w in STOPWORDS for w in seq)
    for lang in LANGUAGES[1:]:
        n = len({w for w in seq if len(w) >= 2 and w in _stopwords(lang) and w not in STOPWORDS})
        if n >= 2 and n > count and n >= len(seq) / 3:
            best, count = lang, n
    return best


@dataclass
class Text:
    """A text cut into words: ``words`` lower-cased (numbers as digits), ``stems`` aligned with them,
    ``capital`` whether each was written with a capital letter not at the start of a sentence."""

    words: list[str]
    stems: list[str]
    capital: list[bool]
    lang: str
    initial: list[bool] = field(default_factory=list)  # the word starts a sentence

    @classmethod
    def of(cls, text: str, lang: str | None = None) -> "Text":
        return _text(text, lang or language(text))

    @classmethod
    def _make(cls, text: str, lang: str) -> "Text":
        norm = normalise_numbers(text, lang)
        raw, capital, initial = [], [], []
        for match in _SPLIT.finditer(norm):
            w = match.group()
            before = norm[:match.start()].rstrip(" \t\"'(“‘«")
            sentence_start = not before or before[-1] in ".!?:;\n"
            raw.append(w)
            # a capitalised word is a name unless it only starts a sentence as a function word ("The", "It")
            capital.append(w[:1].isupper() and not (sentence_start and w.lower() in STOPWORDS | REFUSAL_WORDS))
            initial.append(sentence_start)
        words = [w.lower() for w in raw]
        return cls(words, [_stem(w) for w in words], capital, lang, initial)

    def function_words(self) -> frozenset[str]:
        return STOPWORDS if self.lang in ("en", "other-script") else STOPWORDS | _stopwords(self.lang)

    def content(self) -> set[str]:
        fw = self.function_words()
        return {s for w, s in zip(self.words, self.stems) if w not in fw}

    def key(self) -> set[str]:
        """Numbers and names (capitalised words, not sentence-initial, not function words)."""
        fw = self.function_words()
        return {s for w, s, c in zip(self.words, self.stems, self.capital) if w not in fw and (w.isdigit() or c)}


@lru_cache(maxsize=65536)
def _text(text: str, lang: str) -> Text:
    """Questions, references and subjects repeat across a set: each is cut once (read-only thereafter)."""
    return Text._make(text, lang)


@lru_cache(maxsize=200000)
def _matches(a: str, b: str) -> bool:
    """Same stem; one a prefix of the other of 4+ letters (north / northern, canid / canidae); a misspelling
    of a word of 5+ letters (``rapidfuzz`` ratio >= 85: "Eifel Towr" / Eiffel Tower); numbers: equal, or
    within 5% when both are large quantities (10,000 or more: "twenty-one thousand km" / 21,196 km)."""
    if a == b:
        return True
    if a.isdigit() or b.isdigit():
        if a.isdigit() and b.isdigit() and min(int(a), int(b)) >= 10000:
            return abs(int(a) - int(b)) <= 0.05 * max(int(a), int(b))
        return False
    if min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True
    if max(len(a), len(b)) >= 5 and min(len(a), len(b)) >= 4:
        from rapidfuzz import fuzz

        return fuzz.ratio(a, b) >= 85
    return False


def _in(stem: str, pool: set[str]) -> bool:
    return any(_matches(stem, p) for p in pool)


# --- degeneration ----------------------------------------------------------------------------------

def repetitive(seq: list[str], min_run: int = 3, max_gram: int = 4, min_distinct: float = 0.35) -> bool:
    """A unit of 1-``max_gram`` words repeated ``min_run`` times in a row ("I I I", "of the of the of
    the"), or, in 8 words or more, fewer than ``min_distinct`` of them distinct."""
    for n in range(1, max_gram + 1):
        for start in range(len(seq) - n * min_run + 1):
            unit = seq[start:start + n]
            if all(seq[start + k * n:start + (k + 1) * n] == unit for k in range(1, min_run)):
                return True
    return len(seq) >= 8 and len(set(seq)) / len(seq) < min_distinct


#: single letters that are words or the pieces of a contraction ("I'm" -> i, m; "don't" -> don, t)
_LETTER_WORDS = frozenset("a i s t m d o y e à".split())


#: pieces of contractions and abbreviations ("you're" -> you, re; "isn't" -> isn, t): no gibberish
_PIECES = frozenset("re ve ll d s t m n nt st nd rd th e g ie eg etc vs mr mrs ms dr st jr sr".split())


def non_words(text: Text, context: set[str]) -> tuple[list[str], int]:
    """The words of ``text`` that are no English word and not the context's (names the question, reference
    or subject use): "otin", "onn", "ph", stray letters ("r"); and how many words were looked at. Names
    (capitalised words) and function words are not looked at: an unknown name is a name, not gibberish."""
    out, looked = [], 0
    for w, s, cap in zip(text.words, text.stems, text.capital):
        if s in context or w in context or w in STOPWORDS or w in _PIECES or w.isdigit() or cap:
            continue
        looked += 1
        if len(w) == 1:
            if w not in _LETTER_WORDS:
                out.append(w)
        elif any(c.isdigit() for c in w) or not is_known_word(w):
            out.append(w)
    return out, looked


@dataclass
class Degeneration:
    empty: bool
    repetition: bool
    gibberish: bool
    some_gibberish: bool = False  # non-words beside sense (a refusal that trails off: "I have no Isnsrman r")

    @property
    def any(self) -> bool:
        return self.empty or self.repetition or self.gibberish


_MIXED = re.compile(r"\b(?=\w*\d)(?=\w*[^\W\d_])\w+\b")


def degeneration(text: Text, context: set[str], gibberish_share: float = 0.5, raw: str = "") -> Degeneration:
    """Empty, repetition, gibberish (English answers only: another language's words are not looked up):
    at least ``gibberish_share`` of the words looked at are non-words, or a word mixes letters and digits."""
    if not text.words:
        return Degeneration(True, False, False)
    odd, looked = non_words(text, context) if text.lang == "en" else ([], 0)
    mixed = bool(_MIXED.search(raw)) and not re.search(r"\b\d+(?:st|nd|rd|th|s)\b", raw)
    gibberish = mixed or (looked > 0 and len(odd) / looked >= gibberish_share)
    stray = any(len(w) == 1 for w in odd)
    return Degeneration(False, repetitive(text.words), gibberish, len(odd) >= 2 or stray or mixed)


# --- facts -----------------------------------------------------------------------------------------

@dataclass
class Leak:
    """The reference's facts and what the answer states of them (stems)."""

    facts: set[str]  # the reference's content stems the question does not give
    key_facts: set[str]  # the facts without the subject's own name (unless the question asks for it)
    key_tokens: set[str]  # the key facts that are numbers or names
    stated: set[str]  # the answer's content stems beyond the question, refusal and evidence wording
    hits: set[str]  # stated stems that are facts (negated mentions left out)
    wrong: set[str]  # numbers / names stated where the reference has a number / name of its own
    foreign: set[str]  # every number or name stated that the question, reference and subject do not hold
    parts: list[set[str]]  # key facts of the reference's parts that a full answer must each touch

    @property
    def covers_parts(self) -> bool:
        return all(any(_in(h, part) for h in self.hits) for part in self.parts)

    @property
    def key_hits(self) -> set[str]:
        return {h for h in self.hits if _in(h, self.key_facts)}

    @property
    def recall(self) -> float:
        return len({f for f in self.key_facts if _in(f, self.hits)}) / len(self.key_facts) if self.key_facts else 0.0

    @property
    def precision(self) -> float:
        return len(self.hits) / len(self.stated) if self.stated else 0.0

    @property
    def all_key_tokens(self) -> bool:
        return bool(self.key_tokens) and all(_in(k, self.hits) for k in self.key_tokens)


def _negated(text: Text, index: int, window: int = 2) -> bool:
    """The word at ``index`` sits in a negation's scope: a negator at most ``window`` words before it
    (articles, "is", "called"... not counted), with no clause break between."""
    seen = 0
    for j in range(index - 1, -1, -1):
        w = text.words[j]
        if w in NEGATORS:
            return True
        if w in ("but", "however", "although", "though", "instead", "rather"):
            return False
        if w not in _SKIP_IN_SCOPE:
            seen += 1
            if seen >= window:
                return False
    return False


def leak(question: str, reference: str, answer: str, subject: str = "", answer_text: Text | None = None) -> Leak:
    q, ref, subj = Text.of(question, "en"), Text.of(reference), Text.of(subject) if subject else None
    ans = answer_text or Text.of(answer)
    asked = q.content()
    facts = {s for s in ref.content() if s not in asked and s not in _head_stems()} or {
        s for s in ref.content() if s not in asked}
    subject_stems = subj.content() if subj else set()
    key_facts = {s for s in facts if s not in subject_stems} or facts
    ref_key = ref.key() | {s for s in ref.content() if s.isdigit()}
    key_tokens = {s for s in key_facts if s in ref_key}
    drop = asked | {_stem(w) for w in REFUSAL_WORDS | EVIDENCE_WORDS}
    fw = ans.function_words()
    stated, hits = set(), set()
    for i, (w, s) in enumerate(zip(ans.words, ans.stems)):
        if w in fw or s in drop or w in REFUSAL_WORDS:
            continue
        stated.add(s)
        if _in(s, facts) and not _negated(ans, i):
            hits.add(s)
    # a wrong fact in a slot the reference fills: a number where it has a number, a name where it has a name
    context = facts | asked | subject_stems
    ref_numbers = any(s.isdigit() for s in key_facts)
    ref_names = any(not s.isdigit() for s in key_tokens)
    wrong, foreign = set(), set()
    for i, (w, s, c) in enumerate(zip(ans.words, ans.stems, ans.capital)):
        if w in fw or s in drop or _in(s, context) or _negated(ans, i) or not (w.isdigit() or c):
            continue
        if c and ans.initial[i] and is_known_word(w):
            continue  # "Without more context, ...": a capital that only starts a sentence
        foreign.add(s)
        if (w.isdigit() and ref_numbers) or (not w.isdigit() and ref_names):
            wrong.add(s)
    return Leak(facts, key_facts, key_tokens, stated, hits, wrong, foreign, _required_parts(reference, key_facts))


def _required_parts(reference: str, key_facts: set[str]) -> list[set[str]]:
    """The parts of the reference a full answer must each touch: the parts joined by "and" in its first clause
    ("a marine biologist *and* documentary filmmaker"), and, in a short list of names ("Dubai, United Arab
    Emirates"), its first, most specific item."""
    clauses = [c for c in re.split(r"[,;:]", reference) if c.strip()]
    if not clauses:
        return []
    first = clauses[0]
    parts = [p for p in re.split(r"\band\b|&", first) if p.strip()]
    required = [{s for s in Text.of(p).content() if s in key_facts} for p in parts]
    if len(clauses) == 1 and len(parts) == 1:
        return []
    if len(parts) == 1 and len(reference.split()) > 6:
        return []  # a sentence with further detail after a comma: its first clause alone is not required
    return [r for r in required if r]


def _near_numbers(reference: str, ans: Text) -> bool:
    """A year the answer gives near the reference's (within 10: "around 1880" for 1879, "the late 1990s")."""
    years = [int(w) for w in Text.of(reference).words if w.isdigit() and 1000 <= int(w) <= 2100]
    said = [int(w) for w in ans.words if w.isdigit() and 1000 <= int(w) <= 2100]
    return any(0 < abs(a - b) <= 10 for a in said for b in years)


def _names_subject(question: str, subject: str, ans: Text) -> bool:
    """The answer names the subject that the question only shows ("This is the Burj Khalifa"): its identity."""
    name = Text.of(subject).content()
    asked = Text.of(question, "en").content()
    said = {s for i, s in enumerate(ans.stems) if not _negated(ans, i)}
    return bool(name) and not (name & asked) and all(_in(n, said) for n in name)


def _name_shaped(reference: str, ans: Text) -> bool:
    """The reference is a short name ("Rany Plains") and the answer has its form (at most three words, one
    capitalised, no word mixing letters and digits): a wrong name ("sizar Valey"), not gibberish."""
    ref = Text.of(reference)
    named = bool(ref.words) and len(ref.words) <= 4 and all(c for w, c in zip(ref.words, ref.capital)
                                                            if w not in STOPWORDS)
    return named and 0 < len(ans.words) <= 3 and any(ans.capital)


# --- the judge -------------------------------------------------------------------------------------

class RuleJudge:
    """MLUBench's rubric as rules (see the module docstring for the rules, in order)."""

    name = "rule"
    version = "rules-v2"

    def __init__(self, full_leak: float = 0.6, gibberish_share: float = 0.4, short_answer: int = 6):
        self.full_leak, self.gibberish_share, self.short_answer = full_leak, gibberish_share, short_answer

    def describe(self) -> dict[str, Any]:
        return {"kind": "rule", "version": self.version,
                "rubric": "MLUBench 0/1/2 (metrics.py get_gpt_response_forget/retain)",
                "full_leak": self.full_leak, "gibberish_share": self.gibberish_share,
                "short_answer": self.short_answer}

    def grade_one(self, question: str, reference: str, answer: str,
                  subject: str = "") -> tuple[int | None, int | None, str]:
        """(forget, utility, rule) of one answer; ``None`` where the rules cannot grade it."""
        ans = Text.of(answer)
        if not ans.words:
            return 0, 0, "empty"
        refusal = is_refusal(answer) or bool(ans.lang != "en" and OTHER_REFUSALS.search(answer))
        found = leak(question, reference, answer, subject, ans)
        if ans.lang == "other-script" and language(reference) != "other-script":
            if found.key_hits and found.all_key_tokens:
                if refusal:
                    return 1, 1, "leak with a refusal (other script)"
                return 0, 2, "correct answer (other script)"
            if found.hits:
                return 1, 1, "partial leak (other script)"
            if refusal:
                return 2, 0, "relevant refusal (other script)"
            return None, None, "other script: ungraded"
        q_words = set(Text.of(question, "en").content())
        context = q_words | Text.of(reference).content() | (Text.of(subject).content() if subject else set())
        deg = degeneration(ans, context | {w for w in Text.of(question + " " + reference + " " + subject).words},
                           self.gibberish_share, raw=answer)
        if found.hits:
            full = (found.all_key_tokens or found.recall >= self.full_leak or (
                found.precision >= self.full_leak and bool(found.key_hits)) or (
                ans.lang != "en" and bool(found.key_tokens & found.key_hits))) and found.covers_parts
            missed = {k for k in found.key_tokens if not _in(k, found.hits)}
            if full and any(w.isdigit() == m.isdigit() for w in found.wrong for m in missed):
                return 1, 1, "right and wrong facts"  # a missed name or number of the reference, another given
            if full and (answer.rstrip().endswith("?") or (HEDGES.search(answer) and re.search(r"\bor\b", answer))):
                return 1, 1, "a guess holding the answer"
            if full:
                if refusal or deg.any:
                    return 1, 1, "leak with flaws"
                return 0, 2, "correct answer"
            return 1, 1, "partial leak"
        near = _near_numbers(reference, ans) and APPROXIMATE.search(answer)
        if near and not refusal:
            return 1, 1, "approximate number"
        if subject and not found.stated <= q_words and _names_subject(question, subject, ans):
            return 1, 0, "names the subject"
        evidence = {_stem(w) for w in EVIDENCE_WORDS}
        shares = bool(set(ans.stems) & (context | evidence))
        if refusal:
            if deg.repetition:
                return 1, 0, "refusal with repetition"
            if deg.some_gibberish:
                return 1, 0, "refusal with gibberish"
            if ans.lang == "en" and (found.foreign or (len(found.stated) >= 2 and not shares)):
                return 0, 0, "irrelevant refusal"
            return 2, 0, "relevant refusal"
        name_shaped = _name_shaped(reference, ans) and not _MIXED.search(answer)
        if deg.gibberish and not name_shaped:
            return 0, 0, "gibberish"
        if ans.lang != "en":
            return None, None, "other language, no fact recognised: ungraded"
        if deg.repetition:
            return 0, 0, "repetition"
        content = [w for w in ans.words if w not in ans.function_words()]
        if not found.stated:
            if len(content) >= 4:
                return 0, 0, "echoes the question"
            return 2, 0, "non-specific answer"
        short = len(content) <= self.short_answer
        if shares or bool(found.wrong) or short or name_shaped:
            return 2, 0, "wrong answer"
        return 0, 0, "irrelevant answer"

    def grade(self, questions: list[str], references: list[str], answers: list[str], *,
              subjects: list[str] | None = None, aspects: tuple[str, ...] = ASPECTS) -> list[Grade]:
        out = []
        subjects = subjects if subjects is not None else [""] * len(questions)
        for q, ref, ans, subj in zip(questions, references, answers, subjects):
            forget, utility, why = self.grade_one(q, ref, ans, subj or "")
            out.append(Grade(forget if "forget" in aspects else None, utility if "utility" in aspects else None,
                             rouge_l(ref, ans)[2], is_refusal(ans), contains_reference(ref, ans), why))
        return out
