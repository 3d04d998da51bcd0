"""The vLLM engine (GPU; ``pip install 'mu-registry[vllm]'``): one engine for the whole run.

Checked line by line against the sources of the vLLM 0.32.0 wheel (paths relative to its package) and,
where that runs without a GPU, against the real package (tests/test_vllm_real.py):

- Started once, on the first evaluation, from the model's base weights (exported to a folder by the
  model plugin's ``vllm_source``, so a base fine-tuned in this process is what vLLM serves), in the
  model's own dtype (``dtype="auto"`` would serve a float32 model in 16 bits), with a context no longer
  than the model's (vLLM refuses ``max_model_len`` above it) and a share of GPU memory derived from what
  is free (vLLM checks ``gpu_memory_utilization`` x total memory against free memory at start-up,
  ``v1/worker/utils.py`` ``request_memory``, while the harness's own copy of the model is on the GPU).
- After a LoRA-based request the new or changed adapter is saved and added under a new LoRA request id:
  no reload. Its rank is checked against ``max_lora_rank`` when it is registered (vLLM fails only inside
  ``generate``); LoRA weights on the vision tower or projector are carried only with
  ``enable_tower_connector_lora`` (vLLM drops them silently otherwise, ``lora/model_manager.py``) and
  refused in one line without it; ``modules_to_save`` is refused (vLLM takes only a classification head).
- A method that changed the base weights (RMU, full fine-tuning, a trained projector) has them loaded
  into the running engine with vLLM's own ``Worker.reload_weights(weights_path=...)``
  (``v1/worker/gpu_worker.py``: in place under vLLM's config, LoRA state, encoder and multimodal caches
  reset in the worker), then the scheduler's encoder cache and the prefix cache are reset, so no image
  embedding computed with the old tower or projector is served again.
- Changes are detected without hashing weights (``tensor_versions``: storage and version counter per
  tensor), name-blind so that wrapping the model in peft is not a change.
- Image rows go in with ONE image placeholder per image (vLLM expands it itself,
  ``model_executor/models/llava.py`` ``_get_prompt_updates`` and ``multimodal/processing/processor.py``;
  a prompt already expanded by the model plugin would hold 2N-1 image tokens of which N carry the image).
  Answer positions are read from the expanded ``prompt_token_ids`` vLLM returns, and the expansion is
  checked against the model plugin's own (the transformers engine's prompt). A row with a tuple of images
  (a one-shot example's, then its own) sends them as a list, in order. Generation is greedy with stop
  strings, or sampled (``Sampling``: temperature, top-k, top-p, and a per-row seed, the transformers engine's
  ``row_seed``; vLLM's sampler draws differently from the transformers engine's, so sampled answers agree
  between the engines in distribution, not token for token); likelihoods come from ``prompt_logprobs``.
  Prefix caching is off by default: with it on, vLLM's prompt logprobs can depend on the order of
  requests (vLLM issue #42019, open in 0.32).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mu_registry.evaluation.answer_cache import tensor_versions
from mu_registry.util.errors import MuError
from mu_registry.api.generative_model import NOT_LANGUAGE_MODEL
from mu_registry.training.peft import is_peft
from mu_registry.api.qa import EncodedQA
from mu_registry.evaluation.engines.base import ACTIVE, EvalEngine, Sampling, row_seed
from mu_registry.evaluation.engines.reuse import image_digest

log = logging.getLogger(__name__)

#: ``vllm/config/lora.py`` ``MaxLoRARanks`` (0.32.0): the only values ``max_lora_rank`` may take
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
#: the context the engine asks for when the model's own is longer (the KV cache must hold one such row)
DEFAULT_MAX_MODEL_LEN = 4096
#: keys of a model config that bound its context (vLLM's ``_get_and_verify_max_len`` reads these too)
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")
#: the engine's own keyword arguments (the rest of ``engine_args`` go to ``vllm.LLM``)
OWN_ARGS = ("workdir",)


def _signature(module: nn.Module, keep) -> tuple:
    """(storage, version) of every kept tensor: unchanged by wrapping the module in peft (which renames
    the tensors but keeps them), changed by any in-place update or replacement."""
    return tuple(sorted(sig for name, sig in tensor_versions(module).items() if keep(name)))


def base_signature(module: nn.Module) -> tuple:
    return _signature(module, lambda n: "lora_" not in n)


def adapter_signature(module: nn.Module, adapter: str) -> tuple:
    return _signature(module, lambda n: "lora_" in n and f".{adapter}." in n)


# --- engine arguments ------------------------------------------------------------------------------

def snap_lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts for ``max_lora_rank`` that holds ``rank``."""
    for allowed in LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise MuError(f"engine_args.max_lora_rank {rank}: vLLM 0.32 serves LoRA ranks up to {LORA_RANKS[-1]}")


