"""What one `mu-eval run` was asked to do (recorded in results.json, read back by --resume)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunConfig:
    tasks: list[str]
    methods: list[str] | None = None  # None: each task's default_methods
    model: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    output: str = "results"
    limit: int | None = None
    include_paths: list[str] = field(default_factory=list)
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "auto"
    use_cache: bool = True
    #: task keys changed for this run (``--set forget.ratio=0.05``), applied after includes
    task_overrides: dict[str, Any] = field(default_factory=dict)
    #: evaluation engine for generative tasks (None: each task's generation.engine)
    engine: str | None = None
