"""General capability of a multimodal model through lmms-eval (PULSE reports MMBench), on the model in memory.

``lmms-eval`` (``pip install 'mu-registry[lmms]'``) runs multimodal benchmarks (MMBench, ...) against a
model object implementing its ``lmms`` interface. ``InMemoryLMM`` is that interface around the model
being unlearned: lmms-eval's requests (a prompt, its generation arguments and the document's images)
are encoded by the task's model plugin and answered greedily by this harness's evaluation engine
(transformers or vLLM), with the adapters the model holds, so no checkpoint is written or re-loaded.
lmms-eval's response cache is never turned on (it keys on the request alone and would answer from an
earlier model).

MMBench (``mmbench_en_dev_static`` in lmms-eval: MMBench's prompt, ``process_results`` and its
rule-based option extraction, with no OpenAI call; ``mmbench_en_dev`` asks GPT to match answers and
needs an API key) downloads its data from the Hugging Face hub. Only ``generate_until`` tasks are
served (MMBench is one); a loglikelihood task is refused in one line.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from mu_registry.util.errors import MuError
from mu_registry.api.data import Split
from mu_registry.evaluation.engines import ACTIVE
from mu_registry.api.model import TaskSpec

log = logging.getLogger(__name__)


def require_lmms() -> Any:
    try:
        import lmms_eval
    except ImportError:
        raise MuError("lmms_benchmarks need lmms-eval: pip install 'mu-registry[lmms]'") from None
    return lmms_eval


def _image_array(image: Any) -> np.ndarray:
    """A PIL image (what lmms-eval's ``doc_to_visual`` returns) as the uint8 3×H×W array model plugins take."""
    arr = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return np.ascontiguousarray(arr.transpose(2, 0, 1)) if arr.shape[-1] == 3 else arr


def make_lmm(engine: Any, adapter: Any, module: Any, *, max_new_tokens: int, route: Any = "active") -> Any:
    """lmms-eval's model interface around ``module`` (answered through ``engine``; ``route``: the adapter
    the engine answers with, ``"active"`` for the model as it stands, None for the base with every adapter
    off, as a routing method answers a query it sends to no expert)."""
    require_lmms()
    from lmms_eval.api.model import lmms

    spec = TaskSpec(name="lmms-eval", modality="image-text", num_classes=0, input_columns=["question", "image"],
                    label_column="answer", input_shapes={}, form_column="form")

    class InMemoryLMM(lmms):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def generate_until(self, requests: list[Any]) -> list[str]:
            rows = []
            for req in requests:
                context, gen_kwargs, doc_to_visual, doc_id, task, split = req.args
                visuals = doc_to_visual(self.task_dict[task][split][doc_id]) if doc_to_visual else []
                visuals = [v for v in (visuals or []) if v is not None]
                if len(visuals) > 1:
                    log.warning("lmms-eval %s: %d images in one request; the model sees the first", task, len(visuals))
                until = gen_kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                limit = min(int(gen_kwargs.get("max_new_tokens", max_new_tokens)), max_new_tokens)
                rows.append((str(context), _image_array(visuals[0]) if visuals else None, tuple(until), limit))
            out: list[str] = [""] * len(rows)
            groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
            for i, (_, _, until, limit) in enumerate(rows):
                groups.setdefault((until, limit), []).append(i)
            for (until, limit), idx in groups.items():
                cols = {"question": [rows[i][0] for i in idx], "image": [rows[i][1] for i in idx],
                        "answer": [""] * len(idx),
                        "form": ["multimodal" if rows[i][1] is not None else "text" for i in idx]}
                enc = adapter.encode(Split("lmms-eval", cols, np.arange(len(idx))), spec)
                which = ACTIVE if route == "active" else route
                got = engine.generate(enc, max_new_tokens=limit, stop=until, adapter=which)
                for k, i in enumerate(idx):
                    out[i] = got[k]
            self.calls += len(rows)
            return out

        def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
            raise MuError("lmms_benchmarks: only generate_until tasks are served (MMBench is one); "
                          "this task asks for log-likelihoods")

        def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
            raise MuError("lmms_benchmarks: multi-round tasks are not served")

    return InMemoryLMM()


def task_manager(include_paths: list[str | Path]) -> Any:
    require_lmms()
    from lmms_eval.tasks import TaskManager

    return TaskManager(include_path=[str(p) for p in include_paths] or None, include_defaults=True)


def primary(metrics: dict[str, Any]) -> float | None:
    """A task's headline score as a fraction (lmms-eval's MMBench reports a percentage)."""
    for key, value in metrics.items():
        name = key.split(",")[0]
        if name in ("alias", "submission") or name.endswith("_stderr") or not isinstance(value, (int, float)):
            continue
        return float(value) / 100 if name == "gpt_eval_score" else float(value)
    return None


def run(engine: Any, adapter: Any, module: Any, tasks: list[str], *, include_paths: list[str | Path] = (),
        limit: int | float | None = None, max_new_tokens: int = 16, seed: int = 0,
        route: Any = "active") -> dict[str, dict[str, Any]]:
    """Each task's metrics (lmms-eval's ``results``), ``primary`` giving its score as a fraction."""
    require_lmms()
    from lmms_eval.evaluator import simple_evaluate

    manager = task_manager(list(include_paths))
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise MuError(f"lmms_benchmarks.tasks: lmms-eval has no task {', '.join(map(repr, unknown))}")
    lmm = make_lmm(engine, adapter, module, max_new_tokens=max_new_tokens, route=route)
    with tempfile.TemporaryDirectory(prefix="mu-lmms-") as tmp:  # MMBench's aggregation writes a file
        out = simple_evaluate(model=lmm, tasks=list(tasks), limit=limit, task_manager=manager, log_samples=False,
                              bootstrap_iters=0, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
                              use_cache=None, verbosity="WARNING",
                              cli_args=SimpleNamespace(output_path=tmp, process_with_media=False))
    results = (out or {}).get("results", {})
    return {t: {k: v for k, v in results.get(t, {}).items() if k != "alias"} for t in tasks}