def context_length(config: Any) -> int | None:
    """The model's own context: the smallest of the bounding keys its (text) config sets."""
    text = getattr(config, "text_config", None) or config
    found = [int(v) for k in CONTEXT_KEYS for v in [getattr(text, k, None)] if isinstance(v, int) and v > 0]
    return min(found) if found else None


def derive_max_model_len(config: Any, requested: int | None) -> int:
    """``requested`` if the model's context holds it (else one line), or the model's context capped at
    ``DEFAULT_MAX_MODEL_LEN``."""
    own = context_length(config)
    if requested is None:
        return min(own, DEFAULT_MAX_MODEL_LEN) if own else DEFAULT_MAX_MODEL_LEN
    if own is not None and requested > own:
        raise MuError(f"engine_args.max_model_len {requested}: the model's context is {own} tokens "
                      "(vLLM refuses a longer max_model_len); leave it out or lower it")
    return int(requested)


def model_dtype(module: nn.Module) -> str:
    """The dtype the harness's own copy computes in (of the base weights, LoRA factors left out)."""
    for name, p in module.named_parameters():
        if "lora_" not in name and p.is_floating_point():
            return str(p.dtype).removeprefix("torch.")
    return "auto"


def memory_share(free: int, total: int, requested: float | None = None, *, reserve: int = 1 << 30,
                 headroom: float = 0.9) -> float:
    """vLLM's ``gpu_memory_utilization`` is a share of TOTAL memory that must be FREE at start-up. Derived
    (``requested`` None): ``headroom`` of what is free after ``reserve`` bytes (vLLM's own CUDA context
    and the harness's activations), rounded down to a percent. Given: refused in one line if it does not
    fit in what is free."""
    if requested is not None:
        if not 0 < requested <= 1:
            raise MuError(f"engine_args.gpu_memory_utilization {requested}: a share of the GPU's memory in (0, 1]")
        if requested * total > free:
            raise MuError(f"engine_args.gpu_memory_utilization {requested}: vLLM needs {requested * total / 2**30:.1f} "
                          f"GiB free at start-up, {free / 2**30:.1f} of {total / 2**30:.1f} GiB are free; lower it "
                          "or leave it out (derived from free memory)")
        return float(requested)
    share = math.floor(100 * headroom * max(0, free - reserve) / total) / 100
    if share < 0.05:
        raise MuError(f"engine vllm: {free / 2**30:.1f} of {total / 2**30:.1f} GiB of GPU memory are free, too "
                      "little to start vLLM beside the harness's model; use engine transformers")
    return share


def check_llm_args(args: dict[str, Any]) -> None:
    """Every key is one of vLLM's engine arguments (``vllm/engine/arg_utils.py`` ``EngineArgs``), so a typo
    fails in one line instead of inside vLLM's start-up."""
    try:
        from vllm.engine.arg_utils import EngineArgs
    except ImportError:  # the API stand-in of the tests has no EngineArgs
        return
    known = {f.name for f in dataclasses.fields(EngineArgs)}
    unknown = sorted(set(args) - known)
    if unknown:
        raise MuError(f"engine_args.{unknown[0]}: not an argument of the vLLM engine nor of vllm.LLM "
                      "(see vllm.engine.arg_utils.EngineArgs)")


# --- prompts ---------------------------------------------------------------------------------------

def collapse_image_runs(ids: list[int], image_id: int) -> list[int]:
    """One image placeholder per run of them: what vLLM expects (it expands each itself)."""
    out: list[int] = []
    for t in ids:
        if t == image_id and out and out[-1] == image_id:
            continue
        out.append(int(t))
    return out


