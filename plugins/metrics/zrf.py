"""Zero Retrain Forgetting score (Chundawat et al., AAAI 2023).

ZRF = 1 - mean over forget examples of JS(M(x), T_d(x)), where T_d is a
randomly initialised (incompetent) model of the same family and JS the
Jensen-Shannon divergence with natural logarithms. Higher means the
unlearned model behaves more like a model that never learned the forget set.
"""

from __future__ import annotations

import numpy as np

from mu_registry import MetricContext


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p, q = np.clip(p, 1e-12, 1.0), np.clip(q, 1e-12, 1.0)
    m = 0.5 * (p + q)
    return 0.5 * (p * np.log(p / m)).sum(axis=1) + 0.5 * (q * np.log(q / m)).sum(axis=1)


def zrf(ctx: MetricContext) -> float | None:
    """1 - mean JS divergence to an untrained model on the forget set."""
    if ctx.random_init is None:
        return None
    return float(1.0 - js_divergence(ctx.outputs["forget"].probs, ctx.random_init["forget"].probs).mean())
