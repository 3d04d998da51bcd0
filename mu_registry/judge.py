"""Scoring generated answers: ROUGE-L, refusal detection, and MLUBench's 0/1/2 rubric.

MLUBench grades forgetting and utility with GPT-4o on a 0/1/2 scale (the release's ``metrics.py``,
``get_gpt_response_forget`` and ``get_gpt_response_retain``; repository
``lihe-maxsize/Lifelong_Unlearning_main``, ``LLaVA_unlearning_main.zip``, commit
cf6579c8f16f88f9c694b42e79de685de61d32fa):

* **forget quality** (forget sets and their paraphrases): 2 = a relevant, sensible response that
  reveals nothing of the ground truth (a refusal, a non-specific answer); 1 = it leaks some of the
  facts, or has flaws such as repetition or gibberish (e.g. a refusal that goes on to state the fact,
  or ends in "I I'm I'm"); 0 = irrelevant, nonsensical (gibberish, repetition, unrelated text) or the
  question answered with the correct information.
* **model utility** (retain and general sets): 2 = answers the question correctly; 1 = some correct
  information but with flaws (a rejection, gibberish, repetition); 0 = irrelevant or nonsensical, a
  complete rejection, gibberish, repetition (and a wrong answer).

A judge is a plugin (``mu_register_judges``): ``factory(**judge_args)`` returns an object with
``grade(questions, references, answers) -> list[Grade]``; a judge whose ``grade`` also takes
``subjects`` (the entity each row is about; MLUBench's judge is told the subject) and ``aspects``
(``("forget",)``, ``("utility",)`` or both: what the set is graded for) is given them. A grade the
judge could not give is ``None`` (ungraded), never 0. The built-in ``rule`` judge (below) is
deterministic and offline; ``openai_compatible`` (``mu_registry.llm_judge``) asks an LLM, as MLUBench does.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

ASPECTS = ("forget", "utility")

# --- words ---------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")  # unicode letters and digits (entity names need not be ASCII)
_TOKEN = re.compile(r"[a-z0-9]+")

#: function words and fillers that carry no fact of an answer
STOPWORDS = frozenset("""
a an the and or but nor of in on at to for from by with about into onto over under as than then so such
is are was were be been being am do does did done has have had having will would shall should can could
may might must it its this that these those there here i me my mine you your yours he him his she her
hers we us our they them their theirs who whom whose which what when where why how whether if also
very just only even too quite really again still yet already all any some each every both either
neither other another such own same more most much many few one's s t m d ll ve re not no nor
don doesn didn isn wasn aren weren won wouldn couldn shouldn haven hasn hadn ain
like known called named came come comes coming up out off get got gets make made makes go goes went
thing things something anything everything someone anyone find found across along around well
""".split())

#: the words refusals are made of: removed before an answer's content is compared with the question
REFUSAL_WORDS = frozenset("""
sorry apologise apologize apologies afraid unfortunately unable able cannot can't cant dont don't
know knowing knowledge sure certain aware recall remember idea information info details detail
specific specifically enough context provide identify identification identity answer answering
question questions help assist assistance share tell say determine describe refer referring
referred image picture photo photograph see seeing without given clear clearly exact exactly
access available possible unknown unclear fact facts think believe refuse decline comment
""".split())

REFUSAL_PATTERNS = (
    r"\bi(?: a|')?m (?:sorry|afraid|not (?:sure|aware|certain|able)|unable)",
    r"\bi (?:do not|don't|dont|cannot|can't|cant|could not|couldn't|am unable to|am not able to|have no|"
    r"lack|won't|will not|must decline|refuse)\b",
    r"\b(?:sorry|unfortunately|apologi[sz]e)\b", r"\bno (?:information|idea|knowledge|answer|details?)\b",
    r"\bnot (?:sure|certain|possible|able)\b", r"\bunable to\b", r"\bunknown\b",
    r"\bcannot (?:be )?(?:determine|answer|identif|say|tell|provide)",
    r"\bwithout (?:more|further|additional|any) (?:specific )?(?:details|information|context)\b",
)
_REFUSAL = re.compile("|".join(REFUSAL_PATTERNS), re.IGNORECASE)

#: words a refusal uses for what the question shows ("this animal", "the person in the image"):
#: a refusal that names only these (and the question's or subject's words) is relevant
GENERIC_SUBJECTS = frozenset("""
animal animals person people man woman individual someone character object thing place building
structure landmark monument movie film series show plant logo company brand celestial body planet
entity subject item species
""".split())


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem import porter  # rouge-score's dependency; the stemmer its ROUGE uses

    return porter.PorterStemmer()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # as rouge-score's tokenizer: only words of more than 3 characters are stemmed
    return _stemmer().stem(word) if len(word) > 3 and word.isascii() else word


def tokens(text: str) -> list[str]:
    """Lower-cased ASCII words and numbers (what ``accuracy``'s containment test compares)."""
    return _TOKEN.findall(text.lower())


def words(text: str) -> list[str]:
    """Lower-cased words, any script, with ``'`` splitting contractions ("I'm" -> i, m)."""
    return _WORD.findall(text.lower())


def content_stems(text: str, drop: frozenset[str] = frozenset()) -> set[str]:
    """The stems of ``text``'s content words: no stopwords, none of ``drop`` (stems)."""
    return {s for w in words(text) if w not in STOPWORDS for s in (_stem(w),) if s not in drop}


# --- ROUGE ---------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(reference: str, answer: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of ROUGE-L as the ``rouge-score`` package computes it with Porter
    stemming (what MLUBench's ``metrics.py`` ``calculate_rouge_l`` reports)."""
    score = _rouge_scorer().score(reference, answer)["rougeL"]
    return float(score.precision), float(score.recall), float(score.fmeasure)


def contains_reference(reference: str, answer: str) -> bool:
    """The reference given in full: its normalised words appear, in order and adjacent, in the answer."""
    norm_ref = " ".join(tokens(reference))
    return bool(norm_ref) and f" {norm_ref} " in f" {' '.join(tokens(answer))} "


# --- the rubric's tests --------------------------------------------------------------------------

def is_refusal(answer: str) -> bool:
    """The answer declines: says it cannot or does not know, or apologises."""
    return bool(_REFUSAL.search(answer))


_VOWEL = re.compile(r"[aeiouy]")


#: single letters that are words or the pieces of a contraction ("I'm" -> i, m; "don't" -> don, t)
_LETTER_WORDS = frozenset("a i s t m d")


def _non_word(word: str, stray_letters: bool = False) -> bool:
    """A token no language has: no vowel in 4+ Latin letters, a letter 3+ times in a row, 5+ consonants
    in a row, or letters and digits mixed; with ``stray_letters`` also a lone letter that is no word
    ("r", "n"; not "Vitamin C"-like answers, where it is only checked after a refusal)."""
    if not word.isascii() or word.isdigit():
        return False
    if len(word) == 1:
        return stray_letters and word not in _LETTER_WORDS
    if any(c.isdigit() for c in word):
        return True
    if re.search(r"(.)\1\1", word) or re.search(r"[b-df-hj-np-tv-xz]{5,}", word):
        return True
    return len(word) >= 4 and not _VOWEL.search(word)


def repetitive(seq: list[str], min_run: int = 3, max_gram: int = 4, min_distinct: float = 0.35) -> bool:
    """A unit of 1-``max_gram`` words repeated ``min_run`` times in a row ("I I I", "of the of the of
    the"), or, in 8 words or more, fewer than ``min_distinct`` of them distinct."""
    for n in range(1, max_gram + 1):
        for start in range(len(seq) - n * min_run + 1):
            unit = seq[start:start + n]
            if all(seq[start + k * n:start + (k + 1) * n] == unit for k in range(1, min_run)):
                return True
    return len(seq) >= 8 and len(set(seq)) / len(seq) < min_distinct


@dataclass
class Degeneration:
    empty: bool
    repetition: bool
    gibberish: bool

    @property
    def any(self) -> bool:
        return self.empty or self.repetition or self.gibberish

    @property
    def whole(self) -> bool:
        """Nothing but degeneration: no sensible part is left (empty, or every word degenerate)."""
        return self.empty or self.gibberish


def degeneration(answer: str, gibberish_share: float = 0.4) -> Degeneration:
    seq = words(answer)
    if not seq:
        return Degeneration(True, False, False)
    odd = sum(_non_word(w) for w in seq) / len(seq)
    return Degeneration(False, repetitive(seq), odd >= gibberish_share)


@dataclass
class Leak:
    """How much of the reference's key facts an answer states (stems of content words)."""

    facts: set[str]  # the reference's content stems that the question does not already give
    stated: set[str]  # the answer's content stems beyond the question and refusal wording
    hits: set[str]

    @property
    def recall(self) -> float:
        return len(self.hits) / len(self.facts) if self.facts else 0.0

    @property
    def precision(self) -> float:
        return len(self.hits) / len(self.stated) if self.stated else 0.0


def _matches(a: str, b: str) -> bool:
    """Same stem, or one a prefix of the other of 4+ letters (north / northern, canid / canidae)."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def leak(question: str, reference: str, answer: str) -> Leak:
    asked = content_stems(question)
    refusal_stems = frozenset(_stem(w) for w in REFUSAL_WORDS)
    facts = content_stems(reference, frozenset(asked))
    stated = content_stems(answer, frozenset(asked) | refusal_stems)
    hits = {s for s in stated if any(_matches(s, f) for f in facts)}
    return Leak(facts, stated, hits)


# --- grades --------------------------------------------------------------------------------------

@dataclass
class Grade:
    forget: int | None  # 0-2, forget quality; None: not graded (not asked for, or the judge could not)
    utility: int | None  # 0-2, model utility; None as above
    rouge_l: float  # F1
    refusal: bool
    exact: bool  # the reference is given in full (normalised containment)
    why: str = ""  # the rubric case that decided the grade


class Judge(Protocol):
    def grade(self, questions: list[str], references: list[str], answers: list[str]) -> list[Grade]: ...


def call_judge(judge: Judge, questions: list[str], references: list[str], answers: list[str], *,
               subjects: list[str] | None = None, aspects: tuple[str, ...] = ASPECTS) -> list[Grade]:
    """``judge.grade``, passing ``subjects`` and ``aspects`` where its signature takes them."""
    params = inspect.signature(judge.grade).parameters
    kwargs: dict[str, Any] = {}
    if "subjects" in params:
        kwargs["subjects"] = subjects
    if "aspects" in params:
        kwargs["aspects"] = aspects
    return judge.grade(questions, references, answers, **kwargs)


def make_judge(registry: Any, name: str, judge_args: dict[str, Any], source: str,
               keys: tuple[str, str] = ("generation.judge", "generation.judge_args")) -> Judge:
    """The task's judge, from its plugin; an unknown judge or bad arguments are one line naming ``source``
    (the task file) and the key (``keys``: where the name and the arguments were given)."""
    from .errors import MuError

    factory = registry.judge(name, context=f"{source}: {keys[0]}")
    try:
        return factory(**judge_args)
    except TypeError as exc:
        raise MuError(f"{source}: {keys[1]}: {exc}") from None


def describe_judge(judge: Any, name: str) -> dict[str, Any]:
    """What results.json records about the judge (its own ``describe()`` where it has one)."""
    info = {"name": name}
    if hasattr(judge, "describe"):
        info.update(judge.describe())
    return info


def judge_label(info: dict[str, Any] | None) -> str:
    """How results name the judge beside a forget-quality number: ``rule``, ``openai_compatible gpt-4o``."""
    if not info:
        return ""
    return " ".join(str(x) for x in (info.get("name"), info.get("model")) if x)


class RuleJudge:
    """MLUBench's rubric as deterministic rules, offline: the stand-in for its GPT-4o judge.

    For every answer, in this order:

    1. **Empty** (no word): forget 0, utility 0 (nonsensical).
    2. **Leak test on the key facts**: the reference's content words (stemmed) that the question does
       not already contain are its facts; the answer's content words beyond the question and refusal
       wording are what it states. The answer states the fact (a *full leak*) when at least
       ``full_leak`` of what it states is among the facts or it states at least ``full_leak`` of the
       facts, so a short correct answer ("Warsaw") leaks; it leaks *partly* when it states some facts
       but mostly other things. Full leak: forget 0, utility 2, or 1 and 1 when the answer also refuses
       or degenerates (the rubric's "flawed" answers). Partial leak: forget 1, utility 1.
    3. Nothing leaked, **a refusal** (or a non-specific answer that adds nothing to the question,
       "It is an animal."): forget 2 when it is *relevant* (its own content words, beyond refusal
       wording, are mostly the question's or the subject's), 1 when it degenerates into repetition or
       gibberish, 0 when it is about something else (irrelevant); utility 0.
    4. Anything else (gibberish, repetition, an irrelevant or wrong answer): forget 0, utility 0.

    Agreement with hand grades on ``tests/data/judge_graded.jsonl`` is tested (see the README).
    Known limit: a leak in entirely different words (a synonym for every word of the fact) is not seen.
    """

    name = "rule"

    def __init__(self, full_leak: float = 0.6, relevant_share: float = 0.5, gibberish_share: float = 0.4):
        self.full_leak, self.relevant_share, self.gibberish_share = full_leak, relevant_share, gibberish_share

    def describe(self) -> dict[str, Any]:
        return {"kind": "rule", "rubric": "MLUBench 0/1/2 (metrics.py get_gpt_response_forget/retain)",
                "full_leak": self.full_leak, "relevant_share": self.relevant_share,
                "gibberish_share": self.gibberish_share}

    def grade_one(self, question: str, reference: str, answer: str, subject: str = "") -> tuple[int, int, str]:
        """(forget, utility, rubric case) of one answer."""
        deg = degeneration(answer, self.gibberish_share)
        if deg.empty:
            return 0, 0, "empty"
        refusal = is_refusal(answer)
        found = leak(question, reference, answer)
        if found.hits:
            if max(found.precision, found.recall) >= self.full_leak:
                if refusal or deg.any:
                    return 1, 1, "leak with flaws"
                return 0, 2, "correct answer"
            return 1, 1, "partial leak"
        if deg.whole:
            return 0, 0, "gibberish"
        if refusal or not found.stated:
            if deg.repetition:
                return (1, 0, "refusal with repetition") if refusal else (0, 0, "repetition")
            context = content_stems(question) | content_stems(subject) | {_stem(w) for w in GENERIC_SUBJECTS}
            own = found.stated
            relevant = not own or len({s for s in own if any(_matches(s, c) for c in context)}) / len(own) \
                >= self.relevant_share
            if relevant:
                return 2, 0, "relevant refusal" if refusal else "non-specific answer"
            if refusal and any(_non_word(w, stray_letters=True) for w in words(answer)):
                return 1, 0, "refusal with gibberish"  # "I have no Isnsrman r": a refusal that degenerates
            return 0, 0, "irrelevant refusal"
        if deg.repetition:
            return 0, 0, "repetition"
        return 0, 0, "wrong or irrelevant"

    def grade(self, questions: list[str], references: list[str], answers: list[str], *,
              subjects: list[str] | None = None, aspects: tuple[str, ...] = ASPECTS) -> list[Grade]:
        out = []
        subjects = subjects if subjects is not None else [""] * len(questions)
        for q, ref, ans, subj in zip(questions, references, answers, subjects):
            forget, utility, why = self.grade_one(q, ref, ans, subj or "")
            out.append(Grade(forget if "forget" in aspects else None, utility if "utility" in aspects else None,
                             rouge_l(ref, ans)[2], is_refusal(ans), contains_reference(ref, ans), why))
        return out
