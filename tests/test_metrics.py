"""Metrics on hand-built outputs where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from mu_registry import MetricContext, SetOutputs
from mu_registry_plugins.metrics.accuracy import accuracy
from mu_registry_plugins.metrics.gap import gap_to_retrain, gap_to_retrain_salun
from mu_registry_plugins.metrics.knowledge_gap import knowledge_gap, knowledge_gap_score
from mu_registry_plugins.metrics.mia import mia, mia_svc
from mu_registry_plugins.metrics.mubench_overall import mubench_overall, mubench_score
from mu_registry_plugins.metrics.zrf import chundawat_jsdiv, js_divergence, zrf, zrf_chundawat, zrf_mubench

RNG = np.random.default_rng(0)


def outputs(n: int, k: int, confidence: float, correct: float) -> SetOutputs:
    """n examples over k classes: the top logit is the label for a fraction ``correct``."""
    labels = RNG.integers(0, k, n)
    top = np.where(RNG.random(n) < correct, labels, (labels + 1) % k)
    logits = RNG.normal(0, 0.1, (n, k)).astype(np.float32)
    logits[np.arange(n), top] += confidence
    return SetOutputs(logits, labels)


def ctx(forget, retain, test, original=None, retrain=None, random_init=None, k=4):
    return MetricContext({"forget": forget, "retain": retain, "test": test}, original, retrain, k, 0, random_init)


def test_accuracy_and_gap():
    f, r, t = outputs(100, 4, 5, 0.9), outputs(200, 4, 5, 1.0), outputs(100, 4, 5, 0.7)
    acc = accuracy(ctx(f, r, t))
    assert acc["retain"] == 1.0 and 0.8 < acc["forget"] < 1.0
    c = ctx(f, r, t, retrain={"forget": t, "retain": r, "test": t})
    gaps = gap_to_retrain(c)
    assert gaps["retain"] == 0 and gaps["test"] == 0
    assert gaps["forget"] == pytest.approx(abs(acc["forget"] - acc["test"]))
    assert gaps["avg"] == pytest.approx(gaps["forget"] / 3)


def test_mia_sees_memorised_forget_data_and_not_unseen_data():
    members, unseen = outputs(400, 4, 12, 1.0), outputs(400, 4, 1.0, 0.6)  # confident vs unsure
    memorised = mia(ctx(outputs(100, 4, 12, 1.0), members, unseen))
    forgotten = mia(ctx(outputs(100, 4, 1.0, 0.6), members, unseen))
    assert memorised["efficacy"] < 0.1 and memorised["auc"] > 0.9
    assert forgotten["efficacy"] > 0.8 and 0.35 < forgotten["auc"] < 0.65


def test_js_divergence_by_hand():
    p = np.array([[1.0, 0.0]])
    assert js_divergence(p, p[:, ::-1])[0] == pytest.approx(np.log(2), rel=1e-6)
    # p = (1, 0), q = (½, ½), m = (¾, ¼): ½·ln(4/3) + ½·(½·ln(2/3) + ½·ln 2)
    expected = 0.5 * np.log(4 / 3) + 0.5 * (0.5 * np.log(2 / 3) + 0.5 * np.log(2))
    assert js_divergence(p, np.array([[0.5, 0.5]]))[0] == pytest.approx(expected, rel=1e-6)


def test_zrf_is_mubench_random_logit_form():
    """MU-Bench evaluation.py: 1 - mean(jensenshannon(p, softmax(U[0,1))) ** 2), averaged over draws."""
    from scipy.spatial.distance import jensenshannon
    from scipy.special import softmax

    probs = outputs(30, 4, 2.0, 0.7).probs
    r = np.random.default_rng(0).random(probs.shape)  # the first draw zrf_mubench makes
    assert zrf_mubench(probs, draws=1) == pytest.approx(1 - (jensenshannon(probs, softmax(r, 1), axis=1) ** 2).mean())
    confident, unsure = outputs(50, 4, 30, 1.0), outputs(50, 4, 0.0, 0.0)
    assert zrf(ctx(confident, confident, confident)) < zrf(ctx(unsure, unsure, unsure))
    assert zrf(ctx(unsure, unsure, unsure)) > 0.99  # near-uniform outputs look like random logits


def test_zrf_chundawat_is_jsdiv_with_elementwise_mean_kl_to_the_random_network():
    p, q = np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]])
    # m = (0.6, 0.4); KL(m‖p) and KL(m‖q) entry by entry, each averaged over the 2 entries
    kl_mp = (0.6 * np.log(0.6 / 0.8) + 0.4 * np.log(0.4 / 0.2)) / 2
    kl_mq = (0.6 * np.log(0.6 / 0.4) + 0.4 * np.log(0.4 / 0.6)) / 2
    assert chundawat_jsdiv(p, q) == pytest.approx(0.5 * kl_mp + 0.5 * kl_mq, rel=1e-9)
    mine = SetOutputs(np.log(p).astype(np.float32), np.array([0]))
    rand = SetOutputs(np.log(q).astype(np.float32), np.array([0]))
    c = ctx(mine, mine, mine, random_init={"forget": rand})
    assert zrf_chundawat(c) == pytest.approx(1 - (0.5 * kl_mp + 0.5 * kl_mq), rel=1e-5)
    assert zrf_chundawat(ctx(mine, mine, mine)) is None  # no random network, no score


def test_knowledge_gap_by_hand():
    # MU-Bench (CLU-UML/MU-Bench@48f5c7b, mubench/evaluation.py l.129-144): rows retain first, then forget,
    # binary_label [1]*n + [0]*n, so retain rows are the positives.
    # forget correct (1, 0), retain (1, 1): every draw takes both retain rows.
    # AUC([1, 1, 0, 0], [1, 1, 1, 0]): each positive (score 1) ties the negative scored 1 (½) and beats the
    # one scored 0 (1): (½ + 1 + ½ + 1) / 4 = 3/4
    assert knowledge_gap_score(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(0.75)
    # forget correct (0, 0, 0), retain (1, 1, 1, 1): every pair is a positive above a negative: 1
    assert knowledge_gap_score(np.zeros(3), np.ones(4)) == pytest.approx(1.0)
    # forget (1, 1), retain (0, 0): every negative above every positive: 0
    assert knowledge_gap_score(np.ones(2), np.zeros(2)) == pytest.approx(0.0)
    # same correctness on both sets: 0.5
    assert knowledge_gap_score(np.ones(5), np.ones(50)) == pytest.approx(0.5)
    # forget 2 right of 10, retain all 40 right: per draw 1·(8/10) + ½·(2/10) = 0.9
    f, r = _exact(10, 4, 2), _exact(40, 4, 40)
    assert knowledge_gap(ctx(f, r, r)) == pytest.approx(0.9)


def test_knowledge_gap_is_mubench_code_run_on_the_same_draws():
    """MU-Bench's get_knowledge_gap body (l.130-141), transcribed, on the draws this project makes."""
    from sklearn.metrics import roc_auc_score

    rng_data = np.random.default_rng(3)
    df_label, dr_label = rng_data.integers(0, 3, 7), rng_data.integers(0, 3, 30)
    df_pred, dr_pred = np.eye(3)[rng_data.integers(0, 3, 7)], np.eye(3)[rng_data.integers(0, 3, 30)]
    rng = np.random.default_rng(0)  # the seed knowledge_gap_score uses
    df_size = df_label.shape[0]
    binary_label = [1] * df_size + [0] * df_size
    gap = []
    for _ in range(500):
        sel_idx = rng.choice(np.arange(dr_label.shape[0]), df_size, replace=False)
        label = dr_label[sel_idx].tolist() + df_label.tolist()
        pred = np.hstack([np.argmax(dr_pred[sel_idx], axis=1), np.argmax(df_pred, axis=1)])
        gap.append(roc_auc_score(binary_label, np.array(label == pred).astype(int)))
    ours = knowledge_gap_score((df_pred.argmax(1) == df_label).astype(float),
                               (dr_pred.argmax(1) == dr_label).astype(float))
    assert ours == pytest.approx(np.mean(gap))


