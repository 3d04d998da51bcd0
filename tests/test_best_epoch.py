"""Best-epoch selection (MU-Bench's load_best_model_at_end): the kept weights are those of the best epoch
by the named metric on the evaluation split, and the selection never reads the test split."""

from __future__ import annotations

import pytest
import torch
from tiny import context, setup

from mu_registry.evaluation.best_epoch import BestEpoch
from mu_registry.api.metric import SetOutputs
from mu_registry.config.task import SelectBestConfig
from mu_registry_plugins.methods.ga import GA


def test_the_best_epochs_weights_are_restored_and_recorded():
    adapter, original, forget, retain = setup()
    ctx = context(adapter, original, forget, retain)
    planned = iter([0.2, 0.7, 0.4, 0.7, None])  # epoch 2 is best (the first of equal scores); None is skipped
    seen_sets: list[set[str]] = []
    snapshots = []

    def metric(mctx):
        seen_sets.append(set(mctx.outputs))
        return {"score": next(planned)}

    def evaluate(model, sets):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {k: SetOutputs(adapter.forward(model, s.inputs).numpy(), s.labels.numpy()) for k, s in sets.items()}

    sel = BestEpoch("planned", metric, "eval", evaluate, {"forget": forget, "eval": retain},
                    {"eval": SetOutputs(adapter.forward(original, retain.inputs).numpy(), retain.labels.numpy())},
                    4, "ga", None)
    ctx.epoch_end = sel
    model = GA(epochs=5, lr=1e-2).unlearn(ctx)
    record = sel.finish(model)
    assert record["epoch"] == 2 and record["score"] == 0.7 and record["scores"] == [0.2, 0.7, 0.4, 0.7, None]
    assert all(torch.equal(model.state_dict()[k], snapshots[1][k]) for k in snapshots[1])
    assert not all(torch.equal(snapshots[4][k], snapshots[1][k]) for k in snapshots[1])  # it did move on
    assert seen_sets == [{"test", "forget"}] * 5  # the eval split plays the test role; no other set is read


def test_select_best_refuses_the_test_split():
    with pytest.raises(ValueError, match="not 'test'"):
        SelectBestConfig(split="test")
