"""F1, as the Hugging Face hub's ``f1`` module computes it (``sklearn.metrics.f1_score``; ``average``
defaults to ``binary``), loadable offline:
``evaluate.load(mu_registry_plugins.metrics.evaluate_modules.module_path("f1"))``."""

import datasets
import evaluate
from sklearn.metrics import f1_score


class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Harmonic mean of precision and recall.", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}))

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        score = f1_score(references, predictions, labels=labels, pos_label=pos_label, average=average,
                         sample_weight=sample_weight)
        return {"f1": float(score) if getattr(score, "size", 1) == 1 else score.tolist()}
