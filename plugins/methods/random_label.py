"""Random labelling (RL).

Fine-tune on D_f relabelled with a uniformly random *wrong* class, together
with D_r to keep utility, as the RL baseline is run in Fan et al., 2024 (SalUn)
after Golatkar et al., 2020::

    L = CE(f(x_f), ỹ_f) + CE(f(x_r), y_r),   ỹ_f ~ U({0..K-1} \\ {y_f})

Set ``retain_weight: 0`` for the forget-only variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mu_registry import Method, UnlearnContext
from mu_registry.training import make_optimizer


def random_wrong_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random label different from each true label."""
    offset = torch.randint(1, num_classes, labels.shape, generator=generator)
    return (labels.cpu() + offset) % num_classes


class RandomLabel(Method):
    """Train on the forget set with random wrong labels (plus the retain set)."""

    @dataclass
    class Params:
        epochs: int = 2
        lr: float = 5e-4
        batch_size: int = 64
        retain_weight: float = 1.0
        optimizer: str = "adam"

    def unlearn(self, ctx: UnlearnContext):
        p = self.params
        opt = make_optimizer(ctx.model.parameters(), p.optimizer, p.lr)
        retain_stream = ctx.cycle(ctx.retain, batch_size=p.batch_size)
        for batch in ctx.batches(ctx.forget, batch_size=p.batch_size, epochs=p.epochs):
            wrong = random_wrong_labels(batch.labels, ctx.num_classes, ctx.generator).to(batch.labels.device)
            loss = F.cross_entropy(ctx.logits(batch), wrong)
            if p.retain_weight > 0:
                r = next(retain_stream)
                loss = loss + p.retain_weight * F.cross_entropy(ctx.logits(r), r.labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return ctx.model
