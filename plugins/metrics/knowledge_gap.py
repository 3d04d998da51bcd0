"""MU-Bench's knowledge gap between the forget and the retain set.

Reference: ``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py`` (``Evaluator.get_knowledge_gap``):
500 times, draw |D_f| retain examples without replacement; label forget examples 1 and retain examples
0; score each example 1 if the model predicts it correctly, else 0; take the ROC AUC of the labels
against those scores; report the mean over the 500 draws::

    knowledge_gap = mean_{d=1..500} AUC([1]*|D_f| + [0]*|D_f|, [correct(x_f)] + [correct(x_r^d)])

0.5: the model is as right on the forget set as on the retain set; below 0.5: less right on the forget
set. The draws come from a fixed seed (0) here; MU-Bench's are unseeded.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from mu_registry import MetricContext

DRAWS = 500


def knowledge_gap_score(forget_correct: np.ndarray, retain_correct: np.ndarray, draws: int = DRAWS,
                        seed: int = 0) -> float:
    """Mean AUC of "is a forget example" against "is predicted right" over ``draws`` retain subsets."""
    n = len(forget_correct)
    rng = np.random.default_rng(seed)
    label = np.concatenate([np.ones(n), np.zeros(n)])
    aucs = [roc_auc_score(label, np.concatenate([forget_correct,
                                                 retain_correct[rng.choice(len(retain_correct), n, replace=False)]]))
            for _ in range(draws)]
    return float(np.mean(aucs))


def knowledge_gap(ctx: MetricContext) -> float | None:
    """MU-Bench's knowledge gap (AUC of forget vs retain correctness over 500 retain subsets)."""
    forget, retain = ctx.outputs["forget"], ctx.outputs["retain"]
    if len(retain.labels) < len(forget.labels) or not len(forget.labels):
        return None
    return knowledge_gap_score((forget.predictions == forget.labels).astype(float),
                               (retain.predictions == retain.labels).astype(float))
