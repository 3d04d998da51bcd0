"""A stand-in for the part of vLLM 0.32's Python API the vLLM engine calls (``LLM.generate`` with token-id
prompts and images, ``SamplingParams``, ``LoRARequest``, ``LLM.collective_rpc("reload_weights")``,
``llm_engine.reset_encoder_cache``), computing with transformers and peft from the folders the engine
writes. It behaves as vLLM does where the engine could get it wrong (read in the 0.32.0 wheel's sources):

- images: one image placeholder per image in; the first placeholder of each image replaced by the
  image's N feature tokens (``multimodal/processing/processor.py``: token-level replacement of the
  target ``[image_token_index]``, one match per image, ``model_executor/models/llava.py``
  ``_get_prompt_updates``), with no check for a prompt already expanded (one sent with N placeholders
  comes back with 2N-1, of which only the first N carry the image); the expanded ids come back as
  ``RequestOutput.prompt_token_ids`` and ``prompt_logprobs`` index them;
- image embeddings are cached per image (vLLM's encoder cache, keyed by the image's hash) and served
  until ``llm_engine.reset_encoder_cache()``: a weight reload alone does not clear the scheduler's record;
- ``reload_weights(weights_path=...)`` on the worker loads a checkpoint folder in place and drops the
  loaded LoRA state (``v1/worker/gpu_model_runner.py``);
- ``max_lora_rank`` must be one of vLLM's ranks, and an adapter above it fails only inside ``generate``;
  LoRA on the vision tower or projector is dropped unless ``enable_tower_connector_lora`` is set.

The real package is exercised by tests/test_vllm_real.py (without a GPU) and tests/test_vllm_engine.py's
GPU test.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm/config/lora.py MaxLoRARanks
TOWER = ("vision_tower", "multi_modal_projector")


@dataclass
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0
    prompt_logprobs: int | None = None
    stop: list[str] | None = None
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str


@dataclass
class Logprob:
    logprob: float


@dataclass
class CompletionOutput:
    text: str


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    prompt_logprobs: list[dict[int, Logprob] | None] | None = None


class _Engine:
    def __init__(self, llm: LLM):
        self.llm = llm

    def reset_encoder_cache(self) -> None:
        self.llm.encoder_cache.clear()
        self.llm.encoder_resets += 1


class _Worker:
    def __init__(self, llm: LLM):
        self.llm = llm

    def reload_weights(self, weights_path: str | None = None) -> None:
        import transformers

        fresh = transformers.AutoModelForImageTextToText.from_pretrained(weights_path or self.llm.model)
        self.llm.base.load_state_dict(fresh.state_dict())
        self.llm.loras.clear()  # reset_lora_state: adapters are loaded again from their paths on next use


class LLM:
    instances = 0

    def __init__(self, model: str, enable_lora: bool = False, max_lora_rank: int = 16, **kwargs):
        import transformers

        if max_lora_rank not in LORA_RANKS:
            raise ValueError(f"max_lora_rank {max_lora_rank} is not one of {LORA_RANKS}")
        LLM.instances += 1
        self.model, self.enable_lora, self.max_lora_rank, self.kwargs = model, enable_lora, max_lora_rank, kwargs
        self.base = transformers.AutoModelForImageTextToText.from_pretrained(model).eval()
        self.processor = transformers.AutoProcessor.from_pretrained(model)
        self.tokenizer = self.processor.tokenizer
        self.loras: dict[int, Any] = {}
        self.encoder_cache: dict[tuple, torch.Tensor] = {}
        self.encoder_resets = 0
        self.worker = _Worker(self)
        self.llm_engine = _Engine(self)

    def collective_rpc(self, method: str, timeout: float | None = None, args: tuple = (),
                       kwargs: dict[str, Any] | None = None) -> list[Any]:
        return [getattr(self.worker, method)(*args, **(kwargs or {}))]

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return True

    # --- LoRA ------------------------------------------------------------------------------------

    def _model(self, lora: LoRARequest | None):
        if lora is None:
            return self.base
        if lora.lora_int_id not in self.loras:
            import peft

            rank = json.loads((Path(lora.lora_path) / "adapter_config.json").read_text())["r"]
            if rank > self.max_lora_rank:
                raise ValueError(f"LoRA rank {rank} is greater than max_lora_rank {self.max_lora_rank}")
            model = peft.PeftModel.from_pretrained(copy.deepcopy(self.base), lora.lora_path).eval()
            if not self.kwargs.get("enable_tower_connector_lora"):
                for name, module in model.named_modules():  # vLLM has no LoRA layer there: dropped silently
                    if any(t in name for t in TOWER) and hasattr(module, "lora_B"):
                        for b in module.lora_B.values():
                            torch.nn.init.zeros_(b.weight)
            self.loras[lora.lora_int_id] = model
        return self.loras[lora.lora_int_id]

    # --- images ----------------------------------------------------------------------------------

    def _feature_size(self) -> int:
        """``LlavaProcessingInfo.get_num_image_tokens`` for a CLIP tower at its own resolution."""
        vision = self.base.config.vision_config
        n = (vision.image_size // vision.patch_size) ** 2
        return n + (1 if self.base.config.vision_feature_select_strategy == "full" else 0)

    def _expand(self, ids: list[int], n_images: int) -> tuple[list[int], list[tuple[int, int]]]:
        cfg = self.base.config
        image_id = getattr(cfg, "image_token_id", None) or cfg.image_token_index
        out, ranges, left = [], [], n_images
        for t in ids:
            if t == image_id and left:
                ranges.append((len(out), self._feature_size()))
                out.extend([image_id] * self._feature_size())
                left -= 1
            else:
                out.append(t)
        if left:
            raise RuntimeError(f"Expected there to be {n_images} prompt updates corresponding to {n_images} image "
                               f"items, but instead found {n_images - left} prompt updates!")
        return out, ranges

    def _features(self, model, image, lora_id: int | None) -> torch.Tensor:
        key = (hashlib.sha256(np.asarray(image).tobytes()).hexdigest(),
               lora_id if self.kwargs.get("enable_tower_connector_lora") else None)
        if key not in self.encoder_cache:
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            cfg = base.config
            pixels = self.processor.image_processor(images=[image], return_tensors="pt").pixel_values
            hidden = base.model.vision_tower(pixels, output_hidden_states=True).hidden_states[cfg.vision_feature_layer]
            if cfg.vision_feature_select_strategy == "default":
                hidden = hidden[:, 1:]
            self.encoder_cache[key] = base.model.multi_modal_projector(hidden)[0]
        return self.encoder_cache[key]

    def _logits(self, model, ids: list[int], image, ranges, lora_id) -> torch.Tensor:
        t = torch.tensor([ids])
        if image is None:
            return model(input_ids=t).logits[0]
        embeds = model.get_input_embeddings()(t).clone()
        images = image if isinstance(image, list) else [image]  # a list: one image per placeholder, in order
        for (start, n), one in zip(ranges, images):  # only the placeholder ranges carry an image
            embeds[0, start:start + n] = self._features(model, one, lora_id)
        return model(inputs_embeds=embeds).logits[0]

    @torch.no_grad()
    def generate(self, prompts: list[dict[str, Any]], params: SamplingParams | list[SamplingParams],
                 lora_request=None, use_tqdm: bool = False) -> list[RequestOutput]:
        """Greedy whatever the params say (the stand-in does not sample); a list of params (one per prompt, as
        vLLM takes it) is kept in ``last_params`` for the tests to read."""
        model = self._model(lora_request)
        lora_id = None if lora_request is None else lora_request.lora_int_id
        self.last_params = params
        outs = []
        for i, prompt in enumerate(prompts):
            image = (prompt.get("multi_modal_data") or {}).get("image")
            row = list(prompt["prompt_token_ids"])
            ranges: list[tuple[int, int]] = []
            if image is not None:
                row, ranges = self._expand(row, len(image) if isinstance(image, list) else 1)
            one = params[i] if isinstance(params, list) else params
            logprobs = None
            if one.prompt_logprobs is not None:
                lp = self._logits(model, row, image, ranges, lora_id).float().log_softmax(-1)
                logprobs = [None] + [{row[j]: Logprob(float(lp[j - 1, row[j]]))} for j in range(1, len(row))]
            new: list[int] = []
            text = ""
            for _ in range(one.max_tokens):
                nxt = int(self._logits(model, row + new, image, ranges, lora_id)[-1].argmax())
                if nxt == self.tokenizer.eos_token_id:
                    break
                new.append(nxt)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if one.stop and any(s in text for s in one.stop):
                    text = text[:min(text.find(s) for s in one.stop if s in text)]
                    break
            outs.append(RequestOutput(row, [CompletionOutput(text)], logprobs))
        return outs


def install(monkeypatch) -> None:
    """Put this module where ``import vllm`` and ``from vllm.lora.request import LoRARequest`` find it."""
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    monkeypatch.setitem(sys.modules, "vllm.engine", None)  # no EngineArgs here: the real one is in test_vllm_real
    LLM.instances = 0
