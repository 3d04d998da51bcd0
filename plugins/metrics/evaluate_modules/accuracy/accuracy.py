"""Accuracy, as the Hugging Face hub's ``accuracy`` module computes it (``sklearn.metrics.accuracy_score``),
loadable offline: ``evaluate.load(mu_registry_plugins.metrics.evaluate_modules.module_path("accuracy"))``."""

import datasets
import evaluate
from sklearn.metrics import accuracy_score


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Fraction of predictions equal to the reference label.", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        return {"accuracy": float(accuracy_score(references, predictions, normalize=normalize,
                                                 sample_weight=sample_weight))}
