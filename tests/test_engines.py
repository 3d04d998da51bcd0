"""The evaluation engines: shared-prompt multiple choice equals scoring each option in full, the automatic
batch size backs off on out-of-memory errors, prepared batches are reused, and vLLM is refused cleanly
where it cannot run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import randomize_lora_b
from torch import nn

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.evaluation.engines import ACTIVE, TransformersEngine, make_engine, vllm_available  # noqa: E402
from mu_registry.evaluation.engines.base import BatchSizer, cut_at_stop, is_oom  # noqa: E402
from mu_registry.util.errors import MuError  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TinyLlava  # noqa: E402

CPU = torch.device("cpu")


def _data(adapter: TinyLlava, rows: int = 14):
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    split = entity_world(entities=9, images_per_entity=1, paraphrases=2, seed=0)["train"]
    data = adapter.encode(split.take(range(rows)), spec)
    pool = sorted(set(data.answer_texts)) + ["a much longer distractor answer"]
    options = [[a] + [p for p in pool if p != a][i % 3: i % 3 + 2 + i % 2] for i, a in enumerate(data.answer_texts)]
    return spec, dataclasses.replace(data, options=options)


def _full_option_scores(engine: TransformersEngine, data, adapter=ACTIVE) -> np.ndarray:
    """Each option scored as a whole prompt+answer sequence (what the shared-prompt path must equal)."""
    width = max(len(o) for o in data.options)
    out = np.full((len(data), width), np.inf)
    for k in range(width):
        rows = [i for i, o in enumerate(data.options) if len(o) > k]
        texts = [data.options[i][k] for i in rows]
        sub = data.take(rows).with_answers([engine.adapter.tokenize_answer(t) for t in texts], texts)
        out[rows, k] = engine.loglikelihood(sub, adapter=adapter)
    return out


def test_shared_prompt_choice_scores_equal_full_sequence_scores_for_image_and_text_rows():
    adapter = TinyLlava()
    spec, data = _data(adapter)
    assert data.has_image.any() and (~data.has_image).any()
    model = adapter.build(spec, 0).eval()
    engine = TransformersEngine(adapter, model, device=CPU, batch_size=5)
    shared = engine.choice_scores(data)
    full = _full_option_scores(engine, data)
    assert np.isinf(shared).sum() == np.isinf(full).sum() > 0
    finite = np.isfinite(full)
    np.testing.assert_allclose(shared[finite], full[finite], rtol=1e-4, atol=1e-4)
    answers, scores = engine.choose(data)
    assert answers == [data.options[i][int(np.argmin(full[i]))] for i in range(len(data))]

    # through a LoRA adapter by name, and the base with adapters off, as LUMoE's routes ask
    lora = adapter.add_lora(model, "expert", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.05)
    engine.sync(lora)
    routed = engine.choice_scores(data, adapter="expert")
    np.testing.assert_allclose(routed[finite], _full_option_scores(engine, data, "expert")[finite], rtol=1e-4,
                               atol=1e-4)
    assert not np.allclose(routed[finite], shared[finite])
    np.testing.assert_allclose(engine.choice_scores(data, adapter=None)[finite], shared[finite], rtol=1e-4, atol=1e-4)


class RunsOutOfMemory(nn.Module):
    """Raises the allocator's out-of-memory error for batches larger than ``limit`` rows."""

    def __init__(self, inner: nn.Module, limit: int):
        super().__init__()
        self.inner, self.limit, self.refused = inner, limit, 0

    def _check(self, kwargs):
        if kwargs["input_ids"].shape[0] > self.limit:
            self.refused += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")

    def forward(self, **kwargs):
        self._check(kwargs)
        return self.inner(**kwargs)

    def generate(self, **kwargs):
        self._check(kwargs)
        return self.inner.generate(**kwargs)


def test_auto_batch_size_halves_on_out_of_memory_and_gives_the_same_answers():
    adapter = TinyLlava()
    spec, data = _data(adapter, rows=20)
    model = adapter.build(spec, 0).eval()
    fixed = TransformersEngine(adapter, model, device=CPU, batch_size=3)
    flaky = RunsOutOfMemory(model, limit=4)
    auto = TransformersEngine(adapter, flaky, device=CPU, batch_size="auto", max_batch_size=16)
    np.testing.assert_allclose(auto.loglikelihood(data), fixed.loglikelihood(data), rtol=1e-5, atol=1e-5)
    assert auto.generate(data, max_new_tokens=4) == fixed.generate(data, max_new_tokens=4)
    np.testing.assert_allclose(auto.choice_scores(data), fixed.choice_scores(data), rtol=1e-5, atol=1e-5)
    # 16 -> 8 -> 4; multiple choice runs every option of a row at once (up to 4 here): 1 question a batch
    assert auto.sizer.found == {"loglikelihood": 4, "generate": 4, "choice": 1}
    refused = flaky.refused
    auto.loglikelihood(data)
    assert flaky.refused == refused  # the size found is remembered

    with pytest.raises(ValueError, match="not a memory error"):
        BatchSizer("auto").run("x", lambda n: (_ for _ in ()).throw(ValueError("not a memory error")))
    assert is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"))


def test_prepared_batches_are_reused_and_never_hide_changed_weights():
    adapter = TinyLlava()
    spec, data = _data(adapter)
    model = adapter.build(spec, 0).eval()
    engine = TransformersEngine(adapter, model, device=CPU, batch_size=4, reuse=False)
    first = engine.loglikelihood(data)
    assert engine.prepared_hits == 0
    assert np.array_equal(engine.loglikelihood(data), first) and engine.prepared_hits == 1
    with torch.no_grad():
        model.lm_head.weight.mul_(1.5)
    assert not np.allclose(engine.loglikelihood(data), first) and engine.prepared_hits == 2
    tiny = TransformersEngine(adapter, model, device=CPU, batch_size=4, prepared_budget_mb=0, reuse=False)
    tiny.loglikelihood(data)
    tiny.loglikelihood(data)
    assert tiny.prepared_hits == 0  # over the budget: prepared again, not kept


def test_stop_strings_and_engine_choice():
    assert cut_at_stop("Paris.\nQuestion: next", ("\nQuestion:", "</s>")) == "Paris."
    assert cut_at_stop("no stop here", ("\n\n",)) == "no stop here"
    adapter = TinyLlava()
    spec, _ = _data(adapter)
    model = adapter.build(spec, 0)
    engine = make_engine("auto", adapter, model, device=CPU)
    assert isinstance(engine, TransformersEngine)
    _, data = _data(adapter)
    full = engine.generate(data, max_new_tokens=8)
    stops = ("a", "e")  # generation stops early once every row holds one; the text is the same as cutting after
    assert engine.generate(data, max_new_tokens=8, stop=stops) == [cut_at_stop(t, stops).strip() for t in full]
    with pytest.raises(MuError, match="engine 'fast': choose one of auto, transformers, vllm"):
        make_engine("fast", adapter, model, device=CPU)
    if not vllm_available():
        with pytest.raises(MuError, match="engine vllm: needs a CUDA GPU"):
            make_engine("vllm", adapter, model, device=CPU)


@pytest.mark.skipif(vllm_available(), reason="checks the refusal where vLLM cannot run")
def test_asking_for_vllm_without_a_gpu_fails_before_any_training(tmp_path):
    from conftest import run_cli

    proc = run_cli("run", "--tasks", "mlubench-mini", "--engine", "vllm", "--methods", "ga",
                   "--output", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert "mlubench-mini.yaml: engine vllm needs a CUDA GPU" in proc.stderr
