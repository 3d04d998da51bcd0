"""Membership inference against the unlearned model, as used across the MU literature.

The attack is trained to tell *members* (retain examples) from *non-members*
(test examples) by the model's prediction entropy, then applied to the forget
set (Jia et al., NeurIPS 2023; Fan et al., ICLR 2024):

* ``efficacy``: the fraction of forget examples the attack calls non-members
  (higher means the forget set looks unseen; compare with the retrain model);
* ``auc``: ROC AUC of the per-example loss separating forget (as members) from
  test examples; 0.5 means the forget set is indistinguishable from unseen data.

The attack uses a balanced, seeded sample of at most 2,000 retain and test examples.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mu_registry import MetricContext, SetOutputs

MAX_PER_CLASS = 2000


def entropy(out: SetOutputs) -> np.ndarray:
    p = np.clip(out.probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def mia(ctx: MetricContext) -> dict[str, float]:
    """Entropy-based membership inference: efficacy on the forget set, and forget-vs-test loss AUC."""
    retain, test, forget = ctx.outputs["retain"], ctx.outputs["test"], ctx.outputs["forget"]
    rng = np.random.default_rng(0)
    n = min(len(retain.labels), len(test.labels), MAX_PER_CLASS)
    r_idx, t_idx = rng.choice(len(retain.labels), n, replace=False), rng.choice(len(test.labels), n, replace=False)
    x = np.concatenate([entropy(retain)[r_idx], entropy(test)[t_idx]])[:, None]
    y = np.concatenate([np.ones(n), np.zeros(n)])
    attack = LogisticRegression().fit(np.log(x + 1e-12), y)
    predicted_member = attack.predict(np.log(entropy(forget)[:, None] + 1e-12))
    scores = -np.concatenate([forget.losses, test.losses])
    labels = np.concatenate([np.ones(len(forget.labels)), np.zeros(len(test.labels))])
    return {"efficacy": float(1.0 - predicted_member.mean()), "auc": float(roc_auc_score(labels, scores))}
