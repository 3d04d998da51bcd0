"""Evaluating a generative model on every set after a request: greedy answers, answer likelihood,
and the judge's grades, per set and per probe form (multimodal / text-only).

With a routing method (LUMoE) each row is answered by the adapter its route names, or by the base
model with every adapter off; rows are grouped by route so each adapter runs batched. The model is
asked through an evaluation engine (``mu_registry.evaluation.engines``: transformers or vLLM).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
from torch import nn

import mu_registry.evaluation.distributed as distributed
from mu_registry.evaluation.answer_cache import AnswerCache, weights_fingerprint
from mu_registry.evaluation.engines import ACTIVE, EvalEngine
from mu_registry.evaluation.engines.base import Sampling
from mu_registry.api.generative_model import LETTER_INSTRUCTION, GenerativeModel, parse_letter
from mu_registry.api.judge import ASPECTS, Grade, Judge
from mu_registry.evaluation.judging import call_judge
from mu_registry.api.qa import EncodedQA

Route = Callable[[nn.Module, EncodedQA], "list[str | None] | None"]
log = logging.getLogger(__name__)


@dataclass
class SetAnswers:
    answers: list[str]
    nll: np.ndarray  # token-mean NLL of the reference answer, per row
    routes: list[str | None] | None


def answer_sets(engine: EvalEngine, model: nn.Module, sets: dict[str, EncodedQA], *, route: Route | None,
                max_new_tokens: int, mode: str = "generate", cache: AnswerCache | None = None,
                stop: tuple[str, ...] = (), choice_scoring: str = "letter",
                sampling: Sampling | None = None) -> dict[str, SetAnswers]:
    """Answers (and reference-answer NLLs) for every set through ``engine``, greedy or sampled (``sampling``);
    with ``cache``, rows already answered by these exact weights, through the same route, for the same request
    (sampling settings included) are read back instead.
    In choice mode with ``choice_scoring`` "letter" (MLLMU-Bench) the answers are generated (the letter is read
    by ``choice_correct``); with "likelihood" the chosen option's text is the answer and the reference
    answer's NLL is its option's score (no second pass)."""
    model.eval()
    engine.sync(model)
    out = {}
    fingerprint = weights_fingerprint(model) if cache is not None else ""
    for name, data in sets.items():
        routes = route(model, data) if route is not None else None
        answers: list[str] = [""] * len(data)
        nll = np.zeros(len(data))
        groups: dict[str | None, list[int]] = {}
        for i, r in enumerate(routes if routes is not None else [None] * len(data)):
            groups.setdefault(r, []).append(i)
        for r, rows in groups.items():
            sub = data.take(rows)
            key = hit = None
            if cache is not None:
                key = cache.key(fingerprint, sub, {"mode": mode, "max_new_tokens": max_new_tokens, "stop": list(stop),
                                                   **({"choice_scoring": choice_scoring} if mode == "choice" else {}),
                                                   **(sampling.request() if sampling is not None else {}),
                                                   "route": r if routes is not None else "as-is"})
                hit = distributed.from_main(cache.get(key))  # every process takes the same path
            if hit is not None:
                got, scores = hit
            else:
                adapter = r if routes is not None else ACTIVE
                if mode == "choice" and choice_scoring == "likelihood":
                    got, option_scores = engine.choose(sub, adapter=adapter)
                    scores = _reference_scores(engine, sub, option_scores, adapter)
                else:
                    got = engine.generate(sub, max_new_tokens=max_new_tokens, stop=stop, adapter=adapter,
                                          **({"sampling": sampling} if sampling is not None else {}))
                    scores = engine.loglikelihood(sub, adapter=adapter)
                if cache is not None:
                    cache.put(key, got, scores)
            for k, i in enumerate(rows):
                answers[i] = got[k]
                nll[i] = scores[k]
        out[name] = SetAnswers(answers, nll, routes)
    return out


def one_shot(adapter: GenerativeModel, data: EncodedQA, seed: int, name: str | None = None) -> EncodedQA:
    r"""``data`` (lettered multiple choice) as MLLMU-Bench's ``eval.py`` asks it (``franciscoliu/MLLMU-Bench`` @
    0e3098e5ea7e4878ce4f19cdf873de1410b4d427, ``evaluate_classification``, modes forget / retain_shared /
    test): one entity of the set drawn (``random.sample(id_list, 1)``, the entities in order of appearance;
    here ``random.Random`` seeded with ``seed`` and the set's name, where eval.py's draw is unseeded), and
    before every question each question of that entity of the same kind shown with its correct letter::

        USER: <image>\nQuestion: {q}\nA: {a}\nB: {b}\nC: {c}\nD: {d}\nCorrect Answer: {letter}\n   (image questions,
                                                                             each with the entity's image)
        USER:\nQuestion: {q}\nA: ...\nCorrect Answer: {letter}\n                                  (text questions)

    then the row's own prompt (the model plugin's template), all one text. The example entity's own rows are
    left out (eval.py skips the questions it showed). An image row carries a tuple of images: the examples'
    then its own. A set with a single entity is returned as it is (eval.py would score nothing)."""
    assert data.options is not None, "one_shot is for multiple choice"
    units = list(dict.fromkeys(data.units))
    label = name or data.name
    if len(units) < 2:
        log.warning("%s: one entity only, evaluated without the one-shot example", label)
        return data
    example = random.Random(f"{seed}|{label}").sample(units, 1)[0]
    shots: dict[bool, list[str | None]] = {True: [], False: []}
    images: list[Any] = []
    for i in range(len(data)):
        if data.units[i] != example:
            continue
        body = data.questions[i].removesuffix(LETTER_INSTRUCTION)  # "{q}\nA: ...\nD: ...\n"
        letter = chr(65 + data.options[i].index(data.answer_texts[i]))
        has_image = data.images[i] is not None
        shots[has_image] += ["USER: ", None] if has_image else ["USER:\n"]
        shots[has_image].append(f"Question: {body}Correct Answer: {letter}\n")
        if has_image:
            images.append(data.images[i])
    keep = [i for i in range(len(data)) if data.units[i] != example]
    out = data.take(keep)
    prompts = [adapter.tokenize_prompt_after(shots[img is not None], question, img is not None)
               for question, img in zip(out.questions, out.images)]
    pictures = [None if img is None else (*images, img) if images else img for img in out.images]
    return replace(out, prompts=prompts, images=pictures)


def one_shot_sets(adapter: GenerativeModel, sets: dict[str, EncodedQA], seed: int,
                  memo: dict[str, tuple[EncodedQA, EncodedQA]] | None = None) -> dict[str, EncodedQA]:
    """``one_shot`` for every set (each its own example entity); with ``memo``, a set seen before (the same
    object) is not built again."""
    out = {}
    for name, data in sets.items():
        if memo is not None and name in memo and memo[name][0] is data:
            out[name] = memo[name][1]
            continue
        out[name] = one_shot(adapter, data, seed, name)
        if memo is not None:
            memo[name] = (data, out[name])
    return out


def _reference_scores(engine: EvalEngine, data: EncodedQA, option_scores: np.ndarray,
                      adapter: str | None) -> np.ndarray:
    """The reference answer's NLL: read from its option's score, computed only where it is no option."""
    assert data.options is not None
    scores = np.zeros(len(data))
    missing = []
    for i, (opts, ref) in enumerate(zip(data.options, data.answer_texts)):
        if ref in opts:
            scores[i] = option_scores[i, opts.index(ref)]
        else:
            missing.append(i)
    if missing:
        scores[missing] = engine.loglikelihood(data.take(missing), adapter=adapter)
    return scores


def _summary(grades: list[Grade], nll: np.ndarray, aspects: tuple[str, ...] = ASPECTS) -> dict[str, float]:
    """Means over the rows; a rubric score averages the graded rows only (``ungraded_<aspect>`` counts
    the rows the judge could not grade: they are never counted as 0)."""
    if not grades:
        return {}
    out: dict[str, float] = {"accuracy": float(np.mean([g.exact for g in grades]))}
    for aspect, key in (("forget", "forget_quality"), ("utility", "utility")):
        if aspect not in aspects:
            continue
        given = [v for g in grades if (v := getattr(g, aspect)) is not None]
        if given:
            out[key] = float(np.mean(given) / 2)
        if len(given) < len(grades):
            out[f"ungraded_{aspect}"] = len(grades) - len(given)
    out.update({"rouge_l": float(np.mean([g.rouge_l for g in grades])),
                "refusal_rate": float(np.mean([g.refusal for g in grades])),
                "nll": float(np.mean(nll)), "n": len(grades)})
    return out


def set_aspects(name: str) -> tuple[str, ...]:
    """What a set is graded for, as MLUBench grades it: forget sets (and their paraphrases) for forget
    quality (``get_gpt_response_forget``), retain and general sets for utility (``get_gpt_response_retain``)."""
    if name.startswith(("forget_", "paraphrase_")):
        return ("forget",)
    if name.startswith("retain_") or name == "general":
        return ("utility",)
    return ASPECTS


def choice_correct(answer: str, options: list[str], reference: str, scoring: str = "letter") -> bool:
    """Whether a multiple-choice answer is right: "letter" as MLLMU-Bench ``eval.py`` (franciscoliu/MLLMU-Bench @
    0e3098e5) scores it, the option named by the answer's first character (no letter: wrong); "likelihood":
    the chosen option's text is the reference."""
    if scoring == "likelihood":
        return answer == reference
    k = parse_letter(answer, len(options))
    return k is not None and options[k] == reference


