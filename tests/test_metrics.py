"""Metrics on hand-built outputs where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from mu_registry import MetricContext, SetOutputs
from mu_registry_plugins.metrics.accuracy import accuracy
from mu_registry_plugins.metrics.gap import gap_to_retrain
from mu_registry_plugins.metrics.mia import mia
from mu_registry_plugins.metrics.mubench_overall import mubench_overall
from mu_registry_plugins.metrics.zrf import js_divergence, zrf

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
    assert gaps["retain"] == 0 and gaps["test"] == 0 and gaps["forget"] == pytest.approx(abs(acc["forget"] - acc["test"]))
    assert gaps["avg"] == pytest.approx(gaps["forget"] / 3)


def test_mia_sees_memorised_forget_data_and_not_unseen_data():
    members, unseen = outputs(400, 4, 12, 1.0), outputs(400, 4, 1.0, 0.6)  # confident vs unsure
    memorised = mia(ctx(outputs(100, 4, 12, 1.0), members, unseen))
    forgotten = mia(ctx(outputs(100, 4, 1.0, 0.6), members, unseen))
    assert memorised["efficacy"] < 0.1 and memorised["auc"] > 0.9
    assert forgotten["efficacy"] > 0.8 and 0.35 < forgotten["auc"] < 0.65


def test_zrf_is_one_for_the_random_model_and_lower_for_a_confident_one():
    random_out = outputs(50, 4, 0.0, 0.0)
    same = ctx(random_out, random_out, random_out, random_init={"forget": random_out})
    assert zrf(same) == pytest.approx(1.0)
    confident = ctx(outputs(50, 4, 20, 1.0), random_out, random_out, random_init={"forget": random_out})
    assert 0.5 < zrf(confident) < 0.7  # JS(one-hot, ~uniform over 4) ≈ 0.37
    p = np.array([[1.0, 0.0]])
    assert js_divergence(p, p[:, ::-1])[0] == pytest.approx(np.log(2), rel=1e-6)


def test_mubench_overall_follows_its_published_formula():
    f, r, t = outputs(100, 4, 5, 0.25), outputs(100, 4, 5, 1.0), outputs(100, 4, 5, 0.8)
    c = ctx(f, r, t, original={"test": t})
    a, b = 1.0, abs(f.accuracy() - 0.25)
    assert mubench_overall(c) == pytest.approx(2 * a * b / (a + b))
