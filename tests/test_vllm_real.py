"""The vLLM engine against the REAL vLLM package, without a GPU (vLLM 0.32 imports on CPU): the engine's
prompts for a LLaVA row go through vLLM's own LLaVA processor (``model_executor/models/llava.py`` prompt
updates applied by ``multimodal/processing/processor.py``), its ``LoRARequest`` and ``SamplingParams`` are
built by vLLM's classes, its adapters pass vLLM's own adapter checks (``lora/peft_helper.py``) and its
engine arguments vLLM's configs (``ModelConfig``, ``LoRAConfig``, ``EngineArgs``).

Skipped where vLLM does not import (the project's own environment: vLLM pins transformers < 5.20 and needs
torchvision). ``.ci/run`` builds an environment where it does and runs this module there with
``MU_REQUIRE_VLLM=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mu_registry.evaluation.engines import vllm_install_problem

PROBLEM = vllm_install_problem()
if PROBLEM is not None:
    if os.environ.get("MU_REQUIRE_VLLM") == "1":
        raise RuntimeError(f"MU_REQUIRE_VLLM=1 but vLLM cannot run here: {PROBLEM}")
    pytest.skip(f"the real vLLM package: {PROBLEM}", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

N_IMAGE = 16  # the tiny LLaVA's image: (16 px / 4 px patches)^2 features, CLS dropped ("default")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from PIL import Image
    from test_hf_llava import _save_tiny_llava

    from mu_registry.api.data import Split
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.models.hf_llava import HFLlava

    root = tmp_path_factory.mktemp("vllm-real")
    folder = root / "llava"
    _save_tiny_llava(folder)
    images = []
    for k in range(2):
        path = root / f"img{k}.png"
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(path)
        images.append(str(path))
    adapter = HFLlava(pretrained=str(folder))
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {})
    split = Split("s", {"question": ["What is this?", "Who is Ana?", "Where is it?"],
                        "answer": ["a cat", "a painter", "on a mat"], "image": [images[0], None, images[1]]},
                  np.arange(3))
    data = adapter.encode(split, spec)
    model = adapter.build(spec, 0).eval()
    return folder, adapter, spec, data, model


@pytest.fixture(scope="module")
def engine(tiny, tmp_path_factory):
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine

    folder, adapter, spec, data, model = tiny
    return VLLMEngine(adapter, model, device=torch.device("cpu"), workdir=str(tmp_path_factory.mktemp("work")))


@pytest.fixture(scope="module")
def vllm_processor(tiny, engine):
    from vllm.config import ModelConfig
    from vllm.multimodal import MULTIMODAL_REGISTRY

    model_config = ModelConfig(model=str(tiny[0]), dtype=engine.llm_args["dtype"],
                               max_model_len=engine.llm_args["max_model_len"])
    return MULTIMODAL_REGISTRY.create_processor(model_config)


def _apply(processor, prompt: dict) -> dict:
    """vLLM's multimodal processing of one token prompt (what its renderer runs for ``LLM.generate``)."""
    from vllm.multimodal.processing.context import TimingContext
    from vllm.multimodal.processing.inputs import ProcessorInputs

    items = processor.info.parse_mm_data(prompt["multi_modal_data"])
    return processor.apply(ProcessorInputs(list(prompt["prompt_token_ids"]), items), TimingContext())


def test_the_install_checks_pass_here_and_name_a_broken_pin(monkeypatch):
    from importlib import metadata

    assert vllm_install_problem() is None
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "5.24.0" if name == "transformers" else real(name))
    assert "needs transformers<5.20.0,>=5.16.1, transformers 5.24.0 is installed" in vllm_install_problem()


def test_image_rows_come_out_of_vllms_llava_processor_as_the_model_plugin_built_them(tiny, engine, vllm_processor):
    from mu_registry.evaluation.engines.vllm_engine import check_expansion
    from mu_registry.util.errors import MuError

    folder, adapter, spec, data, model = tiny
    image_id = adapter.image_token_id
    for i in np.flatnonzero(data.has_image):
        sent, expected = engine.prompt(data, int(i), data.answers[i])
        assert sent["prompt_token_ids"].count(image_id) == 1
        out = _apply(vllm_processor, sent)
        assert out["prompt_token_ids"] == expected  # exactly N image tokens, every other token where it was
        assert expected.count(image_id) == N_IMAGE
        (where,) = out["mm_placeholders"]["image"]
        assert (where.offset, where.length) == (expected.index(image_id), N_IMAGE)
        check_expansion(sent["prompt_token_ids"], out["prompt_token_ids"], expected, image_id, int(i))
        # the answer the engine scores sits at the end of vLLM's expanded prompt
        assert out["prompt_token_ids"][-len(data.answers[i]):] == list(data.answers[i])

    # finding 1: the model plugin's already expanded prompt, as the engine used to send it: 2N-1 image tokens
    pre = {"prompt_token_ids": list(data.prompts[0]), "multi_modal_data": engine.prompt(data, 0)[0]["multi_modal_data"]}
    out = _apply(vllm_processor, pre)
    assert out["prompt_token_ids"].count(image_id) == 2 * N_IMAGE - 1
    with pytest.raises(MuError, match=f"row 0: .*{2 * N_IMAGE - 1} image tokens"):
        check_expansion(pre["prompt_token_ids"], out["prompt_token_ids"], list(data.prompts[0]), image_id, 0)


