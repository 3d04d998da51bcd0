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

One reading of the forget prompt is fixed for every judge here: a *wrong* answer that is relevant and
sensible (a wrong city for "where was this person born?") is 2, since the release's prompt reserves 0 for
answers that are irrelevant, nonsensical or "answer the question with **correct** information", and a
wrong answer reveals none of the ground truth (the LLM judge's prompt says the same; see the README).

A judge is a plugin (``mu_register_judges``): ``factory(**judge_args)`` returns an object with
``grade(questions, references, answers) -> list[Grade]``; a judge whose ``grade`` also takes
``subjects`` (the entity each row is about; MLUBench's judge is told the subject) and ``aspects``
(``("forget",)``, ``("utility",)`` or both: what the set is graded for) is given them. A grade the
judge could not give is ``None`` (ungraded), never 0. The built-in ``rule`` judge
(``mu_registry_plugins.judges.rule``) is deterministic and offline; ``openai_compatible``
(``mu_registry_plugins.judges.openai_compatible``)
asks an LLM, as MLUBench does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

ASPECTS = ("forget", "utility")

# --- words ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")

REFUSAL_PATTERNS = (
    r"\bi(?: a|')?m (?:sorry|afraid|not (?:sure|aware|certain|able)|unable)",
    r"\bi (?:do not|don't|dont|cannot|can't|cant|could not|couldn't|am unable to|am not able to|have no|"
    r"lack|won't|will not|must decline|refuse)\b",
    r"\b(?:sorry|unfortunately|apologi[sz]e)\b", r"\bno (?:information|idea|knowledge|answer|details?)\b",
    r"\bnot (?:sure|certain|possible|able)\b", r"\bunable to\b", r"\bunknown\b",
    r"\bcannot (?:be )?(?:determine|answer|identif|say|tell|provide)",
    r"\bwithout (?:more|further|additional|any) (?:specific )?(?:details|information|context)\b",
    r"\b(?:cannot|can't|can not|could not|couldn't) (?:be )?(?:identif|determin|tell|say|know|recogni|confirm|"
    r"provide|answer|share|help|assist|disclose|reveal|discuss|make out)",
    r"\b(?:hard|difficult|impossible) to (?:say|tell|determine|identify|know|make out)\b", r"\bno way (?:to|of)\b",
    r"\btoo (?:\w+ )?(?:blurry|dark|small|low|unclear|grainy|far)\b", r"\brather not\b",
    r"\bnot (?:possible|able) to\b", r"\bnot in a position to\b",
)
_REFUSAL = re.compile("|".join(REFUSAL_PATTERNS), re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-cased ASCII words and numbers (what ``accuracy``'s containment test compares)."""
    return _TOKEN.findall(text.lower())


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
