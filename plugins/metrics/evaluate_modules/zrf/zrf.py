"""MU-Bench's ZRF (``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py``,
``get_zero_retrain_forgetting_score``) as an ``evaluate`` module: one row per forget example holding the
model's class probabilities. Computed by ``mu_registry_plugins.metrics.zrf.zrf_mubench``."""

import datasets
import evaluate
import numpy as np

from mu_registry_plugins.metrics.zrf import zrf_mubench


class ZRF(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="1 - Jensen-Shannon divergence to random-logit teachers, averaged over draws.", citation="",
            inputs_description="predictions: the class probabilities of each forget example",
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("float64"))}))

    def _compute(self, predictions, draws=500):
        return {"zrf": zrf_mubench(np.asarray(predictions, dtype=np.float64), draws=draws)}
