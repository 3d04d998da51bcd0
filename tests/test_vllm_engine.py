"""The vLLM engine against the transformers engine on one small LLaVA saved to disk: same greedy answers
and likelihoods on text and image rows, a LoRA adapter added without a reload, changed base weights
(projector included) loaded into the running engine. The first test needs a CUDA GPU and vLLM
(`pip install 'mu-registry[vllm]'`) and is skipped elsewhere (CI); the others check the engine's own
bookkeeping against a stand-in for vLLM's API (tests/helpers/vllm_api_standin.py), which expands image
placeholders and caches image embeddings as vLLM 0.32 does. tests/test_vllm_real.py runs the real package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import randomize_lora_b

from mu_registry.evaluation.engines import vllm_available

needs_gpu = pytest.mark.skipif(not vllm_available(), reason="needs a CUDA GPU and vLLM")

transformers = pytest.importorskip("transformers")


def _save_small_llava(folder):
    """Like test_hf_llava's checkpoint, with head size 64 (what vLLM's attention kernels take)."""
    from test_hf_llava import _save_tiny_llava

    _save_tiny_llava(folder)
    config = transformers.AutoConfig.from_pretrained(folder)
    config.text_config.hidden_size, config.text_config.intermediate_size = 256, 512
    config.text_config.num_attention_heads = config.text_config.num_key_value_heads = 4
    config.text_config.head_dim = 64
    torch.manual_seed(0)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)


def _image(folder, seed: int) -> str:
    from PIL import Image

    path = folder / f"img{seed}.png"
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)
    return str(path)


@needs_gpu
def test_vllm_matches_transformers_and_swaps_adapters_without_reloading(tmp_path):
    from mu_registry.api.data import Split
    from mu_registry.evaluation.engines import TransformersEngine
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.models.hf_llava import HFLlava

    folder = tmp_path / "llava"
    _save_small_llava(folder)
    adapter = HFLlava(pretrained=str(folder), dtype="bfloat16")
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {})
    questions = [f"What is item {i}?" for i in range(24)]
    images = [_image(tmp_path, i) if i % 3 == 0 else None for i in range(24)]  # image rows among text rows
    split = Split("s", {"question": questions, "answer": [f"item {i}" for i in range(24)], "image": images},
                  list(range(24)))
    data = adapter.encode(split, spec)
    model = adapter.build(spec, 0).to("cuda").eval()
    hf = TransformersEngine(adapter, model, device=torch.device("cuda"), batch_size=8)
    fast = VLLMEngine(adapter, model, device=torch.device("cuda"), gpu_memory_utilization=0.3, max_model_len=512)

    fast.sync(model)
    same = np.mean([a == b for a, b in zip(fast.generate(data, max_new_tokens=8), hf.generate(data, max_new_tokens=8))])
    assert same >= 0.8
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)

    lora = adapter.add_lora(model, "default", r=8, alpha=16, dropout=0.0)
    randomize_lora_b(lora, 0.02)
    llm = fast.llm
    fast.sync(lora)
    hf.sync(lora)
    assert fast.llm is llm and fast.starts == 1 and fast.adapters_added == 1 and fast.weight_reloads == 0
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)

    with torch.no_grad():
        lora.get_base_model().lm_head.weight.mul_(1.1)
        lora.get_base_model().model.multi_modal_projector.linear_2.weight.mul_(1.5)  # stale image embeddings?
    fast.sync(lora)
    assert fast.llm is llm and fast.weight_reloads == 1 and fast.adapters_added == 1
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)
    image_rows = data.where(data.has_image)
    same = np.mean([a == b for a, b in zip(fast.generate(image_rows, max_new_tokens=8),
                                           hf.generate(image_rows, max_new_tokens=8))])
    assert same >= 0.8


@pytest.fixture
def standin(monkeypatch):
    import sys
    from pathlib import Path

    pytest.importorskip("peft")
    sys.path.insert(0, str(Path(__file__).parent / "helpers"))
    import vllm_api_standin

    vllm_api_standin.install(monkeypatch)
    return vllm_api_standin


def _tiny(tmp_path, with_images: bool):
    from test_hf_llava import _save_tiny_llava

    from mu_registry.api.data import Split
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.models.hf_llava import HFLlava

    folder = tmp_path / "llava"
    _save_tiny_llava(folder)
    adapter = HFLlava(pretrained=str(folder))
    names = "Ana Bo Cy Di Ed".split()
    columns = {"question": [f"Who is {n}?" for n in names],
               "answer": ["a painter", "a pilot", "a cook", "a poet", "a judge"]}
    if with_images:
        spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {})
        columns["image"] = [_image(tmp_path, 0), None, _image(tmp_path, 1), _image(tmp_path, 0), None]
    else:
        spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    data = adapter.encode(Split("s", columns, np.arange(5)), spec)
    return adapter, spec, data


def test_engine_bookkeeping_against_a_stand_in_for_vllms_api(tmp_path, standin):
    """Runs everywhere (CI included): the engine's exports, adapter ids, in-place reloads and likelihood
    reading, against tests/helpers/vllm_api_standin.py (vLLM's API computed with transformers)."""
    from mu_registry.evaluation.engines import TransformersEngine
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine

    adapter, spec, data = _tiny(tmp_path, with_images=False)
    cpu = torch.device("cpu")
    model = adapter.build(spec, 0).eval()
    hf = TransformersEngine(adapter, model, device=cpu, batch_size=2)
    fast = VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work"))

    def same(adapter_name=None):
        kw = {} if adapter_name is None else {"adapter": adapter_name}
        np.testing.assert_allclose(fast.loglikelihood(data, **kw), hf.loglikelihood(data, **kw), atol=1e-4)
        assert fast.generate(data, max_new_tokens=5, **kw) == hf.generate(data, max_new_tokens=5, **kw)

    fast.sync(model)
    same()
    assert fast.starts == 1 and standin.LLM.instances == 1
    assert fast.llm.kwargs["dtype"] == "float32" and fast.llm.kwargs["max_model_len"] == 2048  # the model's own

    lora = adapter.add_lora(model, "default", r=4, alpha=8, dropout=0.0)
    lora = adapter.add_lora(lora, "expert", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.2)
    fast.sync(lora)
    hf.sync(lora)
    assert fast.adapters_added == 2 and fast.weight_reloads == 0 and standin.LLM.instances == 1
    assert [r.lora_int_id for _, r in fast._loras.values()] == [1, 2]
    assert all(Path(r.lora_path).is_absolute() for _, r in fast._loras.values())
    same("default")
    same("expert")
    before = fast.loglikelihood(data, adapter="expert")
    fast.sync(lora)  # nothing changed: nothing saved or reloaded
    assert fast.adapters_added == 2 and fast.weight_reloads == 0

    with torch.no_grad():
        lora.get_base_model().lm_head.weight.mul_(1.5)  # a full-weight change, as RMU makes
    fast.sync(lora)
    assert fast.weight_reloads == 1 and fast.starts == 1 and standin.LLM.instances == 1
    assert fast.llm.encoder_resets == 1
    assert not np.allclose(fast.loglikelihood(data, adapter="expert"), before)
    same("expert")
    with lora.disable_adapter():
        np.testing.assert_allclose(fast.loglikelihood(data, adapter=None), hf.loglikelihood(data), atol=1e-4)


def test_image_rows_go_to_vllm_with_one_placeholder_and_match_the_transformers_engine(tmp_path, standin):
    """Image rows: one placeholder per image sent, vLLM's expansion checked against the model plugin's prompt,
    likelihoods read at the expanded positions, same answers as the transformers engine; a trained projector
    is reloaded and no image embedding from before is served again."""
    from mu_registry.evaluation.engines import TransformersEngine
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine

    adapter, spec, data = _tiny(tmp_path, with_images=True)
    cpu = torch.device("cpu")
    model = adapter.build(spec, 0).eval()
    lora = adapter.add_lora(model, "default", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.2)
    hf = TransformersEngine(adapter, lora, device=cpu, batch_size=2)
    fast = VLLMEngine(adapter, lora, device=cpu, workdir=str(tmp_path / "work"))
    image_id = adapter.image_token_id
    sent, expected = fast.prompt(data, 0, data.answers[0])
    assert sent["prompt_token_ids"].count(image_id) == 1 and expected.count(image_id) == 16
    assert "multi_modal_data" not in fast.prompt(data, 1)[0]

    def same():
        np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=1e-4)
        assert fast.generate(data, max_new_tokens=5) == hf.generate(data, max_new_tokens=5)

    fast.sync(lora)
    hf.sync(lora)
    same()
    assert len(fast.llm.encoder_cache) == 2  # two distinct images among three image rows

    with torch.no_grad():  # the projector trained as full weights (GenerativeMethod's projector+llm scope)
        lora.get_base_model().model.multi_modal_projector.linear_2.weight.mul_(3.0)
    fast.sync(lora)
    hf.sync(lora)
    assert fast.weight_reloads == 1 and fast.llm.encoder_resets == 1
    same()

    # what vLLM does with the model plugin's prompt as it is (already expanded): 2N-1 image tokens, refused
    from mu_registry.util.errors import MuError

    pre = {"prompt_token_ids": list(data.prompts[0]), "multi_modal_data": sent["multi_modal_data"]}
    out = fast.llm.generate([pre], fast.score_params())[0]
    assert out.prompt_token_ids.count(image_id) == 2 * 16 - 1
    from mu_registry.evaluation.engines.vllm_engine import check_expansion

    with pytest.raises(MuError, match=r"row 0: vLLM served .* \(31 image tokens\) .* has .* \(16 image tokens\)"):
        check_expansion(pre["prompt_token_ids"], out.prompt_token_ids, list(data.prompts[0]), image_id, 0)


