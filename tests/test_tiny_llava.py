"""The tiny LLaVA-style model, its QA encoding and LoRA, trained for real on the entity world, and
unlearned with the LLM losses: the pieces issue 4's lifelong tasks are built from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
import mu_registry.training.losses as L  # noqa: E402
from mu_registry_plugins.models import tiny_llava as V  # noqa: E402


def test_a_turn_labels_only_the_answer_and_has_one_placeholder_per_patch():
    model = V.build_tiny_llava()
    n = V.image_token_count(model)
    ids, labels = V.encode_qa("What colour is the logo in this image?", "teal", image_tokens=n)
    assert ids.count(V.TOKENS.image) == n == 16
    answer = [t for t in labels if t != V.IGNORE]
    assert V.TOKENS.decode(answer) == "teal" and answer[-1] == V.TOKENS.eos
    text_ids, _ = V.encode_qa("What colour is Kalo known for?", "teal", image_tokens=0)
    assert V.TOKENS.image not in text_ids


def _batches(split, entities):
    rows = [i for i, e in enumerate(split.columns["entity"]) if e in entities]
    pairs, images = [], []
    for i in rows:
        mm = split.columns["form"][i] == "multimodal"
        pairs.append(V.encode_qa(split.columns["question"][i], split.columns["answer"][i],
                                 image_tokens=16 if mm else 0))
        images.append(split.columns["image"][i])
    batch = V.collate(pairs)
    has_image = np.asarray([split.columns["form"][i] == "multimodal" for i in rows])
    return batch, V.pixels(torch.as_tensor(np.stack(images)[has_image]))


def _logits(model, batch, pix):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], pixel_values=pix).logits


def _train(module, loss_fn, steps: int, lr: float) -> None:
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr)
    module.train()
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    module.eval()


def test_learning_facts_then_unlearning_one_entity_with_lora():
    world = entity_world(entities=9, images_per_entity=2, seed=0)["train"]
    names = list(dict.fromkeys(world.columns["entity"]))
    forget_batch, forget_pix = _batches(world, {names[0]})
    retain_batch, retain_pix = _batches(world, set(names[1:]))
    all_batch, all_pix = _batches(world, set(names))

    model = V.build_tiny_llava(seed=0)
    start = L.answer_nll(_logits(model, all_batch, all_pix), all_batch["labels"]).item()
    # "pre-training": the facts go in
    _train(model, lambda: L.answer_nll(_logits(model, all_batch, all_pix), all_batch["labels"]), 60, 3e-3)
    with torch.no_grad():
        learned_forget = L.answer_nll(_logits(model, forget_batch, forget_pix), forget_batch["labels"]).item()
        learned_retain = L.answer_nll(_logits(model, retain_batch, retain_pix), retain_batch["labels"]).item()
    assert learned_forget < 0.5 * start and learned_retain < 0.5 * start

    base = {k: v.clone() for k, v in model.state_dict().items()}
    lora = V.TinyLlava().add_lora(model, r=8, alpha=8, dropout=0.0)
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():
        ref_forget = _logits(lora, forget_batch, forget_pix)
    # NPO on the forgotten entity, NLL on the others
    _train(lora, lambda: L.npo(_logits(lora, forget_batch, forget_pix), ref_forget, forget_batch["labels"], beta=0.5)
           + L.answer_nll(_logits(lora, retain_batch, retain_pix), retain_batch["labels"]), 15, 5e-3)
    with torch.no_grad():
        after_forget = L.answer_nll(_logits(lora, forget_batch, forget_pix), forget_batch["labels"]).item()
        after_retain = L.answer_nll(_logits(lora, retain_batch, retain_pix), retain_batch["labels"]).item()
    assert after_forget > learned_forget + 0.5  # the entity's answers became unlikely
    assert after_retain < learned_retain + 0.3  # the others' stayed
    merged = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
              for k, v in lora.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(merged[k], v) for k, v in base.items())  # LoRA left the base weights alone
