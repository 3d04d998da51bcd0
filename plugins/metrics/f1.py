"""Macro-averaged F1 on every evaluation set, computed by the ``f1`` Hugging Face ``evaluate`` module
shipped in the package (``plugins/metrics/evaluate_modules/f1``, loaded offline; the hub's ``f1`` computes
the same, ``sklearn.metrics.f1_score``). Needs the ``hf`` extra (``evaluate``)."""

from __future__ import annotations

from functools import lru_cache

from mu_registry import MetricContext, MuError

from .evaluate_modules import module_path


@lru_cache(maxsize=1)
def _module():
    try:
        import evaluate
    except ImportError:
        raise MuError("metric 'f1' needs Hugging Face evaluate: pip install 'mu-registry[hf]'") from None
    return evaluate.load(module_path("f1"))


def f1(ctx: MetricContext) -> dict[str, float]:
    """Macro F1 per set (every class weighs the same, as for DDI-2013's five relation types)."""
    module = _module()
    return {name: module.compute(predictions=out.predictions.tolist(), references=out.labels.tolist(),
                                 average="macro", labels=list(range(ctx.num_classes)))["f1"]
            for name, out in ctx.outputs.items()}
