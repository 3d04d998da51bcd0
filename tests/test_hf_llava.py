"""The ``hf_llava`` model plugin goes through ``from_pretrained`` for model, processor and tokenizer: here on a
tiny LLaVA saved to a local folder (a byte tokenizer with an ``<image>`` token, a CLIP image processor), so
the path users take with real checkpoints runs offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import randomize_lora_b

transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("PIL")

from mu_registry.api.data import Split  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.registry.manager import Registry  # noqa: E402
from mu_registry.evaluation.engines.hf_engine import TransformersEngine  # noqa: E402

SPECIALS = ["<pad>", "<s>", "</s>", "<image>"]


def _save_tiny_llava(folder):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {t: i for i, t in enumerate(SPECIALS + alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                                eos_token="</s>", extra_special_tokens={"image_token": "<image>"})
    image_proc = transformers.CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    proc = transformers.LlavaProcessor(image_processor=image_proc, tokenizer=fast, patch_size=4,
                                       vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                       chat_template=None)
    vision = transformers.CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                           num_attention_heads=2, image_size=16, patch_size=4)
    text = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                    num_attention_heads=2, num_key_value_heads=2, pad_token_id=0, bos_token_id=1,
                                    eos_token_id=2)
    config = transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_index=3,
                                      vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)
    proc.save_pretrained(folder)


def test_hf_llava_loads_a_local_checkpoint_encodes_trains_and_generates(tmp_path):
    folder = tmp_path / "tiny-llava"
    _save_tiny_llava(folder)
    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(img)
    adapter = Registry().model("hf_llava")(pretrained=str(folder))
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    split = Split("s", {"question": ["What is this?", "Who is Ana?"], "answer": ["a cat", "a painter"],
                        "image": [str(img), None], "entity": ["cat", "Ana"], "form": ["multimodal", "text"]},
                  np.arange(2))
    data = adapter.encode(split, spec)
    image_id = adapter.tokenizer.convert_tokens_to_ids("<image>")
    assert data.prompts[0].count(image_id) == 16 and image_id not in data.prompts[1]
    assert data.answers[0][-1] == adapter.eos_id and adapter.decode(data.answers[0]).strip() == "a cat"
    model = adapter.build(spec, 0)
    model = adapter.add_lora(model, "default", r=4, alpha=4, dropout=0.0)
    batches = list(adapter.batches(data, 8))
    assert [b.pixel_values is not None for b in batches] == [True, False]  # image and text rows apart
    for b in batches:
        assert adapter.forward(model, b).shape[:2] == b.input_ids.shape
    engine = TransformersEngine(adapter, model, device=torch.device("cpu"), batch_size=8)
    answers = engine.generate(data, max_new_tokens=4)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)

    # what the vLLM engine loads: the base weights without the adapter, with processor and tokenizer
    randomize_lora_b(model, 0.1)
    exported = adapter.vllm_source(model, tmp_path / "export")
    reloaded = transformers.LlavaForConditionalGeneration.from_pretrained(exported).eval()
    assert transformers.AutoProcessor.from_pretrained(exported).tokenizer.convert_tokens_to_ids("<image>") == image_id
    batch = batches[0]
    with torch.no_grad(), model.disable_adapter():
        base_logits = adapter.forward(model, batch)
        np.testing.assert_allclose(adapter.forward(reloaded, batch).numpy(), base_logits.numpy(), atol=1e-5)
    with torch.no_grad():
        assert not torch.allclose(adapter.forward(model, batch), base_logits, atol=1e-3)
