"""MU-Bench's overall unlearning score (``CLU-UML/MU-Bench`` at 48f5c7b, ``mubench/evaluation.py``) as an
``evaluate`` module: rows are predictions with their reference and ``subset`` (``test`` or ``forget``);
``dt_orig`` and ``random`` are MU-Bench's constants (or the measured ones), ``method`` picks the guard rail
(0.4 for ``neggrad``). Computed by ``mu_registry_plugins.metrics.mubench_overall.mubench_score``."""

import datasets
import evaluate
import numpy as np

from mu_registry_plugins.metrics.mubench_overall import mubench_score


class MUBenchOverall(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="MU-Bench's harmonic mean of test retention and forget accuracy near chance.", citation="",
            inputs_description="predictions, references and subset ('test' or 'forget') per row",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64"),
                                        "subset": datasets.Value("string")}))

    def _compute(self, predictions, references, subset, dt_orig, random, method=None):
        p, r, s = np.asarray(predictions), np.asarray(references), np.asarray(subset)
        dt, df = float((p[s == "test"] == r[s == "test"]).mean()), float((p[s == "forget"] == r[s == "forget"]).mean())
        return {"unlearn_overall_accuracy": mubench_score(dt, df, dt_orig, random, method), "dt_accuracy": dt,
                "df_accuracy": df}
