"""Zero Retrain Forgetting (ZRF) score (Chundawat et al., AAAI 2023), in its two published forms.

``zrf`` (MU-Bench's): ``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py``
(``Evaluator.get_zero_retrain_forgetting_score``). The incompetent teacher is a draw of random logits,
``softmax(U[0, 1)^{n×K})``; per forget example the Jensen-Shannon divergence (natural log; SciPy's
``jensenshannon`` distance, squared) to the unlearned model's softmax; ZRF = 1 - its mean, averaged
over 500 draws::

    zrf = mean_{d=1..500} [ 1 - mean_i JS(p_i, softmax(r_i^d)) ]

The draws come from a fixed seed (0) here, so the value is reproducible; MU-Bench's are unseeded.

``zrf_chundawat``: ``vikram2000b/bad-teaching-unlearning`` at f1aa988, ``metrics.py`` (``JSDiv``,
``UnLearningScore``). The incompetent teacher is a randomly initialised network of the same architecture
(the run's ``random_init`` reference); ``JSDiv`` is written with ``F.kl_div(log p, m)`` and its default
``reduction='mean'``, i.e. KL(m ‖ p) averaged over all n·K entries::

    zrf_chundawat = 1 - [ ½ mean_{i,k} m_ik (log m_ik - log p_ik) + ½ mean_{i,k} m_ik (log m_ik - log q_ik) ]
    m = (p + q) / 2,  p: the unlearned model,  q: the random network

Higher means the model's forget-set outputs look more like an untrained model's.
"""

from __future__ import annotations

import numpy as np

from mu_registry import MetricContext

DRAWS = 500


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-row Jensen-Shannon divergence, natural log (``scipy.spatial.distance.jensenshannon(p, q) ** 2``)."""
    p, q = np.clip(p, 1e-12, 1.0), np.clip(q, 1e-12, 1.0)
    m = 0.5 * (p + q)
    return 0.5 * (p * np.log(p / m)).sum(axis=1) + 0.5 * (q * np.log(q / m)).sum(axis=1)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def zrf_mubench(probs: np.ndarray, draws: int = DRAWS, seed: int = 0) -> float:
    """MU-Bench's ZRF of forget-set probabilities ``probs`` (n × K) against random-logit teachers."""
    rng = np.random.default_rng(seed)
    scores = [1.0 - js_divergence(probs, softmax(rng.random(probs.shape))).mean() for _ in range(draws)]
    return float(np.mean(scores))


def chundawat_jsdiv(p: np.ndarray, q: np.ndarray) -> float:
    """``JSDiv(p, q)`` of the Bad Teacher repository: ½ KL(m‖p) + ½ KL(m‖q), each averaged over every entry."""
    p, q = np.clip(p, 1e-12, 1.0), np.clip(q, 1e-12, 1.0)
    m = 0.5 * (p + q)
    return float(0.5 * (m * (np.log(m) - np.log(p))).mean() + 0.5 * (m * (np.log(m) - np.log(q))).mean())


def zrf(ctx: MetricContext) -> float:
    """MU-Bench's ZRF: 1 - per-example JS divergence to random-logit teachers, over 500 draws."""
    return zrf_mubench(ctx.outputs["forget"].probs)


def zrf_chundawat(ctx: MetricContext) -> float | None:
    """Chundawat et al.'s ZRF: 1 - JSDiv to a randomly initialised network of the same architecture."""
    if ctx.random_init is None:
        return None
    return 1.0 - chundawat_jsdiv(ctx.outputs["forget"].probs, ctx.random_init["forget"].probs)
