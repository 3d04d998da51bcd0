"""``hf_llava``: LLaVA-style vision-language models (and plain causal LMs) loaded with ``from_pretrained``.

For users with network or a local copy: ``pretrained: llava-hf/llava-1.5-7b-hf`` (or 13b,
``llava-hf/llava-v1.6-vicuna-7b-hf``, a local folder). The prompt follows LLaVA-1.5's template,
``USER: <image>\\n<question> ASSISTANT:``, with the image token repeated as many times as the
processor says the image occupies (``image_seq_length``); text-only probes drop the image. Images
are read from file paths (or arrays) per batch with the model's own image processor.

Arguments: ``pretrained`` (required), ``dtype`` (``bfloat16`` default on a GPU, ``float32`` on CPU),
``template`` (the prompt, with ``{image}`` and ``{question}``), ``lora_targets``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mu_registry import GenerativeModel, MuError, expand_path, is_peft

from .hf import check_pretrained

LLAVA_TEMPLATE = "USER: {image}{question} ASSISTANT:"


class HFLlava(GenerativeModel):
    lora_targets = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"

    @classmethod
    def preflight(cls, **args) -> None:
        """Planning's check: see :func:`check_pretrained`."""
        check_pretrained(args)

    def __init__(self, pretrained: str | None = None, dtype: str | None = None, template: str = LLAVA_TEMPLATE,
                 lora_targets: str | None = None, **extra: Any):
        if not pretrained:
            raise MuError("model 'hf_llava' needs args.pretrained (a Hub id or a local folder)")
        super().__init__(pretrained=pretrained, dtype=dtype, template=template, **extra)
        if lora_targets:
            self.lora_targets = lora_targets
        self._processor = None

    @property
    def source(self) -> str:
        p = self.args["pretrained"]
        local = expand_path(p)
        return str(local) if local.exists() else p

    @property
    def processor(self):
        if self._processor is None:
            import transformers

            try:
                self._processor = transformers.AutoProcessor.from_pretrained(self.source)
            except (OSError, ValueError):  # a plain causal LM has a tokenizer only
                self._processor = transformers.AutoTokenizer.from_pretrained(self.source)
            tok = self.tokenizer
            self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            self.eos_id = tok.eos_token_id
        return self._processor

    @property
    def tokenizer(self):
        proc = self.processor
        return getattr(proc, "tokenizer", proc)

    def build(self, spec, seed: int):
        import transformers

        dtype_name = self.args.get("dtype") or ("bfloat16" if torch.cuda.is_available() else "float32")
        dtype = getattr(torch, dtype_name)
        config = transformers.AutoConfig.from_pretrained(self.source)
        cls = (transformers.AutoModelForImageTextToText if hasattr(config, "vision_config")
               else transformers.AutoModelForCausalLM)
        self.processor  # noqa: B018 (sets pad/eos ids)
        return cls.from_pretrained(self.source, dtype=dtype)

    def decoder_layers(self) -> int | None:
        """The text config's ``num_hidden_layers`` (the config file only); ``None`` where it cannot be read
        (no network and no local copy: the run itself will say so)."""
        import transformers

        try:
            config = transformers.AutoConfig.from_pretrained(self.source)
        except (OSError, ValueError):
            return None
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        layers = getattr(text, "num_hidden_layers", None)
        return int(layers) if isinstance(layers, int) else None

    def load(self, spec, path, seed: int):
        module = self.build(spec, seed)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return module

    def _image_tokens(self) -> str:
        """The image placeholder repeated once per image feature, as the processor itself expands it."""
        proc = self.processor
        token = getattr(proc, "image_token", None)
        if token is None:
            raise MuError(f"model '{self.args['pretrained']}' has no image token: it cannot take multimodal probes")
        if getattr(self, "_n_image", None) is None:
            from PIL import Image

            ip = proc.image_processor
            size = getattr(ip, "crop_size", None) or getattr(ip, "size", None) or {}
            h = size.get("height") or size.get("shortest_edge") or 336
            w = size.get("width") or size.get("shortest_edge") or 336
            ids = proc(text=token, images=[Image.new("RGB", (w, h))], return_tensors="pt").input_ids[0]
            self._n_image = int((ids == self.tokenizer.convert_tokens_to_ids(token)).sum())
        return token * self._n_image + "\n"

    def tokenize_prompt(self, question: str, has_image: bool) -> list[int]:
        text = self.args["template"].format(image=self._image_tokens() if has_image else "", question=question)
        return self.tokenizer(text, add_special_tokens=True).input_ids

    def tokenize_prompt_after(self, shot: list[str | None], question: str, has_image: bool) -> list[int]:
        """The example block (each ``None`` the image placeholder as a question's, newline included) then the
        template, tokenized as one text: MLLMU-Bench's ``eval.py`` gives the processor one string holding the
        examples and the question."""
        head = "".join(self._image_tokens() if piece is None else piece for piece in shot)
        text = head + self.args["template"].format(image=self._image_tokens() if has_image else "", question=question)
        return self.tokenizer(text, add_special_tokens=True).input_ids

    def tokenize_answer(self, text: str) -> list[int]:
        return self.tokenizer(" " + text, add_special_tokens=False).input_ids + [self.eos_id]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def image_token_id(self) -> int | None:
        """The image placeholder's id (``None`` for a text-only model). Prompts hold it once per image
        feature (the transformers engine's input); the vLLM engine sends it once per image, as vLLM's
        LLaVA processor expands it itself (``vllm/model_executor/models/llava.py`` ``_get_prompt_updates``)."""
        token = getattr(self.processor, "image_token", None)
        return None if token is None else int(self.tokenizer.convert_tokens_to_ids(token))

    def vllm_source(self, module: torch.nn.Module, folder: Path) -> str:
        """A folder the vLLM engine loads: ``module``'s base weights (LoRA adapters left out) with the
        processor and tokenizer, so a base trained or fine-tuned in this process is what vLLM serves
        (its ``config.json`` holds the model's dtype; the engine passes the same dtype to vLLM)."""
        base = module.get_base_model() if is_peft(module) else module
        state = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k}
        folder.mkdir(parents=True, exist_ok=True)
        base.save_pretrained(str(folder), state_dict=state)
        (self.processor if hasattr(self.processor, "image_processor") else self.tokenizer).save_pretrained(str(folder))
        return str(folder)

    def pixel_values(self, images: list[Any]) -> torch.Tensor:
        from PIL import Image

        loaded = []
        for img in images:
            if isinstance(img, str):
                try:
                    loaded.append(Image.open(img).convert("RGB"))
                except FileNotFoundError:
                    raise MuError(f"image file {img} not found (point dataset.builder_args.image_root at the "
                                  "images)") from None
            else:
                arr = np.asarray(img)
                loaded.append(Image.fromarray(arr.transpose(1, 2, 0) if arr.shape[0] in (1, 3) else arr))
        return self.processor.image_processor(images=loaded, return_tensors="pt").pixel_values
