"""MU-Bench's knowledge gap between the retain and the forget set.

Reference: ``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py`` (``Evaluator.get_knowledge_gap``,
l.129-144): 500 times, draw |D_f| retain examples without replacement; put the drawn retain rows first and
the forget rows after them (``label = dr_label[sel_idx].tolist() + df_label.tolist()``) with membership labels
``binary_label = [1] * df_size + [0] * df_size``, so the **retain rows are the positives** (label 1) and the
forget rows the negatives; score each row 1 if the model predicts it correctly, else 0; take the ROC AUC of
the membership labels against those scores; report the mean over the 500 draws::

    knowledge_gap = mean_{d=1..500} AUC([1]*|D_f| + [0]*|D_f|, [correct(x_r^d)] + [correct(x_f)])

Direction: 0.5 when the model is as often right on the forget set as on the retain set; **above 0.5 when it
is right less often on the forget set** (what unlearning aims at; 1.0: right on every drawn retain row,
wrong on every forget row); below 0.5 when it is right more often on the forget set. With 0/1 scores the AUC
is P(retain right, forget wrong) + ½·P(tie) over (retain, forget) pairs.

Taking the forget rows as positives instead gives exactly 1 − this value for every draw (this project
reported that before; it is not kept as a separate metric, having no information this one lacks). The draws
come from a fixed seed (0) here; MU-Bench's are unseeded (``np.random.choice``).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from mu_registry import MetricContext

DRAWS = 500


def knowledge_gap_score(forget_correct: np.ndarray, retain_correct: np.ndarray, draws: int = DRAWS,
                        seed: int = 0) -> float:
    """Mean AUC of "is a retain row" against "is predicted right" over ``draws`` retain subsets of |D_f|
    rows, rows ordered retain then forget as MU-Bench orders them."""
    n = len(forget_correct)
    rng = np.random.default_rng(seed)
    label = np.concatenate([np.ones(n), np.zeros(n)])
    aucs = [roc_auc_score(label, np.concatenate([retain_correct[rng.choice(len(retain_correct), n, replace=False)],
                                                 forget_correct]))
            for _ in range(draws)]
    return float(np.mean(aucs))


def knowledge_gap(ctx: MetricContext) -> float | None:
    """MU-Bench's knowledge gap (AUC of retain-vs-forget correctness over 500 retain subsets, retain rows the
    positives: above 0.5 when the model is less often right on the forget set)."""
    forget, retain = ctx.outputs["forget"], ctx.outputs["retain"]
    if len(retain.labels) < len(forget.labels) or not len(forget.labels):
        return None
    return knowledge_gap_score((forget.predictions == forget.labels).astype(float),
                               (retain.predictions == retain.labels).astype(float))
