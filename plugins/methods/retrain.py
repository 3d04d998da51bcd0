"""Retrain from scratch on the retain set: the gold reference of exact unlearning.

Trains a freshly initialised network on D_r with the task's own training
configuration (``model.train``), exactly as the run's retrain reference is
trained, so its cost is the cost every approximate method tries to beat. MU-Bench's ``retrain``
(``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/data/base.py``, ``method_specific_transformation``: the
training set becomes D_r) fine-tunes the pretrained backbone on D_r, which is what ``build`` +
``model.train`` do for a task whose model is ``pretrained``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry import Method, MuError, UnlearnContext


class Retrain(Method):
    """Train a new model on the retain set only (exact unlearning; the cost baseline)."""

    @dataclass
    class Params:
        pass

    def unlearn(self, ctx: UnlearnContext):
        if ctx.train is None or ctx.spec is None:
            raise MuError("retrain needs the task's training configuration")
        fresh = ctx.fresh_model(ctx.seed)
        return ctx.adapter.fit(fresh, ctx.retain, ctx.train, seed=ctx.seed, device=ctx.device, desc="retrain")
