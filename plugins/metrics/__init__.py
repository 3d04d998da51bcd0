"""Built-in metrics."""

from mu_registry import hookimpl

from .accuracy import accuracy
from .f1 import f1
from .gap import gap_to_retrain, gap_to_retrain_salun
from .knowledge_gap import knowledge_gap
from .mia import mia, mia_svc
from .mubench_overall import mubench_overall
from .zrf import zrf, zrf_chundawat


@hookimpl
def mu_register_metrics(register):
    register("accuracy", accuracy)
    register("f1", f1)
    register("gap_to_retrain", gap_to_retrain)
    register("gap_to_retrain_salun", gap_to_retrain_salun)
    register("mia", mia)
    register("mia_svc", mia_svc)
    register("zrf", zrf)
    register("zrf_chundawat", zrf_chundawat)
    register("mubench_overall", mubench_overall)
    register("knowledge_gap", knowledge_gap)


@hookimpl
def mu_register_judges(register):
    from mu_registry.judge import RuleJudge
    from mu_registry.llm_judge import OpenAICompatibleJudge

    register("rule", RuleJudge)
    register("openai_compatible", OpenAICompatibleJudge)
