"""A stand-in for the part of vLLM's Python API the vLLM engine calls (``LLM.generate`` with token-id prompts,
``SamplingParams``, ``LoRARequest``, ``LLM.collective_rpc`` into a worker extension), computing with
transformers and peft from the folders the engine writes. It checks the engine's own bookkeeping on
CPU: the exported base loads, each saved adapter loads and answers, a changed base is loaded into the
running "engine" through the worker extension, and likelihoods are read from prompt logprobs the way
vLLM lays them out. It says nothing about vLLM itself (that is tests/test_vllm_engine.py, on a GPU).
"""

from __future__ import annotations

import copy
import importlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 1.0
    prompt_logprobs: int | None = None
    stop: list[str] | None = None


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
    outputs: list[CompletionOutput]
    prompt_logprobs: list[dict[int, Logprob] | None] | None = None


class LLM:
    instances = 0

    def __init__(self, model: str, enable_lora: bool = False, worker_extension_cls: str | None = None, **kwargs):
        import transformers

        LLM.instances += 1
        self.model, self.enable_lora, self.worker_extension_cls, self.kwargs = model, enable_lora, worker_extension_cls, kwargs
        self.base = transformers.AutoModelForImageTextToText.from_pretrained(model).eval()
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        self._loras: dict[int, Any] = {}
        module, name = worker_extension_cls.rsplit(".", 1)
        extension = getattr(importlib.import_module(module), name)
        runner = types.SimpleNamespace(model=types.SimpleNamespace(load_weights=self._load_weights))
        self.worker = type("Worker", (extension,), {"model_runner": runner})()

    def _load_weights(self, weights) -> None:
        """Weights named as in a Hugging Face checkpoint on disk (what vLLM's ``load_weights`` takes): read
        back through ``from_pretrained``'s own name mapping into the running model."""
        import shutil
        import tempfile

        import transformers
        from safetensors.torch import save_file

        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(Path(self.model) / "config.json", tmp)
            save_file({k: v.contiguous() for k, v in dict(weights).items()}, str(Path(tmp) / "model.safetensors"))
            fresh = transformers.AutoModelForImageTextToText.from_pretrained(tmp)
        self.base.load_state_dict(fresh.state_dict())
        self._loras.clear()  # adapters sit on the base: rebuilt on next use

    def collective_rpc(self, method: str, args: tuple = ()) -> list[Any]:
        return [getattr(self.worker, method)(*args)]

    def reset_prefix_cache(self) -> bool:
        return True

    def _model(self, lora: LoRARequest | None):
        if lora is None:
            return self.base
        if lora.lora_int_id not in self._loras:
            import peft

            self._loras[lora.lora_int_id] = peft.PeftModel.from_pretrained(copy.deepcopy(self.base), lora.lora_path).eval()
        return self._loras[lora.lora_int_id]

    @torch.no_grad()
    def generate(self, prompts: list[dict[str, Any]], params: SamplingParams, lora_request=None,
                 use_tqdm: bool = False) -> list[RequestOutput]:
        model = self._model(lora_request)
        outs = []
        for prompt in prompts:
            assert "multi_modal_data" not in prompt, "the stand-in takes text prompts only"
            ids = torch.tensor([prompt["prompt_token_ids"]])
            logprobs = None
            if params.prompt_logprobs is not None:
                lp = model(input_ids=ids).logits.float().log_softmax(-1)[0]
                row = ids[0].tolist()
                logprobs = [None] + [{row[j]: Logprob(float(lp[j - 1, row[j]]))} for j in range(1, len(row))]
            new: list[int] = []
            text = ""
            for _ in range(params.max_tokens):
                nxt = int(model(input_ids=torch.cat([ids, torch.tensor([new], dtype=torch.long)], 1)).logits[0, -1].argmax())
                if nxt == self.tokenizer.eos_token_id:
                    break
                new.append(nxt)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if params.stop and any(s in text for s in params.stop):
                    text = text[:min(text.find(s) for s in params.stop if s in text)]
                    break
            outs.append(RequestOutput([CompletionOutput(text)], logprobs))
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
    LLM.instances = 0