def check_expansion(sent: list[int], served: list[int], expected: list[int], image_id: int | None,
                    row: int) -> None:
    """vLLM's expanded prompt holds the model plugin's prompt (the transformers engine's) exactly: same
    tokens, same number of image tokens, same length."""
    if list(served) == list(expected):
        return
    n_served = sum(t == image_id for t in served) if image_id is not None else 0
    n_expected = sum(t == image_id for t in expected) if image_id is not None else 0
    raise MuError(f"vllm engine: row {row}: vLLM served {len(served)} prompt tokens ({n_served} image tokens) for the "
                  f"{len(sent)} sent, the model plugin's prompt has {len(expected)} ({n_expected} image tokens): the "
                  "two engines would not score the same prompt")


# --- adapters --------------------------------------------------------------------------------------

def lora_rank(module: nn.Module, name: str) -> int:
    cfg = module.peft_config[name]
    return max([int(cfg.r), *(int(r) for r in (getattr(cfg, "rank_pattern", None) or {}).values())])


def non_language_lora(module: nn.Module, name: str) -> list[str]:
    """Modules of the vision tower or projector that adapter ``name`` puts LoRA factors on."""
    found = []
    for mod_name, mod in module.named_modules():
        lora_a = getattr(mod, "lora_A", None)
        if lora_a is not None and name in lora_a and any(k in mod_name for k in NOT_LANGUAGE_MODEL):
            found.append(mod_name.removeprefix("base_model.model."))
    return found


