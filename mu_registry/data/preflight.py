"""What a task needs before anything trains, checked in planning without downloading: a dataset builder's own
``preflight``, a Hugging Face dataset or model that is neither a local folder nor in the local cache while the
Hub cannot be reached (one probe, 3 s, no retries), and the model plugin's ``preflight``. Every problem of every
planned task comes back, so one message can name them all."""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mu_registry.registry.task_index import LoadedTask
from mu_registry.util.errors import MuError
from mu_registry.util.paths import expand_path

PROBE_TIMEOUT_S = 3.0


def hf_cache_dirs() -> list[Path]:
    """Where Hugging Face keeps downloads: the hub cache and the datasets cache."""
    home = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()
    hub = Path(os.environ.get("HF_HUB_CACHE", os.environ.get("HUGGINGFACE_HUB_CACHE", home / "hub"))).expanduser()
    datasets = Path(os.environ.get("HF_DATASETS_CACHE", home / "datasets")).expanduser()
    return [hub, datasets]


def in_hf_cache(repo_id: str, kind: str) -> bool:
    """Whether ``repo_id`` (a dataset or model) was downloaded before into the local Hugging Face cache."""
    hub, datasets = hf_cache_dirs()
    owner_name = repo_id.replace("/", "--")
    if (hub / f"{kind}s--{owner_name}").is_dir():
        return True
    return kind == "dataset" and any(datasets.glob(f"{repo_id.replace('/', '___')}*"))


def hub_unreachable() -> str | None:
    """Why the Hub cannot be used now (``HF_HUB_OFFLINE``, or no answer within 3 s), or None."""
    if any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return "HF_HUB_OFFLINE is set"
    return _probe(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))


@functools.lru_cache(maxsize=4)
def _probe(endpoint: str) -> str | None:
    """One HEAD request per endpoint and process, no retries."""
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (OSError, ValueError) as exc:
        return f"{endpoint} did not answer within {PROBE_TIMEOUT_S:.0f} s ({type(exc).__name__})"
    return None


def hub_problem(repo_id: str, kind: str, where: str, hint: str = "") -> str | None:
    """One line when ``repo_id`` is not a local folder, not cached and the Hub cannot be reached."""
    if expand_path(repo_id).exists() or in_hf_cache(repo_id, kind):
        return None
    why = hub_unreachable()
    if why is None:
        return None
    return f"{where}: Hugging Face {kind} '{repo_id}' is not cached here and {why}{'; ' + hint if hint else ''}"


def task_problems(loaded: LoadedTask, registry: Any, model_name: str, model_args: dict[str, Any]) -> list[str]:
    """Every missing piece of one task's data and model, one line each (empty: nothing missing)."""
    cfg, src = loaded.config, str(loaded.path)
    problems: list[str] = []
    if cfg.dataset.builder is not None:
        builder = registry.dataset(cfg.dataset.builder, context=f"{src}: dataset.builder")
        preflight = getattr(builder, "preflight", None)
        if preflight is not None:
            try:
                preflight(**cfg.dataset.builder_args)
            except MuError as exc:
                problems.append(str(exc))
    else:
        sources = [("dataset.path", cfg.dataset.path)]
        sources += [(f"dataset.extra_sources.{role}.path", e.path) for role, e in cfg.dataset.extra_sources.items()]
        for key, path in sources:
            if path and not cfg.dataset.data_files:
                problem = hub_problem(path, "dataset", f"{src}: {key}",
                                      f"get it with `mu-eval data get {loaded.name}` where the network is"
                                      if loaded.name.startswith("mubench-") else "")
                if problem:
                    problems.append(problem)
    plugin = registry.model(model_name)
    preflight = getattr(plugin, "preflight", None)
    if preflight is not None:
        try:
            preflight(**model_args)
        except MuError as exc:
            problems.append(f"{src}: model: {exc}")
    return problems


#: dataset builders whose data is fetched first (`mu-eval data get NAME`)
FETCHED = {"mlubench_release": "data get mlubench", "mllmu_bench": "network, or data get pulse"}


def needs(cfg: Any) -> str:
    """What a task needs beyond an installed package, read from its config without checking anything: offline,
    the network (a Hugging Face dataset or model), data fetched with ``mu-eval data get``, a judge endpoint."""
    out = []
    ds = cfg.dataset
    if ds.builder in FETCHED:
        out.append(FETCHED[ds.builder])
    elif ds.path and not ds.data_files and not expand_path(ds.path).exists():
        out.append("network (dataset)")
    elif ds.data_files:
        out.append("local files")
    pretrained = (cfg.model.args or {}).get("pretrained")
    if pretrained and not expand_path(str(pretrained)).exists():
        out.append("network (model)")
    if cfg.task_type == "generation" and cfg.generation.judge == "openai_compatible":
        out.append("judge endpoint")
    return ", ".join(dict.fromkeys(out)) or "offline"
