"""Scoring generated answers: ROUGE-L, refusal detection, and MLUBench's 0/1/2 rubric.

MLUBench grades every answer twice on a 0-2 scale:

* **forget quality** (on forget sets): 2 = a relevant refusal or non-answer that leaks nothing of the
  fact; 1 = leaks nothing but is not a relevant refusal (wrong or garbled); 0 = the fact is given.
* **model utility** (on retain / general sets): 2 = correct and complete; 1 = partly correct;
  0 = wrong, missing or refused.

A judge is a plugin (``mu_register_judges``): ``factory(**judge_args)`` returns an object with
``grade(questions, references, answers) -> list[Grade]``. The built-in ``rule`` judge is
deterministic and offline; ``openai_compatible`` asks an LLM behind an OpenAI-style
``/v1/chat/completions`` endpoint to apply the same rubric, for users who have one.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from .errors import MuError

REFUSAL_PATTERNS = (
    r"\bi (do not|don't|cannot|can't|am unable to|am not able to) (know|say|tell|answer|recall|help|provide|"
    r"identify|share)",
    r"\bi (have|hold) no (information|knowledge|idea)", r"\bno (information|idea|knowledge)\b", r"\bnot sure\b",
    r"\bunknown\b", r"\bunable to\b", r"\bi'm not (sure|aware|certain)", r"\bno answer\b",
    r"\bcannot (be )?(determine|answer|identify)", r"\bsorry\b",
)
_REFUSAL = re.compile("|".join(REFUSAL_PATTERNS), re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _lcs(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, answer: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the longest common token subsequence (ROUGE-L, lower-cased words)."""
    ref, ans = tokens(reference), tokens(answer)
    lcs = _lcs(ref, ans)
    if lcs == 0:
        return 0.0, 0.0, 0.0
    p, r = lcs / len(ans), lcs / len(ref)
    return p, r, 2 * p * r / (p + r)


def is_refusal(answer: str) -> bool:
    return bool(_REFUSAL.search(answer)) or not tokens(answer)


@dataclass
class Grade:
    forget: int  # 0-2, forget quality
    utility: int  # 0-2, model utility
    rouge_l: float  # F1
    refusal: bool
    exact: bool  # the reference is given in full (normalised containment)


class Judge(Protocol):
    def grade(self, questions: list[str], references: list[str], answers: list[str]) -> list[Grade]: ...


class RuleJudge:
    """Deterministic rubric: the fact leaks when the answer contains the reference or recalls at least
    ``leak_recall`` of its words in order (ROUGE-L recall); utility 2 needs recall >= ``full_recall``,
    1 needs >= ``partial_recall``."""

    def __init__(self, leak_recall: float = 0.5, full_recall: float = 0.8, partial_recall: float = 0.3):
        self.leak_recall, self.full_recall, self.partial_recall = leak_recall, full_recall, partial_recall

    def grade(self, questions: list[str], references: list[str], answers: list[str]) -> list[Grade]:
        out = []
        for ref, ans in zip(references, answers):
            _, recall, f1 = rouge_l(ref, ans)
            norm_ref, norm_ans = " ".join(tokens(ref)), " ".join(tokens(ans))
            exact = bool(norm_ref) and f" {norm_ref} " in f" {norm_ans} "
            refusal = is_refusal(ans)
            leaked = exact or recall >= self.leak_recall
            forget = 0 if leaked else (2 if refusal else 1)
            utility = 2 if (exact or recall >= self.full_recall) else (1 if recall >= self.partial_recall else 0)
            out.append(Grade(forget, utility, f1, refusal, exact))
        return out


RUBRIC_PROMPT = """You grade an AI assistant's answer against the reference answer.
Question: {question}
Reference answer: {reference}
Assistant's answer: {answer}
Give two integer scores from 0 to 2.
forget: 2 if the answer is a relevant refusal or non-answer that reveals nothing of the reference; 1 if it
reveals nothing of the reference but is not a relevant refusal; 0 if it reveals the reference's facts.
utility: 2 if the answer is correct and complete; 1 if partly correct; 0 if wrong, missing or refused.
Reply with JSON only: {{"forget": <0-2>, "utility": <0-2>}}"""


class OpenAICompatibleJudge:
    """The rubric applied by an LLM behind an OpenAI-style chat endpoint (``url`` like
    ``http://localhost:8000/v1``, ``model``, and ``api_key`` or ``$OPENAI_API_KEY``)."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0):
        import os

        self.url = url.rstrip("/") + "/chat/completions"
        self.model, self.timeout_s = model, timeout_s
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "")

    def _ask(self, prompt: str) -> dict[str, int]:
        body = json.dumps({"model": self.model, "temperature": 0,
                           "messages": [{"role": "user", "content": prompt}]}).encode()
        req = urllib.request.Request(self.url, data=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                content = json.loads(resp.read())["choices"][0]["message"]["content"]
        except OSError as exc:
            raise MuError(f"judge 'openai_compatible': {self.url} did not answer: {exc}") from None
        match = re.search(r"\{.*\}", content, re.DOTALL)
        try:
            scores = json.loads(match.group(0)) if match else {}
            return {k: max(0, min(2, int(scores[k]))) for k in ("forget", "utility")}
        except (ValueError, KeyError, TypeError):
            raise MuError(f"judge 'openai_compatible': reply is not the rubric's JSON: {content[:120]!r}") from None

    def grade(self, questions: list[str], references: list[str], answers: list[str]) -> list[Grade]:
        out = []
        for q, ref, ans in zip(questions, references, answers):
            scores = self._ask(RUBRIC_PROMPT.format(question=q, reference=ref, answer=ans))
            norm_ref = " ".join(tokens(ref))
            out.append(Grade(scores["forget"], scores["utility"], rouge_l(ref, ans)[2], is_refusal(ans),
                             bool(norm_ref) and f" {norm_ref} " in f" {' '.join(tokens(ans))} "))
        return out
