"""MU-Bench's knowledge gap (``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py``,
``get_knowledge_gap``) as an ``evaluate`` module: rows are predictions with their reference and ``subset``
(``forget`` or ``retain``). Computed by ``mu_registry_plugins.metrics.knowledge_gap.knowledge_gap_score``."""

import datasets
import evaluate
import numpy as np

from mu_registry_plugins.metrics.knowledge_gap import knowledge_gap_score


class KnowledgeGap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="AUC of retain-vs-forget membership (retain rows positive, as MU-Bench orders them) against "
                        "correctness, over 500 retain subsets: above 0.5 when less often right on the forget set.",
            citation="", inputs_description="predictions, references and subset ('forget' or 'retain') per row",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64"),
                                        "subset": datasets.Value("string")}))

    def _compute(self, predictions, references, subset, draws=500):
        correct = (np.asarray(predictions) == np.asarray(references)).astype(float)
        s = np.asarray(subset)
        return {"knowledge_gap": knowledge_gap_score(correct[s == "forget"], correct[s == "retain"], draws=draws)}
