"""MU-Bench's overall unlearning score (Cheng & Amiri, 2024), as its released evaluation code computes it.

Reference: ``CLU-UML/MU-Bench`` at commit 48f5c7b, ``mubench/evaluation.py`` (``harmonic_mean`` and
``Evaluator.compute``)::

    a = 1 - |dt - dt_orig|            # test accuracy kept
    b = 1 - |df - random|             # forget accuracy near chance
    score = 2ab / (a + b)

with two guard rails that set the score to 0:

* ``|dt - dt_orig| / dt_orig > 0.2`` (0.4 for gradient ascent: MU-Bench's ``neggrad`` / ``grad_ascent``, ``ga`` here);
* ``df < random`` and ``(random - df) / random > 0.2`` (forgetting far *below* chance).

``dt`` is test accuracy, ``df`` forget accuracy. ``dt_orig`` and ``random`` are MU-Bench's constants
(``mubench/original_performance.py``) where the task is one of MU-Bench's datasets and the backbone one of
its backbones (see :mod:`.mubench_constants`); otherwise (the offline minis, other backbones) ``dt_orig``
is the measured original model's test accuracy and ``random`` is 1/K. The result records which:
``dt_orig``, ``random`` and ``published`` (1 where both constants are MU-Bench's, 0.5 where only
``random`` is, 0 where both were measured/derived here).

On random-subset forgetting the score targets chance-level forget accuracy, not the retrained model's
(which stays near test accuracy), so it can rank a method above the retrained model: that is MU-Bench's
definition, reproduced as published; ``gap_to_retrain`` measures the distance to retraining.
"""

from __future__ import annotations

from typing import Any

from mu_registry import MetricContext

from .mubench_constants import lookup

#: MU-Bench's methods whose test-accuracy guard rail is 0.4 instead of 0.2 (``Evaluator.compute``);
#: ``ga`` is this project's name for the same gradient ascent (``neggrad`` before issue 26's renames)
GRADIENT_ASCENT = frozenset({"ga", "neggrad", "grad_ascent"})


def mubench_score(dt: float, df: float, dt_orig: float, random: float, method: str | None = None) -> float:
    """MU-Bench's harmonic mean with both guard rails (``use_mode_connectivity`` off, its default)."""
    a = 1.0 - abs(dt - dt_orig)
    b = 1.0 - abs(df - random)
    score = 2 * a * b / (a + b) if a + b else 0.0
    limit = 0.4 if method in GRADIENT_ASCENT else 0.2
    if dt_orig > 0 and abs(dt - dt_orig) / dt_orig > limit:
        score = 0.0
    if df < random and (random - df) / random > 0.2:
        score = 0.0
    return score


def _pretrained(task: dict[str, Any] | None) -> str | None:
    args = ((task or {}).get("model") or {}).get("args") or {}
    return args.get("pretrained")


def mubench_overall(ctx: MetricContext) -> dict[str, float] | None:
    """MU-Bench's overall score on test and forget accuracy, and the constants it used."""
    if ctx.original is None or "test" not in ctx.original:
        return None
    task = ctx.task or {}
    consts = lookup(task.get("task"), _pretrained(task))
    dt_orig = consts.dt_orig if consts.dt_orig is not None else ctx.original["test"].accuracy()
    random = consts.random if consts.random is not None else 1.0 / ctx.num_classes
    score = mubench_score(ctx.outputs["test"].accuracy(), ctx.outputs["forget"].accuracy(), dt_orig, random,
                          ctx.method)
    published = 0.5 * (consts.dt_orig is not None) + 0.5 * (consts.random is not None)
    return {"score": score, "dt_orig": dt_orig, "random": random, "published": published}
