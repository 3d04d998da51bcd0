"""An example third-party plugin: SGD gradient ascent with a retain term, and a metric."""

from dataclasses import dataclass
from pathlib import Path

import torch.nn.functional as F

from mu_registry import Method, MetricContext, UnlearnContext, hookimpl
from mu_registry.training import make_optimizer


class AscentDescent(Method):
    """Ascend on the forget set while descending on the retain set (SGD)."""

    @dataclass
    class Params:
        steps: int = 20
        lr: float = 0.01
        forget_weight: float = 1.0

    def unlearn(self, ctx: UnlearnContext):
        opt = make_optimizer(ctx.model.parameters(), "sgd", self.params.lr)
        forget, retain = ctx.cycle(ctx.forget, batch_size=32), ctx.cycle(ctx.retain, batch_size=32)
        for _ in range(self.params.steps):
            f, r = next(forget), next(retain)
            loss = F.cross_entropy(ctx.logits(r), r.labels) - self.params.forget_weight * F.cross_entropy(
                ctx.logits(f), f.labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return ctx.model


def forget_error(ctx: MetricContext) -> float:
    """1 - accuracy on the forget set."""
    return 1.0 - ctx.outputs["forget"].accuracy()


@hookimpl
def mu_register_methods(register):
    register("example/ascent_descent", AscentDescent)


@hookimpl
def mu_register_metrics(register):
    register("example/forget_error", forget_error)


@hookimpl
def mu_register_tasks(register):
    register(Path(__file__).parent / "tasks")