def test_sampling_params_and_lora_requests_are_vllms_own(tiny, engine):
    from vllm import SamplingParams
    from vllm.lora.peft_helper import PEFTHelper
    from vllm.lora.request import LoRARequest
    from vllm.sampling_params import SamplingType

    score = engine.score_params()
    gen = engine.generation_params(8, ("\n", "."))
    assert isinstance(score, SamplingParams) and isinstance(gen, SamplingParams)
    assert score.prompt_logprobs == 0 and score.max_tokens == 1 and score.sampling_type == SamplingType.GREEDY
    assert gen.max_tokens == 8 and gen.stop == ["\n", "."] and gen.sampling_type == SamplingType.GREEDY

    from vllm.config.lora import LoRAConfig

    folder, adapter, spec, data, model = tiny
    lora = adapter.add_lora(adapter.build(spec, 0), "default", r=32, alpha=32, dropout=0.0)
    request = engine.register_adapter(lora, "default")
    assert isinstance(request, LoRARequest) and request.lora_int_id >= 1
    assert Path(request.lora_path).is_absolute() and (Path(request.lora_path) / "adapter_config.json").exists()
    lora_config = LoRAConfig(max_lora_rank=engine.llm_args["max_lora_rank"], max_loras=engine.llm_args["max_loras"])
    PEFTHelper.from_local_dir(request.lora_path, max_position_embeddings=None).validate_legal(lora_config)

    # an adapter above the rank cap: refused by the engine when registered, and vLLM's own check agrees
    from mu_registry.util.errors import MuError

    big = adapter.add_lora(adapter.build(spec, 0), "default", r=80, alpha=80, dropout=0.0)
    with pytest.raises(MuError, match="LoRA rank 80, above engine_args.max_lora_rank 64"):
        engine.register_adapter(big, "default")
    big.save_pretrained(str(engine.workdir / "big"))
    with pytest.raises(ValueError, match="LoRA rank 80 is greater than max_lora_rank 64"):
        PEFTHelper.from_local_dir(str(engine.workdir / "big"), max_position_embeddings=None).validate_legal(lora_config)

    # what only vLLM's own adapter check knows of (DoRA): refused when registered, not inside generate
    dora_config = peft.LoraConfig(r=8, target_modules=r".*language_model.*q_proj", use_dora=True)
    dora = peft.get_peft_model(adapter.build(spec, 0), dora_config)
    with pytest.raises(MuError, match="adapter 'default': vLLM refuses it .*DoRA"):
        engine.register_adapter(dora, "default")


def test_engine_arguments_pass_vllms_configs(tiny, engine):
    from pydantic import ValidationError
    from vllm.config import ModelConfig
    from vllm.config.lora import LoRAConfig
    from vllm.engine.arg_utils import EngineArgs

    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine, check_llm_args
    from mu_registry.util.errors import MuError

    folder, adapter, spec, data, model = tiny
    args = engine.start_args()
    assert args["dtype"] == "float32" and args["max_model_len"] == 2048 and args["max_lora_rank"] == 64
    model_config = EngineArgs(model=str(folder), **args).create_model_config()
    assert model_config.dtype == torch.float32 and model_config.max_model_len == 2048
    # finding 4: the old defaults, as vLLM takes them ("auto" downcasts a float32 model, config/model.py
    # _resolve_auto_dtype; the model is float32 here)
    assert ModelConfig(model=str(folder), dtype="auto").dtype in (torch.bfloat16, torch.float16)
    with pytest.raises(ValidationError, match="max_model_len"):
        ModelConfig(model=str(folder), max_model_len=4096)
    with pytest.raises(ValidationError):
        LoRAConfig(max_lora_rank=48)
    LoRAConfig(max_lora_rank=VLLMEngine(adapter, model, device=torch.device("cpu"), max_lora_rank=48).max_lora_rank)
    with pytest.raises(MuError, match="max_model_len 4096: the model's context is 2048 tokens"):
        VLLMEngine(adapter, model, device=torch.device("cpu"), max_model_len=4096)

    check_llm_args({"max_num_seqs": 64, "seed": 0, "enforce_eager": True})
    with pytest.raises(MuError, match="engine_args.max_num_seq: not an argument of the vLLM engine"):
        check_llm_args({"max_num_seq": 64})
