"""MU-Bench's overall unlearning score (Cheng & Amiri, 2024), as its published evaluation code computes it.

The harmonic mean of test-set retention and the distance of forget-set
accuracy from chance::

    a = 1 - |acc_test - acc_test(original)|
    b = |acc_forget - 1 / num_classes|
    score = 2ab / (a + b)

MU-Bench takes chance as 1/K for K balanced classes, as here.
"""

from __future__ import annotations

from mu_registry import MetricContext


def mubench_overall(ctx: MetricContext) -> float | None:
    """Harmonic mean of test retention and |forget accuracy - chance|."""
    if ctx.original is None:
        return None
    a = 1.0 - abs(ctx.outputs["test"].accuracy() - ctx.original["test"].accuracy())
    b = abs(ctx.outputs["forget"].accuracy() - 1.0 / ctx.num_classes)
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)
