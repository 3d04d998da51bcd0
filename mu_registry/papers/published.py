"""Figures published by the benchmarks' papers and repositories, with their sources.

A reference file (``mu_registry/references/<suite>.yaml``, or any file given with ``--reference``)
lists *configurations*: the task (and task keys set) that should reproduce a published row, an offline
stand-in task for machines without the network, the methods to run, and the published numbers, each
with the source it was read from::

    suite: mubench
    title: MU-Bench (Cheng & Amiri, 2024)
    sources:
      orig: {cite: "CLU-UML/MU-Bench, mubench/original_performance.py", commit: 2478568, url: ...}
    show: [metrics.accuracy.forget, metrics.accuracy.retain, metrics.accuracy.test]
    configs:
      - name: cifar100 / vit-base
        task: mubench-cifar100
        set: {model.args.pretrained: google/vit-base-patch16-224-in21k}
        stand_in: {task: mubench-mini-image}
        reference:
          original:
            metrics.accuracy.test: {value: 0.922, source: orig, where: "orig_acc['cifar100']['vit-base']['dt']"}

A metric is a path into one request's record of ``results.json`` (``metrics.accuracy.test`` for a
classification task, ``summary.retain_accuracy`` for a lifelong one), for the last request unless it
ends in ``@<request index>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mu_registry.util.errors import ConfigError, MuError
from mu_registry.config.task import config_error

PUBLISHED_DIR = Path(__file__).parent / "published_numbers"
SET_PREFIXES = ("forget", "retain", "paraphrase")
METRIC_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_/-]+)+(@\d+)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Strict):
    """Where numbers were read: a paper's table or figure, or a file in a repository at a commit."""

    cite: str
    url: str | None = None
    commit: str | None = None
    note: str | None = None


class PublishedValue(_Strict):
    value: float
    source: str
    where: str | None = None  # the table cell, figure or expression the value was read from
    note: str | None = None


class StandIn(_Strict):
    """The offline task run in place of a configuration whose data or model needs the network."""

    task: str
    set: dict[str, Any] = Field(default_factory=dict)
    #: the real task's request names -> the stand-in's (``{A: "0"}``): metric paths naming a request's
    #: sets (``metrics.forget_A.forget_quality@1``) are read from the stand-in's (``forget_0``)
    names: dict[str, str] = Field(default_factory=dict)

    def rename(self, path: str) -> str:
        """``path`` with the sets of renamed requests named as in the stand-in task."""
        if not self.names:
            return path
        keys = path.split(".")
        for i, key in enumerate(keys):
            prefix, _, request = key.partition("_")
            if prefix in SET_PREFIXES and request.split("@")[0] in self.names:
                req, at, idx = request.partition("@")
                keys[i] = f"{prefix}_{self.names[req]}{at}{idx}"
        return ".".join(keys)


class SuiteConfig(_Strict):
    name: str
    task: str
    set: dict[str, Any] = Field(default_factory=dict)
    stand_in: StandIn | None = None
    #: methods to run (None: the task's default_methods)
    methods: list[str] | None = None
    #: published values: method (or ``original``) -> metric path -> value
    reference: dict[str, dict[str, PublishedValue]] = Field(default_factory=dict)
    note: str | None = None
    #: false: no task here reproduces the configuration (its data is not released); only the stand-in
    #: runs, and the published values are shown beside the stand-in's numbers
    runnable: bool = True

    @model_validator(mode="after")
    def _metric_paths(self) -> "SuiteConfig":
        for method, metrics in self.reference.items():
            for path in metrics:
                if not METRIC_PATH.match(path):
                    raise ValueError(f"reference.{method}: {path!r} is not a metric path like "
                                     "metrics.accuracy.test or summary.forget_accuracy@2")
        return self


class PublishedSuite(_Strict):
    suite: str
    title: str
    sources: dict[str, Source] = Field(default_factory=dict)
    #: metrics shown for rows without published values (a third-party method, a missing table)
    show: list[str]
    configs: list[SuiteConfig]
    #: what is not in this file, and why
    missing: str | None = None

    @model_validator(mode="after")
    def _sources_known(self) -> "PublishedSuite":
        for i, config in enumerate(self.configs):
            for method, metrics in config.reference.items():
                for path, ref in metrics.items():
                    if ref.source not in self.sources:
                        raise ValueError(f"configs[{i}].reference.{method}.{path}: source {ref.source!r} "
                                         f"is not in sources ({', '.join(sorted(self.sources)) or 'none'})")
        names = [c.name for c in self.configs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"config names must be unique: {', '.join(dupes)}")
        return self


def shipped_suites() -> list[str]:
    return sorted(p.stem for p in PUBLISHED_DIR.glob("*.yaml"))


def load_published(suite_or_path: str | Path) -> PublishedSuite:
    """A shipped suite by name (``mubench``) or a reference file by path."""
    path = Path(suite_or_path)
    if not path.suffix:
        path = PUBLISHED_DIR / f"{suite_or_path}.yaml"
        if not path.exists():
            raise MuError(f"no reference suite {suite_or_path!r} (shipped: {', '.join(shipped_suites())})")
    if not path.exists():
        raise MuError(f"{path}: no such reference file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), None, f"not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, "a reference file is a mapping with suite, title, show and configs")
    try:
        return PublishedSuite.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, str(path)) from None


def split_metric(path: str) -> tuple[list[str], int | None]:
    """``summary.forget_accuracy@2`` -> (["summary", "forget_accuracy"], 2); no ``@``: last request."""
    request = None
    if "@" in path:
        path, idx = path.rsplit("@", 1)
        request = int(idx)
    return path.split("."), request


#: the name before the redesign (issue 26), when these were called reference figures
load_reference = load_published
