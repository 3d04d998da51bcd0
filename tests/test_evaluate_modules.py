"""The harness's metrics as Hugging Face ``evaluate`` modules, loaded offline from the package folder."""

from __future__ import annotations

import numpy as np
import pytest

evaluate = pytest.importorskip("evaluate")

from mu_registry import MetricContext, SetOutputs  # noqa: E402
from mu_registry_plugins.metrics.evaluate_modules import NAMES, module_path  # noqa: E402
from mu_registry.util.errors import MuError  # noqa: E402
from mu_registry_plugins.metrics.accuracy import accuracy  # noqa: E402
from mu_registry_plugins.metrics.f1 import f1  # noqa: E402


def _outputs(pred, labels, k=3) -> SetOutputs:
    logits = np.zeros((len(pred), k), dtype=np.float32)
    logits[np.arange(len(pred)), pred] = 1
    return SetOutputs(logits, np.asarray(labels))


def test_every_module_loads_offline_from_its_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for name in NAMES:
        assert evaluate.load(module_path(name)) is not None
    with pytest.raises(MuError, match="no evaluate module 'bleu'"):
        module_path("bleu")


def test_accuracy_and_f1_by_hand_and_as_the_harness_computes_them():
    pred, ref = [0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 1]
    assert evaluate.load(module_path("accuracy")).compute(predictions=pred, references=ref) == {"accuracy": 4 / 6}
    # per class (P, R): 0 (1, 1) -> F1 1; 1 (1/2, 1/2) -> 1/2; 2 (2/3, 2/3) -> 2/3; macro = (1 + 1/2 + 2/3) / 3
    got = evaluate.load(module_path("f1")).compute(predictions=pred, references=ref, average="macro")["f1"]
    assert got == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    out = _outputs(pred, ref)
    ctx = MetricContext({"test": out}, None, None, 3, 0)
    assert accuracy(ctx)["test"] == pytest.approx(4 / 6) and f1(ctx)["test"] == pytest.approx(got)


def test_mubench_overall_module_matches_the_hand_value():
    # test accuracy 3/4 against dt_orig 0.75 (a = 1); forget accuracy 1/2 against random 1/2 (b = 1): 1
    module = evaluate.load(module_path("mubench_overall"))
    rows = dict(predictions=[0, 1, 1, 0, 1, 0], references=[0, 1, 0, 0, 1, 1],
                subset=["test"] * 4 + ["forget"] * 2)
    got = module.compute(**rows, dt_orig=0.75, random=0.5)
    assert got == {"unlearn_overall_accuracy": 1.0, "dt_accuracy": 0.75, "df_accuracy": 0.5}
    # dt_orig 0.9: a = 0.85, drop 0.15/0.9 = 0.167 < 0.2: 2 · 0.85 / 1.85
    assert module.compute(**rows, dt_orig=0.9, random=0.5)["unlearn_overall_accuracy"] == pytest.approx(1.7 / 1.85)


def test_knowledge_gap_and_zrf_modules():
    kg = evaluate.load(module_path("knowledge_gap")).compute(predictions=[1, 0, 1, 1], references=[1, 1, 1, 1],
                                                             subset=["forget", "forget", "retain", "retain"])
    assert kg["knowledge_gap"] == pytest.approx(0.75)  # retain rows positive: as in tests/test_metrics.py, by hand
    uniform = [[0.5, 0.5]] * 3
    assert evaluate.load(module_path("zrf")).compute(predictions=uniform, draws=20)["zrf"] > 0.95