def _conf(values, k=2) -> SetOutputs:
    """Rows of class 0 whose softmax probability of the label is each of ``values`` (k = 2)."""
    v = np.asarray(values, dtype=np.float64)
    logits = np.stack([np.log(v), np.log(1 - v)], axis=1).astype(np.float32)
    return SetOutputs(logits, np.zeros(len(v), dtype=np.int64))


def test_mia_svc_is_salun_svc_on_confidence():
    members = _conf(np.linspace(0.95, 0.99, 60))
    unseen = _conf(np.linspace(0.2, 0.6, 40))
    memorised = mia_svc(ctx(_conf(np.full(10, 0.97)), members, unseen))
    forgotten = mia_svc(ctx(_conf(np.full(10, 0.3)), members, unseen))
    assert memorised == {"efficacy": 0.0, "attack_accuracy": 1.0, "degenerate": 0.0}
    assert forgotten["efficacy"] == 1.0
    # shadow members are the first |test| = 40 retain rows: later retain rows never reach the attack
    poisoned = _conf(np.concatenate([np.linspace(0.95, 0.99, 40), np.full(20, 0.3)]))
    assert mia_svc(ctx(_conf(np.full(10, 0.3)), poisoned, unseen))["efficacy"] == 1.0


def test_an_attack_that_cannot_separate_members_reports_no_efficacy():
    same = outputs(400, 4, 2.0, 0.7)
    other = SetOutputs(same.logits.copy(), same.labels.copy())
    for metric in (mia, mia_svc):
        got = metric(ctx(outputs(50, 4, 2.0, 0.7), same, other))
        assert got["degenerate"] == 1.0 and got["efficacy"] is None, metric.__name__
        assert abs(got["attack_accuracy"] - 0.5) < 0.1