class VLLMEngine(EvalEngine):
    name = "vllm"

    def __init__(self, adapter: Any, module: nn.Module, *, device: torch.device,
                 gpu_memory_utilization: float | None = None, max_model_len: int | None = None, max_loras: int = 8,
                 max_lora_rank: int = 64, dtype: str | None = None, enable_prefix_caching: bool = False,
                 enable_tower_connector_lora: bool = False, workdir: str | None = None, **llm_args: Any):
        check_llm_args(llm_args)
        self.adapter = adapter
        self.module = module
        self.device = device
        self.requested_memory = gpu_memory_utilization
        self.max_lora_rank = snap_lora_rank(int(max_lora_rank))
        self.tower_lora = bool(enable_tower_connector_lora)
        self.llm_args = dict(max_model_len=derive_max_model_len(getattr(module, "config", None), max_model_len),
                             max_loras=max_loras, max_lora_rank=self.max_lora_rank,
                             dtype=dtype or model_dtype(module), enable_prefix_caching=enable_prefix_caching,
                             **llm_args)
        if self.tower_lora:
            self.llm_args["enable_tower_connector_lora"] = True
        self.image_id: int | None = getattr(adapter, "image_token_id", None)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mu-vllm-")).resolve()
        self.llm = None
        self._base_sig: tuple | None = None
        self._loras: dict[str, tuple[tuple, Any]] = {}
        self._next_lora_id = 1
        self.starts = 0
        self.weight_reloads = 0
        self.adapters_added = 0
        self.swap_seconds: list[float] = []

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "starts": self.starts, "weight_reloads": self.weight_reloads,
                "adapters_added": self.adapters_added,
                "mean_swap_s": float(np.mean(self.swap_seconds)) if self.swap_seconds else None}

    # --- weights -----------------------------------------------------------------------------

    def start_args(self) -> dict[str, Any]:
        """``vllm.LLM``'s keyword arguments (the model folder aside), GPU memory share included."""
        args = dict(self.llm_args, enable_lora=True)
        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info(self.device if self.device.type == "cuda" else None)
            args["gpu_memory_utilization"] = memory_share(free, total, self.requested_memory)
        elif self.requested_memory is not None:
            args["gpu_memory_utilization"] = self.requested_memory
        return args

    def sync(self, module: nn.Module) -> None:
        from vllm import LLM

        self.module = module
        sig = base_signature(module)
        if self.llm is None:
            folder = self.adapter.vllm_source(module, self.workdir / "base")
            self.llm = LLM(model=folder, **self.start_args())
            self.starts += 1
            self._base_sig = sig
        elif sig != self._base_sig:
            start = time.perf_counter()
            folder = self.adapter.vllm_source(module, self.workdir / "base")
            # vLLM's own in-place reload: LoRA state, encoder and multimodal caches of the worker reset
            self.llm.collective_rpc("reload_weights", kwargs={"weights_path": str(folder)})
            self.llm.llm_engine.reset_encoder_cache()  # the scheduler's record of cached image embeddings
            self.llm.reset_prefix_cache()
            self._base_sig = sig
            self.weight_reloads += 1
            log.info("vllm: base weights reloaded in place (%.1fs)", time.perf_counter() - start)
        if not is_peft(module):
            return
        for name in module.peft_config:
            asig = adapter_signature(module, name)
            if name in self._loras and self._loras[name][0] == asig:
                continue
            start = time.perf_counter()
            self._loras[name] = (asig, self.register_adapter(module, name))
            self.adapters_added += 1
            self.swap_seconds.append(time.perf_counter() - start)

    def register_adapter(self, module: nn.Module, name: str):
        """Adapter ``name`` saved and named by a new ``LoRARequest`` (ids from 1, an absolute path), after the
        checks vLLM would otherwise make only inside ``generate`` (or not at all)."""
        from vllm.lora.request import LoRARequest

        rank = lora_rank(module, name)
        if rank > self.max_lora_rank:
            raise MuError(f"vllm engine: adapter {name!r} has LoRA rank {rank}, above engine_args.max_lora_rank "
                          f"{self.max_lora_rank}; raise max_lora_rank (one of {', '.join(map(str, LORA_RANKS))})")
        tower = non_language_lora(module, name)
        if tower and not self.tower_lora:
            raise MuError(f"vllm engine: adapter {name!r} has LoRA on {tower[0]} (vision tower or projector), which "
                          "vLLM 0.32 drops silently unless engine_args.enable_tower_connector_lora is true "
                          "(experimental in vLLM); set it, or use engine transformers")
        saved = getattr(module.peft_config[name], "modules_to_save", None)
        if saved:
            raise MuError(f"vllm engine: adapter {name!r} saves full modules ({', '.join(sorted(saved))}, peft "
                          "modules_to_save), which vLLM 0.32 loads only for a classification head; use engine "
                          "transformers")
        lora_id = self._next_lora_id
        self._next_lora_id += 1
        folder = self.workdir / f"lora-{lora_id}"
        module.save_pretrained(str(folder), selected_adapters=[name])
        path = (folder if name == "default" else folder / name).resolve()
        self._vllm_adapter_checks(name, path)
        return LoRARequest(f"{name}-{lora_id}", lora_id, str(path))

    def _vllm_adapter_checks(self, name: str, path: Path) -> None:
        """vLLM's own checks of a saved adapter (``lora/peft_helper.py`` ``validate_legal``: rank, DoRA, bias,
        initialisation, modules_to_save), run now rather than inside ``generate``."""
        try:
            from vllm.config.lora import LoRAConfig
            from vllm.lora.peft_helper import PEFTHelper
        except ImportError:  # the API stand-in of the tests
            return
        config = LoRAConfig(max_lora_rank=self.max_lora_rank, max_loras=self.llm_args["max_loras"])
        try:
            PEFTHelper.from_local_dir(str(path), max_position_embeddings=None).validate_legal(config)
        except ValueError as exc:
            raise MuError(f"vllm engine: adapter {name!r}: vLLM refuses it ({exc})") from None

    def _lora(self, adapter: str | None):
        if adapter is None or not is_peft(self.module):
            return None
        name = self.module.active_adapter if adapter == ACTIVE else adapter
        if name not in self._loras:
            raise MuError(f"vllm engine: adapter {name!r} was never synced (known: {', '.join(self._loras)})")
        return self._loras[name][1]

    # --- prompts -----------------------------------------------------------------------------

    @staticmethod
    def _image(img: Any):
        from PIL import Image

        if isinstance(img, str):
            return Image.open(img).convert("RGB")
        arr = np.asarray(img)
        return Image.fromarray(arr.transpose(1, 2, 0) if arr.ndim == 3 and arr.shape[0] in (1, 3) else arr)

    def prompt(self, data: EncodedQA, i: int, extra: list[int] | None = None) -> tuple[dict[str, Any], list[int]]:
        """Row ``i`` (with ``extra`` tokens after it) as vLLM takes it, and the prompt the model plugin
        built (what the transformers engine scores, and what vLLM's expansion must give back)."""
        expected = list(data.prompts[i]) + list(extra or [])
        ids = list(data.prompts[i])
        prompt: dict[str, Any] = {}
        if data.images[i] is not None:
            if self.image_id is None:
                raise MuError(f"vllm engine: model plugin {type(self.adapter).__name__} names no image_token_id, so "
                              "its image rows cannot be sent to vLLM")
            ids = collapse_image_runs(ids, self.image_id)
            img = data.images[i]
            prompt["multi_modal_data"] = {"image": [self._image(x) for x in img] if isinstance(img, tuple)
                                          else self._image(img)}
        prompt["prompt_token_ids"] = ids + list(extra or [])
        return prompt, expected

    def _served(self, prompts: list[tuple[dict[str, Any], list[int]]], params, adapter: str | None) -> list[Any]:
        if self.llm is None:
            self.sync(self.module)
        outs = self.llm.generate([p for p, _ in prompts], params, lora_request=self._lora(adapter), use_tqdm=False)
        for row, ((p, expected), out) in enumerate(zip(prompts, outs)):
            check_expansion(p["prompt_token_ids"], out.prompt_token_ids, expected, self.image_id, row)
        return outs

    @staticmethod
    def score_params():
        from vllm import SamplingParams

        return SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)

    @staticmethod
    def generation_params(max_new_tokens: int, stop: tuple[str, ...] = (), sampling: Sampling | None = None,
                          seed: int | None = None):
        """Greedy (temperature 0), or ``sampling``'s temperature, top-k (0, every token: vLLM's -1) and top-p
        with the row's ``seed``."""
        from vllm import SamplingParams

        if sampling is None:
            return SamplingParams(max_tokens=max_new_tokens, temperature=0.0, stop=list(stop) or None)
        return SamplingParams(max_tokens=max_new_tokens, temperature=sampling.temperature,
                              top_k=sampling.top_k if sampling.top_k > 0 else -1, top_p=sampling.top_p, seed=seed,
                              stop=list(stop) or None)

    def _scored(self, prompts: list[tuple[dict[str, Any], list[int]]], n_scored: list[int],
                adapter: str | None) -> np.ndarray:
        """Token-mean NLL of the last ``n_scored[i]`` tokens of each prompt, at their positions in the
        expanded prompt vLLM returns."""
        outs = self._served(prompts, self.score_params(), adapter)
        nll = np.zeros(len(prompts))
        for i, (out, n) in enumerate(zip(outs, n_scored)):
            ids = out.prompt_token_ids
            lps = [out.prompt_logprobs[j][ids[j]].logprob for j in range(len(ids) - n, len(ids))]
            nll[i] = -float(np.mean(lps)) if lps else 0.0
        return nll

    # --- requests ----------------------------------------------------------------------------

    def loglikelihood(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        prompts = [self.prompt(data, i, data.answers[i]) for i in range(len(data))]
        return self._scored(prompts, [len(a) for a in data.answers], adapter)

    def choice_scores(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        assert data.options is not None, "multiple choice needs options"
        width = max((len(o) for o in data.options), default=0)
        prompts, n_scored, cells = [], [], []
        for i, opts in enumerate(data.options):
            for k, text in enumerate(opts):
                option = self.adapter.tokenize_answer(text)
                prompts.append(self.prompt(data, i, option))
                n_scored.append(len(option))
                cells.append((i, k))
        scores = np.full((len(data), width), np.inf)
        if prompts:
            for (i, k), s in zip(cells, self._scored(prompts, n_scored, adapter)):
                scores[i, k] = s
        return scores

    def generate(self, data: EncodedQA, *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 adapter: str | None = ACTIVE, sampling: Sampling | None = None) -> list[str]:
        if sampling is None:
            params: Any = self.generation_params(max_new_tokens, stop)
        else:  # one request per row, each with the row's own seed
            params = [self.generation_params(max_new_tokens, stop, sampling, self.row_seed(data, i, sampling.seed))
                      for i in range(len(data))]
        outs = self._served([self.prompt(data, i) for i in range(len(data))], params, adapter)
        return [o.outputs[0].text.strip() for o in outs]

    @staticmethod
    def row_seed(data: EncodedQA, i: int, seed: int) -> int:
        """Row ``i``'s seed as the transformers engine derives it (its prompt tokens and image digest)."""
        img = data.images[i]
        return row_seed(seed, (tuple(data.prompts[i]), image_digest(img) if img is not None else None, None))
