"""``GenerativeModel``: the model-plugin base for generative tasks (LLMs and LLaVA-style MLLMs).

A subclass says how to build (or load) the network, how to tokenize a prompt and an answer, how
to turn raw images into ``pixel_values`` and how to decode tokens; this base does the rest the
same way for every family: encoding a split into an :class:`~mu_registry.api.qa.EncodedQA`, forward
passes, greedy generation, hidden states (for RMU), answer-only fine-tuning (how the *original*
model learns the task's knowledge) and LoRA adapters through peft.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mu_registry.api.data import Split
from mu_registry.util.errors import MuError
from mu_registry.api.model import Model, TaskSpec
from mu_registry.api.qa import EncodedQA, QABatch, qa_batches
from mu_registry.config.task import TrainConfig
from mu_registry.training.batching import steps_per_epoch
from mu_registry.training.loop import train_steps
from mu_registry.training.losses import answer_nll
from mu_registry.util.atomic import atomic_torch_save


#: module-name parts that are not the language model (LLaVA's vision tower and projector)
NOT_LANGUAGE_MODEL = ("vision_tower", "vision_model", "multi_modal_projector", "mm_projector", "vision_resampler")


#: the instruction after MLLMU-Bench's lettered options
LETTER_INSTRUCTION = "Just give ONE letter representing the answer directly."


def letter_prompt(question: str, options: list[str]) -> str:
    """MLLMU-Bench's multiple-choice prompt (``franciscoliu/MLLMU-Bench`` @ 0e3098e5ea7e4878ce4f19cdf873de1410b4d427,
    ``eval.py``: ``formulate_prompt_with_options`` and ``evaluate_classification``): the question, one
    ``"A: option"`` line per option, and the instruction to answer with one letter."""
    lines = "\n".join(f"{chr(65 + k)}: {o}" for k, o in enumerate(options))
    return f"{question}\n{lines}\n{LETTER_INSTRUCTION}"


def parse_letter(answer: str, n_options: int) -> int | None:
    """The option a generated answer picks, as MLLMU-Bench ``eval.py`` reads it: the first character of the
    stripped answer, upper-cased, if it is one of the option letters; else ``None`` (scored wrong)."""
    text = answer.strip()
    if not text:
        return None
    k = ord(text[0].upper()) - 65
    return k if 0 <= k < n_options else None


def require_peft():
    try:
        import peft
    except ImportError:
        raise MuError("peft is not installed: pip install 'mu-registry[hf]'") from None
    return peft


class GenerativeModel(Model):
    task_types: ClassVar[frozenset[str]] = frozenset({"generation"})
    pad_id: int = 0
    eos_id: int = 2
    #: peft ``target_modules`` for LoRA (a regex over module names, or a list of names)
    lora_targets: ClassVar[str | list[str]] = r".*\.(q_proj|k_proj|v_proj|o_proj)"

    # ------------------------------------------------------------ family-specific
    @abstractmethod
    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        """The network (built from a config, or loaded with ``from_pretrained``)."""

    @abstractmethod
    def tokenize_prompt(self, question: str, has_image: bool) -> list[int]:
        """Token ids of one user turn up to where the answer starts (image placeholders included)."""

    @abstractmethod
    def tokenize_answer(self, text: str) -> list[int]:
        """Token ids of an answer, end-of-turn token included."""

    @abstractmethod
    def decode(self, ids: list[int]) -> str:
        """Text of generated token ids (special tokens dropped)."""

    def pixel_values(self, images: list[Any]) -> torch.Tensor:
        raise MuError(f"model {type(self).__name__} takes no images")

    def tokenize_prompt_after(self, shot: list[str | None], question: str, has_image: bool) -> list[int]:
        """``tokenize_prompt`` with an example block before the user turn (``generation.one_shot``, MLLMU-Bench's
        example): ``shot`` holds text pieces and ``None`` where an example's image goes (written as this plugin
        writes a question's image placeholder, its newline included), all tokenized with the prompt as one
        text. A plugin that can take one overrides it (and ``takes_one_shot`` then says so)."""
        raise MuError(f"model {type(self).__name__} cannot put an example before a question (generation.one_shot)")

    def takes_one_shot(self) -> bool:
        return type(self).tokenize_prompt_after is not GenerativeModel.tokenize_prompt_after

    def decoder_layers(self) -> int | None:
        """The language model's number of decoder layers, read without building the model (planning checks a
        method's layer choice against it: RMU); ``None`` where the plugin cannot tell."""
        return None

    # ------------------------------------------------------------ shared
    def encode(self, split: Split, spec: TaskSpec) -> EncodedQA:  # type: ignore[override]
        cols = split.columns
        q_col, a_col = spec.input_columns[0], spec.label_column
        image_col = spec.input_columns[1] if len(spec.input_columns) > 1 else None
        images: list[Any] = [None] * len(split)
        if image_col is not None:
            raw = cols[image_col]
            flags = cols.get("has_image")
            forms = cols.get(getattr(spec, "form_column", None) or "form")
            for i in range(len(split)):
                text_only = (flags is not None and not bool(flags[i])) or (forms is not None and forms[i] == "text")
                images[i] = None if text_only else raw[i]
        unit_col = getattr(spec, "unit_column", None)
        form_col = getattr(spec, "form_column", None)
        units = [str(u) for u in cols[unit_col]] if unit_col else [""] * len(split)
        forms = ([str(f) for f in cols[form_col]] if form_col
                 else ["multimodal" if img is not None else "text" for img in images])
        questions = [str(q) for q in cols[q_col]]
        answers = [str(a) for a in cols[a_col]]
        opt_col = getattr(spec, "options_column", None)
        options = [[str(o) for o in row] for row in cols[opt_col]] if opt_col else None
        if options is not None:
            letter = getattr(spec, "choice_scoring", "letter") == "letter"
            questions = [letter_prompt(q, opts) if letter else
                         f"{q}\n" + "\n".join(f"{chr(65 + k)}. {o}" for k, o in enumerate(opts))
                         for q, opts in zip(questions, options)]
        return EncodedQA(split.name, [self.tokenize_prompt(q, img is not None) for q, img in zip(questions, images)],
                         [self.tokenize_answer(a) for a in answers], answers, questions, images, units, forms,
                         np.asarray(split.ids, dtype=np.int64), options)

    def batches(self, data: EncodedQA, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None, device: torch.device | None = None):
        return qa_batches(data, batch_size, pad_id=self.pad_id, pixels=self.pixel_values, shuffle=shuffle,
                          generator=generator, device=device)

    def forward(self, module: nn.Module, batch: QABatch) -> torch.Tensor:  # type: ignore[override]
        kwargs = {"pixel_values": batch.pixel_values} if batch.pixel_values is not None else {}
        return module(input_ids=batch.input_ids, attention_mask=batch.attention_mask, **kwargs).logits

    def hidden_states(self, module: nn.Module, batch: QABatch, layer: int) -> torch.Tensor:
        """The language model's residual stream after decoder layer ``layer`` (batch × length × width)."""
        kwargs = {"pixel_values": batch.pixel_values} if batch.pixel_values is not None else {}
        out = module(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True,
                     **kwargs)
        return out.hidden_states[layer + 1]

    def fit(self, module: nn.Module, data: EncodedQA, train: TrainConfig, *, seed: int,  # type: ignore[override]
            device: torch.device, desc: str = "train") -> nn.Module:
        """Answer-only next-token training (teaching the task's facts to the original model)."""
        return train_steps(module, train, seed=seed, device=device,
                           steps_per_epoch=steps_per_epoch(data, train.batch_size),
                           batches=lambda g: self.batches(data, train.batch_size, shuffle=True, generator=g,
                                                          device=device),
                           loss=lambda b: answer_nll(self.forward(module, b), b.labels), desc=desc)

    def linear_targets(self, module: nn.Module) -> list[str]:
        """Every ``nn.Linear`` of the language model by its full name: MLUBench's ``find_all_linear_names``
        (``LLaVA_unlearning_main.zip:llava/train/train.py``, lihe-maxsize/Lifelong_Unlearning_main @ cf6579c8)
        leaves out the projector, the vision tower and ``lm_head``; so does this."""
        names = []
        for name, m in module.named_modules():
            if not isinstance(m, nn.Linear) or any(k in name for k in NOT_LANGUAGE_MODEL):
                continue
            if name.split(".")[-1] == "lm_head" or "lora_" in name:
                continue
            names.append(name.removeprefix("base_model.model.").removesuffix(".base_layer"))
        names = list(dict.fromkeys(names))
        if not names:
            raise MuError(f"model {type(self).__name__}: no linear layer of the language model found for LoRA")
        return names

    def add_lora(self, module: nn.Module, name: str = "default", *, r: int = 32, alpha: int = 32,
                 dropout: float = 0.3, targets: str | list[str] | None = None) -> nn.Module:
        """A LoRA adapter ``name`` (peft) on ``targets`` (default: the model's ``lora_targets``, the
        attention projections; ``linear_targets(module)`` for every linear layer of the language model);
        the first call wraps ``module`` in a ``PeftModel``, later calls add further adapters to it. The new
        adapter is made active; the base weights stay frozen."""
        peft = require_peft()
        config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                                 target_modules=self.lora_targets if targets is None else targets)
        if isinstance(module, peft.PeftModel):
            module.add_adapter(name, config)
            module.set_adapter(name)
            return module
        for p in module.parameters():
            p.requires_grad_(False)
        return peft.get_peft_model(module, config, adapter_name=name)

    def save(self, module: nn.Module, path: Path) -> None:
        atomic_torch_save(module.state_dict(), path)
