"""Membership inference against the unlearned model: two named attacks.

``mia`` (this project's entropy attack): a logistic regression on log prediction entropy learns to tell
*members* (retain examples) from *non-members* (test examples), on a balanced, seeded sample of at most
2,000 of each; it is then applied to the forget set. The entropy feature follows the attack data of
``vikram2000b/bad-teaching-unlearning`` at f1aa988 (``metrics.py``, ``get_membership_attack_data``),
with a logistic regression in place of its SVC.

* ``efficacy``: the fraction of forget examples the attack calls non-members (higher: the forget set
  looks unseen; compare with the retrain model);
* ``auc``: ROC AUC of the per-example loss separating forget (as members) from test examples;
* ``attack_accuracy``: the attack's balanced accuracy on its own retain-vs-test data.

An attack that cannot tell retain from test examples (``attack_accuracy`` within two binomial standard
errors of 0.5) says nothing about the forget set: ``efficacy`` is then reported as missing (null) and
``degenerate`` is 1, instead of a number that is the same for every model.

``mia_svc`` (SalUn's MIA-Efficacy): ``OPTML-Group/Unlearn-Saliency`` at a6e89fd,
``Classification/evaluation/SVC_MIA.py`` (``SVC_fit_predict``: ``SVC(C=3, gamma='auto', kernel='rbf')``)
called from ``Classification/main_forget.py``: shadow members are the first |test| retain examples,
shadow non-members the test set, the target the forget set; the feature is the confidence (softmax
probability of the true label), the variant SalUn's tables report as MIA-Efficacy::

    efficacy = 1 - mean(SVC.predict(confidence(forget)))

with the same ``attack_accuracy`` / ``degenerate`` check.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

from mu_registry import MetricContext, SetOutputs

MAX_PER_CLASS = 2000


def entropy(out: SetOutputs) -> np.ndarray:
    p = np.clip(out.probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def confidence(out: SetOutputs) -> np.ndarray:
    """Softmax probability of the true label (SVC_MIA.py's ``conf`` feature)."""
    return out.probs[np.arange(len(out.labels)), out.labels]


def separates(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, bool]:
    """Balanced accuracy of an attack on its own member/non-member data, and whether it beats chance by
    more than two standard errors of a coin flip (0.5 ± 2·√(0.25 / n))."""
    acc = 0.5 * (predicted[truth == 1].mean() + (1 - predicted[truth == 0]).mean())
    return float(acc), acc - 0.5 > 2 * math.sqrt(0.25 / len(truth))


def mia(ctx: MetricContext) -> dict[str, float | None]:
    """Entropy-based membership inference: efficacy on the forget set, and forget-vs-test loss AUC."""
    retain, test, forget = ctx.outputs["retain"], ctx.outputs["test"], ctx.outputs["forget"]
    rng = np.random.default_rng(0)
    n = min(len(retain.labels), len(test.labels), MAX_PER_CLASS)
    r_idx, t_idx = rng.choice(len(retain.labels), n, replace=False), rng.choice(len(test.labels), n, replace=False)
    x = np.log(np.concatenate([entropy(retain)[r_idx], entropy(test)[t_idx]])[:, None] + 1e-12)
    y = np.concatenate([np.ones(n), np.zeros(n)])
    attack = LogisticRegression().fit(x, y)
    attack_acc, useful = separates(attack.predict(x), y)
    predicted_member = attack.predict(np.log(entropy(forget)[:, None] + 1e-12))
    scores = -np.concatenate([forget.losses, test.losses])
    labels = np.concatenate([np.ones(len(forget.labels)), np.zeros(len(test.labels))])
    return {"efficacy": float(1.0 - predicted_member.mean()) if useful else None,
            "auc": float(roc_auc_score(labels, scores)), "attack_accuracy": attack_acc,
            "degenerate": 0.0 if useful else 1.0}


def svc_efficacy(retain: SetOutputs, test: SetOutputs, forget: SetOutputs) -> dict[str, float | None]:
    """SalUn's SVC attack on the confidence feature (see the module docstring)."""
    shadow_in = confidence(retain)[:len(test.labels)]
    shadow_out = confidence(test)
    x = np.concatenate([shadow_in, shadow_out])[:, None]
    y = np.concatenate([np.ones(len(shadow_in)), np.zeros(len(shadow_out))])
    clf = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y)
    attack_acc, useful = separates(clf.predict(x), y)
    efficacy = float(1.0 - clf.predict(confidence(forget)[:, None]).mean())
    return {"efficacy": efficacy if useful else None, "attack_accuracy": attack_acc,
            "degenerate": 0.0 if useful else 1.0}


def mia_svc(ctx: MetricContext) -> dict[str, float | None]:
    """SalUn's MIA-Efficacy: an SVC on confidence, retain (members) against test (non-members), on D_f."""
    return svc_efficacy(ctx.outputs["retain"], ctx.outputs["test"], ctx.outputs["forget"])
