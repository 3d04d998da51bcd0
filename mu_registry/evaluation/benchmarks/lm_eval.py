"""General-capability benchmarks through lm-evaluation-harness, on the model object in memory.

After every unlearning request the lifelong runner can ask lm-eval for its benchmarks (PULSE measures
general capability this way; MMLU, ARC, HellaSwag, ... or the offline ``mu_world_capitals`` tasks shipped
in ``mu_registry/lm_eval_tasks``). The model is handed to lm-eval's HF wrapper as the object being
unlearned (with its LoRA adapters), not re-loaded from a checkpoint, and lm-eval's own request cache is
never turned on: it keys on the request alone and would answer from an earlier model (lm-eval issues
#2715, #4063).

lm-eval's ``TaskManager`` with its default tasks indexes thousands of YAML files (~25 s); it is built
once per process and only when a task is not found in the include paths (the shipped folder and
``include_path``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from mu_registry.util.errors import MuError

log = logging.getLogger(__name__)

SHIPPED_TASKS = Path(__file__).parent / "lm_eval_tasks"
_managers: dict[tuple[tuple[str, ...], bool], Any] = {}


def require_lm_eval():
    try:
        import lm_eval
    except ImportError:
        raise MuError("general_benchmarks need lm-eval: pip install 'mu-registry[lm-eval]'") from None
    return lm_eval


def task_manager(include_paths: list[str | Path], tasks: list[str]):
    """A TaskManager that indexes lm-eval's own tasks only if some task is not in ``include_paths``."""
    require_lm_eval()
    from lm_eval.tasks import TaskManager

    paths = tuple(sorted({str(SHIPPED_TASKS), *(str(p) for p in include_paths)}))
    local = _managers.get((paths, False))
    if local is None:
        local = _managers[(paths, False)] = TaskManager(include_path=list(paths), include_defaults=False)
    if all(t in local.all_tasks for t in tasks):
        return local
    full = _managers.get((paths, True))
    if full is None:
        log.info("lm-eval: indexing its default tasks for %s", ", ".join(t for t in tasks if t not in local.all_tasks))
        full = _managers[(paths, True)] = TaskManager(include_path=list(paths), include_defaults=True)
    missing = [t for t in tasks if t not in full.all_tasks]
    if missing:
        raise MuError(f"general_benchmarks.tasks: lm-eval has no task {', '.join(map(repr, missing))}")
    return full


def hf_tokenizer(adapter: Any):
    tok = getattr(adapter, "tokenizer", None)
    try:
        import transformers
    except ImportError:
        raise MuError("general_benchmarks need transformers: pip install 'mu-registry[hf]'") from None
    if not isinstance(tok, transformers.PreTrainedTokenizerBase):
        raise MuError(f"general_benchmarks: model plugin {type(adapter).__name__} has no Hugging Face tokenizer, "
                      "which lm-eval needs (hf_llava and smollm2_llava have one)")
    return tok


def wrap(adapter: Any, module: nn.Module, *, batch_size: int | str = "auto", max_batch_size: int = 64,
         device: str | None = None):
    """lm-eval's HF model wrapper around the in-memory ``module`` (a causal LM or a LLaVA, with adapters)."""
    require_lm_eval()
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=module, tokenizer=hf_tokenizer(adapter), backend="causal", batch_size=batch_size,
                max_batch_size=max_batch_size, device=device)


def run(adapter: Any, module: nn.Module, tasks: list[str], *,
        include_paths: list[str | Path] = (),  # type: ignore[assignment]
        num_fewshot: int | None = None, limit: int | float | None = None, batch_size: int | str = "auto",
        seed: int = 0) -> dict[str, dict[str, float]]:
    """``{task: {metric: value}}`` for ``module`` as it is now (metric names as lm-eval reports them,
    without the filter suffix where the filter is lm-eval's default ``none``)."""
    lm_eval = require_lm_eval()
    manager = task_manager(list(include_paths), tasks)
    module.eval()
    out = lm_eval.simple_evaluate(model=wrap(adapter, module, batch_size=batch_size), tasks=tasks,
                                  num_fewshot=num_fewshot, limit=limit, task_manager=manager, log_samples=False,
                                  bootstrap_iters=0, random_seed=seed, numpy_random_seed=seed,
                                  torch_random_seed=seed, fewshot_random_seed=seed, use_cache=None)
    results: dict[str, dict[str, float]] = {}
    for task, metrics in (out or {}).get("results", {}).items():
        clean = {}
        for key, value in metrics.items():
            if key in ("alias", "sample_len") or "_stderr" in key or not isinstance(value, (int, float)):
                continue
            name, _, filt = key.partition(",")
            clean[name if filt in ("none", "") else f"{name}[{filt}]"] = float(value)
        results[task] = clean
    return results
