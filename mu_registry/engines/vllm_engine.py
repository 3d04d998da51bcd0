"""The vLLM engine (GPU; ``pip install 'mu-registry[vllm]'``): one engine for the whole run.

- Started once, on the first evaluation, from the model's base weights (exported to a folder by the
  model plugin's ``vllm_source``, so a base fine-tuned in this process is what vLLM serves).
- After a LoRA-based request the new or changed adapter is saved and added under a new LoRA request id:
  no reload. LUMoE's experts are separate LoRA requests, chosen per row by the route.
- A method that changed the base weights (RMU, full fine-tuning) has them loaded into the running engine
  (``collective_rpc`` into ``WeightLoader``, the worker extension below), not a new engine.
- Changes are detected without hashing weights (``tensor_versions``: storage and version counter per
  tensor), name-blind so that wrapping the model in peft is not a change.
- Multimodal rows go in as token ids with the image (``multi_modal_data``); generation is greedy with
  stop strings; answer and option log-likelihoods come from ``prompt_logprobs``. Prefix caching is off
  by default: with it on, vLLM's prompt logprobs can depend on the order of requests (vLLM issue
  #42019, open when this was written), and likelihoods here must not.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..answer_cache import tensor_versions
from ..errors import MuError
from ..llm_method import is_peft
from ..qa import EncodedQA
from .base import ACTIVE, EvalEngine

log = logging.getLogger(__name__)

WORKER_EXTENSION = "mu_registry.engines.vllm_worker.WeightLoader"


def _signature(module: nn.Module, keep) -> tuple:
    """(storage, version) of every kept tensor: unchanged by wrapping the module in peft (which renames
    the tensors but keeps them), changed by any in-place update or replacement."""
    return tuple(sorted(sig for name, sig in tensor_versions(module).items() if keep(name)))


def base_signature(module: nn.Module) -> tuple:
    return _signature(module, lambda n: "lora_" not in n)


def adapter_signature(module: nn.Module, adapter: str) -> tuple:
    return _signature(module, lambda n: "lora_" in n and f".{adapter}." in n)


class VLLMEngine(EvalEngine):
    name = "vllm"

    def __init__(self, adapter: Any, module: nn.Module, *, device: torch.device, gpu_memory_utilization: float = 0.6,
                 max_model_len: int | None = 4096, max_loras: int = 8, max_lora_rank: int = 64,
                 dtype: str = "auto", enable_prefix_caching: bool = False, workdir: str | None = None,
                 **llm_args: Any):
        self.adapter = adapter
        self.module = module
        self.device = device
        self.llm_args = dict(gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                             max_loras=max_loras, max_lora_rank=max_lora_rank, dtype=dtype,
                             enable_prefix_caching=enable_prefix_caching, **llm_args)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mu-vllm-"))
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

    def sync(self, module: nn.Module) -> None:
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        self.module = module
        sig = base_signature(module)
        if self.llm is None:
            folder = self.adapter.vllm_source(module, self.workdir / "base")
            self.llm = LLM(model=folder, enable_lora=True, worker_extension_cls=WORKER_EXTENSION, **self.llm_args)
            self.starts += 1
            self._base_sig = sig
        elif sig != self._base_sig:
            start = time.perf_counter()
            folder = self.adapter.vllm_source(module, self.workdir / "base")
            self.llm.collective_rpc("mu_load_weights", args=(str(folder),))
            if hasattr(self.llm, "reset_prefix_cache"):
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
            lora_id = self._next_lora_id
            self._next_lora_id += 1
            folder = self.workdir / f"lora-{lora_id}"
            module.save_pretrained(str(folder), selected_adapters=[name])
            path = folder if name == "default" else folder / name
            request = LoRARequest(f"{name}-{lora_id}", lora_id, str(path))
            self._loras[name] = (asig, request)
            self.adapters_added += 1
            self.swap_seconds.append(time.perf_counter() - start)

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

    def _prompt(self, data: EncodedQA, i: int, extra: list[int] | None = None) -> dict[str, Any]:
        prompt: dict[str, Any] = {"prompt_token_ids": list(data.prompts[i]) + list(extra or [])}
        if data.images[i] is not None:
            prompt["multi_modal_data"] = {"image": self._image(data.images[i])}
        return prompt

    def _scored(self, prompts: list[dict[str, Any]], starts: list[int], adapter: str | None) -> np.ndarray:
        """Token-mean NLL of each prompt's tokens from ``starts[i]`` on."""
        from vllm import SamplingParams

        if self.llm is None:
            self.sync(self.module)
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = self.llm.generate(prompts, params, lora_request=self._lora(adapter), use_tqdm=False)
        nll = np.zeros(len(prompts))
        for i, (out, start) in enumerate(zip(outs, starts)):
            ids = prompts[i]["prompt_token_ids"]
            lps = [out.prompt_logprobs[j][ids[j]].logprob for j in range(start, len(ids))]
            nll[i] = -float(np.mean(lps)) if lps else 0.0
        return nll

    # --- requests ----------------------------------------------------------------------------

    def loglikelihood(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        prompts = [self._prompt(data, i, data.answers[i]) for i in range(len(data))]
        return self._scored(prompts, [len(p) for p in data.prompts], adapter)

    def choice_scores(self, data: EncodedQA, *, adapter: str | None = ACTIVE) -> np.ndarray:
        assert data.options is not None, "multiple choice needs options"
        width = max((len(o) for o in data.options), default=0)
        prompts, starts, cells = [], [], []
        for i, opts in enumerate(data.options):
            for k, text in enumerate(opts):
                prompts.append(self._prompt(data, i, self.adapter.tokenize_answer(text)))
                starts.append(len(data.prompts[i]))
                cells.append((i, k))
        scores = np.full((len(data), width), np.inf)
        if prompts:
            for (i, k), s in zip(cells, self._scored(prompts, starts, adapter)):
                scores[i, k] = s
        return scores

    def generate(self, data: EncodedQA, *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 adapter: str | None = ACTIVE) -> list[str]:
        from vllm import SamplingParams

        if self.llm is None:
            self.sync(self.module)
        params = SamplingParams(max_tokens=max_new_tokens, temperature=0.0, stop=list(stop) or None)
        outs = self.llm.generate([self._prompt(data, i) for i in range(len(data))], params,
                                 lora_request=self._lora(adapter), use_tqdm=False)
        return [o.outputs[0].text.strip() for o in outs]