def test_adapters_vllm_would_serve_differently_are_refused_when_registered(tmp_path, standin):
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine
    from mu_registry.util.errors import MuError

    adapter, spec, data = _tiny(tmp_path, with_images=False)
    cpu = torch.device("cpu")
    model = adapter.build(spec, 0).eval()
    fast = VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work"), max_lora_rank=48)
    assert fast.llm_args["max_lora_rank"] == 64  # snapped up to a rank vLLM accepts
    fast.sync(model)
    big = adapter.add_lora(model, "default", r=80, alpha=80, dropout=0.0)
    with pytest.raises(MuError, match="adapter 'default' has LoRA rank 80, above engine_args.max_lora_rank 64"):
        fast.sync(big)
    # what vLLM itself does with it: it fails only inside generate
    with pytest.raises(ValueError, match="greater than max_lora_rank"):
        fast.llm.generate([{"prompt_token_ids": [1, 5]}], fast.score_params(),
                          lora_request=standin.LoRARequest("x", 9, str(_saved(big, tmp_path / "big"))))

    model = adapter.build(spec, 0).eval()
    import peft

    proj = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["linear_1"]))  # the projector
    fast = VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work2"))
    with pytest.raises(MuError, match="adapter 'default' has LoRA on model.multi_modal_projector.linear_1 .*"
                                      "enable_tower_connector_lora"):
        fast.sync(proj)
    carried = VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work3"), enable_tower_connector_lora=True)
    carried.sync(proj)
    assert carried.adapters_added == 1 and carried.llm.kwargs["enable_tower_connector_lora"] is True

    config = peft.LoraConfig(r=4, target_modules=r".*language_model.*q_proj", modules_to_save=["lm_head"])
    saving = peft.get_peft_model(adapter.build(spec, 0), config)
    with pytest.raises(MuError, match=r"saves full modules \(lm_head, peft modules_to_save\)"):
        VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work4")).sync(saving)


