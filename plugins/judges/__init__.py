"""Built-in judges of generated answers: ``rule`` (offline, deterministic) and ``openai_compatible`` (an LLM
behind an OpenAI-compatible endpoint, MLUBench's GPT-4o rubric). See :mod:`mu_registry.api.judge`."""

from mu_registry import hookimpl


@hookimpl
def mu_register_judges(register):
    register("rule", f"{__name__}.rule:RuleJudge")
    register("openai_compatible", f"{__name__}.openai_compatible:OpenAICompatibleJudge")
