"""Reference training survives an interrupt: epoch checkpoints in the model cache, resumed at the last finished
epoch, to the weights of an uninterrupted training (issue 31, item 2)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from mu_registry.config.task import TrainConfig
from mu_registry.protocols.model_cache import ModelCache
from mu_registry.training.loop import train_steps

X = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()
TRAIN = TrainConfig(epochs=5, batch_size=16, lr=0.05, optimizer="adam", warmup_ratio=0.1)


def _train(stop_at_step: int | None = None):
    def train():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.2), nn.ReLU(), nn.Linear(8, 2))
        steps = [0]

        def batches(g):
            order = torch.randperm(64, generator=g)
            for i in range(0, 64, 16):
                yield order[i:i + 16]

        def loss(rows):
            steps[0] += 1
            if stop_at_step is not None and steps[0] == stop_at_step:
                raise KeyboardInterrupt
            return nn.functional.cross_entropy(model(X[rows]), Y[rows])

        return train_steps(model, TRAIN, seed=3, device=torch.device("cpu"), steps_per_epoch=4, batches=batches,
                           loss=loss, desc="original")
    return train


def _cache(root):
    cache = ModelCache(root)
    cache.checkpoint_every_s = 0.0  # every epoch
    return cache


def _get(cache, train):
    return cache.get_or_train({"kind": "original"}, train=train, save=lambda m, p: torch.save(m, p),
                              load=lambda p: torch.load(p, weights_only=False))


def test_an_interrupted_reference_training_resumes_at_its_last_epoch_to_identical_weights(tmp_path, caplog):
    plain = _get(_cache(tmp_path / "plain"), _train()).module

    cache = _cache(tmp_path / "resumed")
    try:
        _get(cache, _train(stop_at_step=11))  # step 11: inside epoch 3, after epochs 1 and 2 were saved
    except KeyboardInterrupt:
        pass
    partial = sorted((tmp_path / "resumed" / "models").glob("*.partial-*.pt"))
    assert len(partial) == 1 and torch.load(partial[0], weights_only=False)["epochs_done"] == 2

    with caplog.at_level(logging.INFO, logger="mu_registry"):
        resumed = _get(cache, _train()).module
    assert "original: resumed after epoch 2 of 5 (epoch checkpoint)" in caplog.text
    for a, b in zip(plain.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert not list((tmp_path / "resumed" / "models").glob("*.partial-*.pt"))  # finished: the entry replaces them


def test_no_checkpoint_without_the_cache(tmp_path):
    cache = ModelCache(tmp_path, enabled=False)
    cache.checkpoint_every_s = 0.0
    _get(cache, _train())
    assert not (tmp_path / "models").exists()
