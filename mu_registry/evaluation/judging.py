"""Judges at run time: the task's judge built from its plugin, called with what its signature takes, and
described in results.json."""

from __future__ import annotations

import inspect
from typing import Any

from mu_registry.api.judge import ASPECTS, Grade, Judge
from mu_registry.util.errors import MuError


def call_judge(judge: Judge, questions: list[str], references: list[str], answers: list[str], *,
               subjects: list[str] | None = None, aspects: tuple[str, ...] = ASPECTS) -> list[Grade]:
    """``judge.grade``, passing ``subjects`` and ``aspects`` where its signature takes them."""
    params = inspect.signature(judge.grade).parameters
    kwargs: dict[str, Any] = {}
    if "subjects" in params:
        kwargs["subjects"] = subjects
    if "aspects" in params:
        kwargs["aspects"] = aspects
    return judge.grade(questions, references, answers, **kwargs)


def make_judge(registry: Any, name: str, judge_args: dict[str, Any], source: str,
               keys: tuple[str, str] = ("generation.judge", "generation.judge_args")) -> Judge:
    """The task's judge, from its plugin; an unknown judge or bad arguments are one line naming ``source``
    (the task file) and the key (``keys``: where the name and the arguments were given)."""
    factory = registry.judge(name, context=f"{source}: {keys[0]}")
    try:
        return factory(**judge_args)
    except TypeError as exc:
        raise MuError(f"{source}: {keys[1]}: {exc}") from None


def describe_judge(judge: Any, name: str) -> dict[str, Any]:
    """What results.json records about the judge (its own ``describe()`` where it has one)."""
    info = {"name": name}
    if hasattr(judge, "describe"):
        info.update(judge.describe())
    return info


def judge_label(info: dict[str, Any] | None) -> str:
    """How results name the judge beside a forget-quality number: ``rule``, ``openai_compatible gpt-4o``."""
    if not info:
        return ""
    return " ".join(str(x) for x in (info.get("name"), info.get("model")) if x)
