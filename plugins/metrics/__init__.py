"""Built-in metrics."""

from mu_registry import hookimpl

from .accuracy import accuracy
from .gap import gap_to_retrain
from .mia import mia
from .mubench_overall import mubench_overall
from .zrf import zrf


@hookimpl
def mu_register_metrics(register):
    register("accuracy", accuracy)
    register("gap_to_retrain", gap_to_retrain)
    register("mia", mia)
    register("zrf", zrf)
    register("mubench_overall", mubench_overall)


@hookimpl
def mu_register_judges(register):
    from mu_registry.judge import OpenAICompatibleJudge, RuleJudge

    register("rule", RuleJudge)
    register("openai_compatible", OpenAICompatibleJudge)