def _choice_summary(correct: list[bool], nll: np.ndarray) -> dict[str, float]:
    if not correct:
        return {}
    return {"accuracy": float(np.mean(correct)), "nll": float(np.mean(nll)), "n": len(correct)}


def grade_sets(sets: dict[str, EncodedQA], answers: dict[str, SetAnswers], judge: Judge | None,
               choice_scoring: str = "letter", rows: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """Per set: accuracy (the reference given in full), MLUBench's forget quality (forget and paraphrase
    sets) or utility (retain and general sets) (0-1, the 0-2 rubric divided by 2, over the rows the judge
    graded), ROUGE-L F1, refusal rate, answer NLL; ``by_form`` the same per form.
    Without a judge (multiple choice): accuracy of the chosen option (``choice_correct``) and the answer NLL.
    ``rows``, when given, receives each set's per-answer grades (a :class:`Grade`, or the chosen option's
    correctness), for the answer files."""
    out: dict[str, Any] = {}
    for name, data in sets.items():
        got = answers[name]
        if judge is None:
            scoring = choice_scoring
            grades = [choice_correct(a, data.options[i] if data.options is not None else [], r, scoring)
                      for i, (a, r) in enumerate(zip(got.answers, data.answer_texts))]
            summary = _choice_summary
        else:
            aspects = set_aspects(name)
            grades = call_judge(judge, data.questions, data.answer_texts, got.answers,
                                subjects=[str(u) for u in data.units], aspects=aspects)
            summary = partial(_summary, aspects=aspects)
        if rows is not None:
            rows[name] = grades
        rec: dict[str, Any] = summary(grades, got.nll)
        forms = np.asarray(data.forms)
        by_form = {}
        for form in sorted(set(data.forms)):
            idx = np.flatnonzero(forms == form)
            by_form[form] = summary([grades[i] for i in idx], got.nll[idx])
        if len(by_form) > 1:
            rec["by_form"] = by_form
        if got.routes is not None:
            rec["routed_to_expert"] = float(np.mean([r is not None for r in got.routes])) if got.routes else 0.0
        out[name] = rec
    return out
