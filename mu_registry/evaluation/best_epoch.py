"""Best-epoch selection for classification unlearning: MU-Bench's ``load_best_model_at_end``.

MU-Bench (``CLU-UML/MU-Bench`` at 48f5c7b) evaluates after every epoch and keeps the epoch with the best
``unlearn_overall_<metric>`` (``experiment/*/unlearn.py`` sets ``metric_for_best_model`` to it; the
per-dataset ``gen_config.py`` sets ``evaluation_strategy: epoch``, ``load_best_model_at_end: true``).
Its evaluation set is the dataset's validation split, or the test split where there is none
(``mubench/trainer/base.py``). Here the split must be a held-out evaluation role of the task and never
``test``: the score is computed by the named metric with that split in the test role and the forget set
as itself (for ``mubench_overall``: dt = accuracy on the evaluation split, df = forget accuracy).

A method reports the end of each of its epochs with ``ctx.end_epoch()``; the selector evaluates the
model then, keeps a copy of the best weights (the first of equal scores), and after the method returns
puts them back. The time spent evaluating is reported apart and not charged to the method.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn

from mu_registry.util.errors import MuError
from mu_registry.api.metric import MetricContext, SetOutputs

if TYPE_CHECKING:
    from mu_registry.api.model import EncodedSplit


class BestEpoch:
    """Scores the model after every epoch; remembers and restores the best one."""

    def __init__(self, metric_name: str, metric: Callable[[MetricContext], Any], split: str,
                 evaluate: Callable[[nn.Module, dict[str, EncodedSplit]], dict[str, SetOutputs]],
                 sets: dict[str, EncodedSplit], original: dict[str, SetOutputs], num_classes: int,
                 method: str, task: dict[str, Any] | None):
        self.metric_name, self.metric, self.split = metric_name, metric, split
        self.evaluate, self.sets, self.original = evaluate, sets, original
        self.num_classes, self.method, self.task = num_classes, method, task
        self.scores: list[float | None] = []
        self.best: tuple[int, float] | None = None
        self.state: dict[str, torch.Tensor] | None = None
        self.seconds = 0.0

    def score(self, model: nn.Module) -> float | None:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = self.evaluate(model, self.sets)
        model.train(was_training)
        ctx = MetricContext(outputs={"test": out[self.split], "forget": out["forget"]},
                            original={"test": self.original[self.split]}, retrain=None,
                            num_classes=self.num_classes, request_index=0, method=self.method, task=self.task)
        value = self.metric(ctx)
        if isinstance(value, dict):
            value = value.get("score")
        return None if value is None else float(value)

    def __call__(self, model: nn.Module, epoch: int) -> None:
        t0 = time.perf_counter()
        value = self.score(model)
        self.scores.append(value)
        if value is not None and (self.best is None or value > self.best[1]):
            self.best = (epoch, value)
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.seconds += time.perf_counter() - t0

    def finish(self, model: nn.Module) -> dict[str, Any]:
        """Load the best epoch's weights into ``model``; the record of the selection."""
        if self.state is not None:
            model.load_state_dict(self.state)
        return {"metric": self.metric_name, "split": self.split, "epoch": self.best[0] if self.best else None,
                "score": self.best[1] if self.best else None, "scores": list(self.scores),
                "selection_time_s": self.seconds}


def selector_for(cfg: Any, *, registry: Any, method: str, sets: dict[str, EncodedSplit],
                 original: dict[str, SetOutputs], num_classes: int,
                 evaluate: Callable[[nn.Module, dict[str, EncodedSplit]], dict[str, SetOutputs]]) -> BestEpoch | None:
    """The selector a task's ``select_best`` asks for, or None. ``sets`` are the request's encoded
    evaluation sets (``forget`` and the selection split among them), ``original`` the original model's
    outputs on them."""
    select = cfg.select_best
    if select is None:
        return None
    if select.split not in sets or select.split not in original:
        raise MuError(f"select_best.split: '{select.split}' is not an evaluation set of task '{cfg.task}'")
    return BestEpoch(select.metric, registry.metric(select.metric), select.split, evaluate,
                     {"forget": sets["forget"], select.split: sets[select.split]}, original, num_classes, method,
                     cfg.model_dump(mode="json"))