def _saved(module, folder):
    module.save_pretrained(str(folder))
    return folder.resolve()


def test_engine_arguments_are_derived_and_checked():
    from types import SimpleNamespace

    from mu_registry.evaluation.engines.vllm_engine import derive_max_model_len, memory_share, snap_lora_rank
    from mu_registry.util.errors import MuError

    gib = 1 << 30
    short = SimpleNamespace(text_config=SimpleNamespace(max_position_embeddings=2048))
    assert derive_max_model_len(short, None) == 2048
    assert derive_max_model_len(SimpleNamespace(max_position_embeddings=32768), None) == 4096
    with pytest.raises(MuError, match="max_model_len 4096: the model's context is 2048 tokens"):
        derive_max_model_len(short, 4096)
    assert [snap_lora_rank(r) for r in (1, 2, 32, 33, 300, 512)] == [1, 8, 32, 64, 320, 512]
    with pytest.raises(MuError, match="up to 512"):
        snap_lora_rank(513)
    # 80 GiB card with 30 GiB taken by the harness's model: 0.9 x (50 - 1) / 80 = 0.55125 -> 0.55
    assert memory_share(50 * gib, 80 * gib) == 0.55
    assert memory_share(50 * gib, 80 * gib, 0.6) == 0.6
    with pytest.raises(MuError, match="gpu_memory_utilization 0.7: vLLM needs 56.0 GiB free .* 50.0 of 80.0"):
        memory_share(50 * gib, 80 * gib, 0.7)
    with pytest.raises(MuError, match="too little to start vLLM"):
        memory_share(3 * gib, 80 * gib)