def test_salun_average_gap_over_its_four_terms():
    members, unseen = _conf(np.linspace(0.95, 0.99, 60)), _conf(np.linspace(0.2, 0.6, 40))
    model = {"forget": _conf(np.full(10, 0.97)), "retain": members, "test": unseen}
    retrain = {"forget": _conf([0.3] * 8 + [0.7] * 2), "retain": members, "test": unseen}
    c = MetricContext(model, None, retrain, 2, 0)
    # forget accuracy 1.0 against 0.2; MIA-Efficacy 0 against 1 (both attacks separate perfectly);
    # retain and test identical: (0.8 + 1 + 0 + 0) / 4
    assert gap_to_retrain_salun(c) == pytest.approx(
        {"forget": 0.8, "mia_efficacy": 1.0, "retain": 0.0, "test": 0.0, "avg": 0.45})


# MU-Bench's overall score: CLU-UML/MU-Bench@48f5c7b mubench/evaluation.py (harmonic_mean, Evaluator.compute).
# Each expected value below was worked out by hand from a = 1-|dt-dt_orig|, b = 1-|df-random|, 2ab/(a+b).
@pytest.mark.parametrize("dt, df, dt_orig, random, method, expected", [
    # a = 0.98, b = 0.96: 2 * 0.9408 / 1.94
    (0.902, 0.05, 0.922, 0.01, "salun", 1.8816 / 1.94),
    # the untouched CIFAR-100 original: a = 1, b = 1 - 0.985 = 0.015: 0.03 / 1.015 (MU-Bench: about 0.03)
    (0.922, 0.995, 0.922, 0.01, "original", 0.03 / 1.015),
    # IMDB at chance on the forget set, test kept: a = b = 1
    (0.88608, 0.5, 0.88608, 0.5, "scrub", 1.0),
    # test drop 0.222 / 0.922 = 0.241 > 0.2: guard rail 1 sets 0 ...
    (0.70, 0.01, 0.922, 0.01, "salun", 0.0),
    # ... but gradient ascent may drop up to 0.4: a = 0.778, b = 1: 1.556 / 1.778
    (0.70, 0.01, 0.922, 0.01, "ga", 1.556 / 1.778),
    # 0.422 / 0.922 = 0.458 > 0.4: zero for gradient ascent too
    (0.50, 0.01, 0.922, 0.01, "ga", 0.0),
    # forget accuracy below chance by (0.01 - 0.007) / 0.01 = 0.3 > 0.2: guard rail 2 sets 0
    (0.922, 0.007, 0.922, 0.01, "salun", 0.0),
    # below chance by 0.1 only: a = 1, b = 0.999: 1.998 / 1.999
    (0.922, 0.009, 0.922, 0.01, "salun", 1.998 / 1.999),
])
def test_mubench_score_hand_computed(dt, df, dt_orig, random, method, expected):
    assert mubench_score(dt, df, dt_orig, random, method) == pytest.approx(expected, abs=1e-12)


def _exact(n: int, k: int, correct: int) -> SetOutputs:
    """n examples of class 0 over k classes, the first ``correct`` predicted right, the rest as class 1."""
    logits = np.zeros((n, k), dtype=np.float32)
    logits[:correct, 0] = 5
    logits[correct:, 1] = 5
    return SetOutputs(logits, np.zeros(n, dtype=np.int64))


def test_mubench_overall_uses_published_constants_for_mubench_backbones_else_measured():
    f, t, t_orig = _exact(100, 4, 30), _exact(100, 4, 80), _exact(100, 4, 90)
    mini = MetricContext({"forget": f, "retain": t, "test": t}, {"test": t_orig}, None, 4, 0, method="salun",
                         task={"task": "mubench-mini-image", "model": {"args": {}}})
    # measured: dt_orig = 0.9, random = 1/4; a = 0.9, b = 1 - 0.05 = 0.95: 1.71 / 1.85
    assert mubench_overall(mini) == pytest.approx(
        {"score": 1.71 / 1.85, "dt_orig": 0.9, "random": 0.25, "published": 0.0})
    vit = MetricContext({"forget": f, "retain": t, "test": t}, {"test": t_orig}, None, 100, 0, method="salun",
                        task={"task": "mubench-cifar100",
                              "model": {"args": {"pretrained": "google/vit-base-patch16-224-in21k"}}})
    # MU-Bench's constants: dt_orig = 0.922, random = 0.01; a = 1 - 0.122 = 0.878, b = 1 - 0.29 = 0.71
    assert mubench_overall(vit) == pytest.approx(
        {"score": 2 * 0.878 * 0.71 / (0.878 + 0.71), "dt_orig": 0.922, "random": 0.01, "published": 1.0})
    other = MetricContext({"forget": f, "retain": t, "test": t}, {"test": t_orig}, None, 100, 0, method="salun",
                          task={"task": "mubench-cifar100", "model": {"args": {"pretrained": "my/own-vit"}}})
    assert mubench_overall(other)["dt_orig"] == 0.9 and mubench_overall(other)["random"] == 0.01
    assert mubench_overall(other)["published"] == 0.5
