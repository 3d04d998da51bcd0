"""Each built-in method's defining behaviour on a tiny model, not just that it runs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tiny import context, loss_and_acc, setup

from mu_registry.errors import MuError
from mu_registry.model import EncodedSplit
from mu_registry_plugins.methods.finetune import Finetune
from mu_registry_plugins.methods.neggrad import NegGrad
from mu_registry_plugins.methods.random_label import RandomLabel, random_wrong_labels


@pytest.fixture(scope="module")
def trained():
    return setup()


def test_neggrad_raises_the_loss_on_the_forget_set(trained):
    adapter, original, forget, retain = trained
    before, _ = loss_and_acc(adapter, original, forget)
    model = NegGrad(lr=1e-3, epochs=20).unlearn(context(*trained))
    after, _ = loss_and_acc(adapter, model, forget)
    assert after > before + 0.5


def test_finetune_never_reads_the_forget_set(trained):
    adapter, original, forget, retain = trained
    poisoned = EncodedSplit("forget", {"x": torch.full_like(forget.inputs["x"], float("nan"))}, forget.labels,
                            forget.ids)
    ctx = context(adapter, original, poisoned, retain)
    model = Finetune(epochs=2).unlearn(ctx)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), original.parameters()))
    assert loss_and_acc(adapter, model, retain)[1] >= loss_and_acc(adapter, original, retain)[1] - 0.02


def test_random_labels_are_never_the_true_label_and_cover_the_others():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat(2000)
    wrong = random_wrong_labels(labels, 5, gen)
    assert not (wrong == labels).any()
    for c in range(5):
        assert set(wrong[labels == c].tolist()) == set(range(5)) - {c}


def test_random_label_makes_the_model_predict_wrong_classes_on_forget(trained):
    adapter, original, forget, retain = trained
    _, acc_before = loss_and_acc(adapter, original, forget)
    forget_only = RandomLabel(epochs=30, lr=1e-2, retain_weight=0.0).unlearn(context(*trained))
    with_retain = RandomLabel(epochs=30, lr=1e-2, retain_weight=1.0).unlearn(context(*trained))
    assert acc_before > 0.8 and loss_and_acc(adapter, forget_only, forget)[1] < acc_before - 0.3
    # the retain term is what keeps utility
    assert loss_and_acc(adapter, with_retain, retain)[1] > loss_and_acc(adapter, forget_only, retain)[1] + 0.1


def test_methods_are_deterministic_for_a_seed(trained):
    a = NegGrad().unlearn(context(*trained, seed=5))
    b = NegGrad().unlearn(context(*trained, seed=5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_params_have_defaults_and_reject_unknown_or_mistyped_overrides():
    assert dataclasses.asdict(NegGrad().params) == {"epochs": 2, "lr": 1e-4, "batch_size": 32, "optimizer": "adam"}
    assert NegGrad.make_params({"lr": "0.5", "epochs": "4"}).lr == 0.5
    with pytest.raises(MuError, match="unknown parameter 'lrate'"):
        NegGrad.make_params({"lrate": 1})
    with pytest.raises(MuError, match="parameter 'epochs' expects int, got 'many'"):
        NegGrad.make_params({"epochs": "many"})
