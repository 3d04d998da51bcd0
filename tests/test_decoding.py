"""Decoding and prompts as the releases run them: MLUBench's sampling (temperature 0.2 over transformers'
warpers, 250 tokens), MLLMU-Bench's one-shot example before every multiple-choice question, the task
options that set them (one-line errors), the answer cache keyed on them, and greedy decoding unchanged.

References: MLUBench's release (lihe-maxsize/Lifelong_Unlearning_main @ cf6579c8f16f88f9c694b42e79de685de61d32fa,
LLaVA_unlearning_main.zip: eval_unlearned_model.py, LUMoE.py; pyproject.toml pins transformers==4.37.2, whose
generation/utils.py ``_get_logits_warper`` and generation/logits_process.py the warpers follow) and
MLLMU-Bench (franciscoliu/MLLMU-Bench @ 0e3098e5ea7e4878ce4f19cdf873de1410b4d427, eval.py
``evaluate_classification``)."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import torch
from conftest import write

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.evaluation.answer_cache import AnswerCache, rows_digest  # noqa: E402
from mu_registry.evaluation.engines import TransformersEngine  # noqa: E402
from mu_registry.evaluation.engines.base import Sampling, draw, row_generator, warp  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.evaluation.generative import answer_sets, one_shot  # noqa: E402
from mu_registry.config.task import GenerationConfig  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TOKENS, TinyLlava  # noqa: E402

CPU = torch.device("cpu")
SPEC = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")


# ---------------------------------------------------------------- the warpers, by hand
def _probs(scores: torch.Tensor) -> list[float]:
    return scores.softmax(-1)[0].tolist()


def test_temperature_then_top_k_as_transformers_4_37():
    # logits [2, 1, 0.5, -1] at temperature 0.2 -> [10, 5, 2.5, -5]; top-k 2 keeps 10 and 5:
    # p = [1 / (1 + e^-5), e^-5 / (1 + e^-5), 0, 0]
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0]])
    p = _probs(warp(logits, Sampling(temperature=0.2, top_k=2)))
    assert p == pytest.approx([1 / (1 + math.exp(-5)), math.exp(-5) / (1 + math.exp(-5)), 0.0, 0.0], abs=1e-7)
    # MLUBench's settings (top-k 50 > vocabulary, no top-p): the plain softmax of logits / 0.2
    z = sum(math.exp(v) for v in (10, 5, 2.5, -5))
    p = _probs(warp(logits, Sampling(temperature=0.2)))
    assert p == pytest.approx([math.exp(v) / z for v in (10, 5, 2.5, -5)], rel=1e-6)


@pytest.mark.parametrize("top_p, kept", [(0.9995, 3), (0.995, 2), (0.5, 1)])
def test_top_p_as_transformers_4_37(top_p, kept):
    # scores [10, 5, 2.5, -5]: probabilities e^v / Z with Z = e^10 (1 + e^-5 + e^-7.5 + e^-15), ascending
    # [3.04e-7, 5.49e-4, 6.69e-3, 0.9928], cumulative [3.04e-7, 5.494e-4, 7.238e-3, 1]; the tokens whose
    # cumulative probability is <= 1 - top_p go: 1 - 0.9995 = 5e-4 drops one, 5e-3 drops two, 0.5 drops three
    scores = warp(torch.tensor([[2.0, 1.0, 0.5, -1.0]]), Sampling(temperature=0.2, top_k=0, top_p=top_p))
    assert int(torch.isfinite(scores).sum()) == kept
    values = [10, 5, 2.5, -5][:kept]
    z = sum(math.exp(v) for v in values)
    assert _probs(scores)[:kept] == pytest.approx([math.exp(v) / z for v in values], rel=1e-6)


def test_warp_equals_the_installed_transformers_warpers():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(6, 40, generator=torch.Generator().manual_seed(0)) * 3
    for s in (Sampling(0.2), Sampling(0.7, top_k=5, top_p=0.8), Sampling(1.3, top_k=0, top_p=0.6)):
        ref = TemperatureLogitsWarper(s.temperature)(None, logits.clone())
        if s.top_k:
            ref = TopKLogitsWarper(s.top_k)(None, ref)
        if s.top_p < 1:
            ref = TopPLogitsWarper(s.top_p)(None, ref)
        assert torch.equal(warp(logits, s), ref)


def test_draws_follow_the_warped_distribution_and_are_fixed_by_the_seed():
    scores = torch.log(torch.tensor([[1.0, 2.0, 3.0]]))  # p = 1/6, 2/6, 3/6
    gen = row_generator(0, "row")
    counts = np.bincount([int(draw(scores, [gen])) for _ in range(6000)], minlength=3) / 6000
    assert counts == pytest.approx([1 / 6, 2 / 6, 3 / 6], abs=3 * math.sqrt(0.25 / 6000))
    a = [int(draw(scores, [g])) for g in [row_generator(0, "row")] for _ in range(20)]
    b = [int(draw(scores, [g])) for g in [row_generator(0, "row")] for _ in range(20)]
    c = [int(draw(scores, [g])) for g in [row_generator(1, "row")] for _ in range(20)]
    assert a == b and a != c


# ---------------------------------------------------------------- the engine
@pytest.fixture(scope="module")
def tiny():
    adapter = TinyLlava()
    split = entity_world(entities=9, images_per_entity=1, paraphrases=2, seed=0)["train"]
    data = adapter.encode(split.take(range(14)), SPEC)
    assert data.has_image.any() and (~data.has_image).any()
    return adapter, adapter.build(SPEC, 0).eval(), data


def _hf_greedy(adapter, model, data, max_new_tokens: int) -> list[str]:
    """transformers' own greedy ``generate``, one row at a time (no padding)."""
    out = []
    for i in range(len(data)):
        ids = torch.tensor([data.prompts[i]])
        kw = {"pixel_values": adapter.pixel_values([data.images[i]])} if data.images[i] is not None else {}
        seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=adapter.pad_id, eos_token_id=adapter.eos_id, **kw)
        new = seq[0, ids.shape[1]:].tolist()
        out.append(adapter.decode(new[:new.index(adapter.eos_id)] if adapter.eos_id in new else new).strip())
    return out


def test_greedy_is_unchanged_by_the_new_options(tiny):
    adapter, model, data = tiny
    assert GenerationConfig().sampling() is None  # the defaults (the minis' setting) decode greedily
    expected = _hf_greedy(adapter, model, data, 12)
    for reuse in (True, False):
        engine = TransformersEngine(adapter, model, device=CPU, batch_size=4, reuse=reuse)
        assert engine.generate(data, max_new_tokens=12) == expected
        assert engine.generate(data, max_new_tokens=12, sampling=None) == expected


def test_sampled_answers_depend_on_the_seed_and_the_row_only(tiny):
    adapter, model, data = tiny
    s = Sampling(temperature=1.5, top_k=0)
    ref = TransformersEngine(adapter, model, device=CPU, batch_size=14).generate(data, max_new_tokens=10, sampling=s)
    order = np.random.default_rng(0).permutation(len(data))
    for reuse, batch in ((True, 1), (True, 5), (False, 3), (False, 14)):
        engine = TransformersEngine(adapter, model, device=CPU, batch_size=batch, reuse=reuse)
        assert engine.generate(data, max_new_tokens=10, sampling=s) == ref, (reuse, batch)
        shuffled = engine.generate(data.take(order), max_new_tokens=10, sampling=s)
        assert shuffled == [ref[i] for i in order], (reuse, batch)
    other = TransformersEngine(adapter, model, device=CPU, batch_size=14).generate(
        data, max_new_tokens=10, sampling=dataclasses.replace(s, seed=1))
    assert other != ref
    greedy = TransformersEngine(adapter, model, device=CPU, batch_size=14).generate(data, max_new_tokens=10)
    assert ref != greedy  # an untrained model at temperature 1.5 does not sample its argmax everywhere
    cold = TransformersEngine(adapter, model, device=CPU, batch_size=14).generate(
        data, max_new_tokens=10, sampling=Sampling(temperature=1e-4))
    assert cold == greedy  # at temperature -> 0 sampling is the argmax


class _Counting:
    """An engine that answers with a counter: shows whether the cache answered instead."""

    def __init__(self):
        self.calls = 0

    def sync(self, model):
        pass

    def generate(self, data, *, max_new_tokens, stop=(), adapter=None, sampling=None):
        self.calls += 1
        return [f"{self.calls}"] * len(data)

    def loglikelihood(self, data, *, adapter=None):
        return np.zeros(len(data))


def test_the_answer_cache_keys_on_the_decoding(tiny, tmp_path):
    adapter, model, data = tiny
    engine, cache = _Counting(), AnswerCache(tmp_path)
    sets = {"s": data.take(range(3))}

    def ask(sampling):
        return answer_sets(engine, model, sets, route=None, max_new_tokens=5, cache=cache, sampling=sampling)["s"]

    greedy = ask(None)
    hot = ask(Sampling(temperature=0.2))
    assert engine.calls == 2 and hot.answers != greedy.answers  # a sampled answer is not the greedy one
    assert ask(None).answers == greedy.answers and ask(Sampling(temperature=0.2)).answers == hot.answers
    assert engine.calls == 2  # both read back
    ask(Sampling(temperature=0.2, seed=1))
    ask(Sampling(temperature=0.2, top_p=0.9))
    assert engine.calls == 4


def test_greedy_cache_keys_and_row_digests_are_as_before(tiny):
    adapter, model, data = tiny
    import hashlib
    import json

    # rows_digest of single-image rows: the bytes fed before tuples of images existed
    h = hashlib.sha256()
    for i in range(len(data)):
        h.update(json.dumps([data.prompts[i], data.answers[i], None]).encode())
        img = data.images[i]
        h.update(b"-" if img is None else np.ascontiguousarray(np.asarray(img)).tobytes())
    assert rows_digest(data) == h.hexdigest()[:32]


# ---------------------------------------------------------------- MLLMU-Bench's one-shot example
def _mcq():
    """Three entities, each with two image questions and one text question (lettered options)."""
    adapter = TinyLlava()
    rng = np.random.default_rng(0)
    rows = []
    for e, name in enumerate(("Ann", "Bob", "Cid")):
        img = rng.integers(0, 255, (3, 16, 16), dtype=np.uint8)
        for k, (q, opts, ans) in enumerate([("What is the job of the person?", ["baker", "pilot", "nurse", "judge"], 1),
                                            ("What pet does the person keep?", ["cat", "goat", "horse", "rabbit"], 3),
                                            (f"Where was {name} born?", ["Oslo", "Lima", "Pune", "Kyiv"], e)]):
            rows.append({"question": q, "options": opts, "answer": opts[ans], "image": img if k < 2 else None,
                         "form": "multimodal" if k < 2 else "text", "entity": name})
    from mu_registry.api.data import Split

    cols = {k: [r[k] for r in rows] for k in rows[0]}
    split = Split("forget_A", cols, np.arange(len(rows)))
    spec = dataclasses.replace(SPEC, options_column="options")
    return adapter, adapter.encode(split, spec)


def _eval_py_block(question: str, options: list[str], letter: str, image: bool) -> str:
    """eval.py's few-shot text for one example question (its f-strings; the image placeholder aside)."""
    return (("USER: <image>\n" if image else "USER:\n") + f"Question: {question}\n" +
            "".join(f"{'ABCD'[k]}: {o}\n" for k, o in enumerate(options)) + f"Correct Answer: {letter}\n")


def test_one_shot_prompt_is_eval_py_s(tmp_path):
    adapter, data = _mcq()
    view = one_shot(adapter, data, seed=0, name="forget_A")
    example = random.Random("0|forget_A").sample(["Ann", "Bob", "Cid"], 1)[0]
    # the example entity's own rows are left out (eval.py skips the questions it showed)
    assert example not in view.units and len(view) == 6
    assert sorted(set(view.units)) == sorted({"Ann", "Bob", "Cid"} - {example})
    image_block = (_eval_py_block("What is the job of the person?", ["baker", "pilot", "nurse", "judge"], "B", True)
                   + _eval_py_block("What pet does the person keep?", ["cat", "goat", "horse", "rabbit"], "D", True))
    born = {"Ann": "A", "Bob": "B", "Cid": "C"}[example]
    text_block = _eval_py_block(f"Where was {example} born?", ["Oslo", "Lima", "Pune", "Kyiv"], born, False)
    k = adapter.image_tokens
    ex_image = data.images[data.units.index(example)]
    for i in range(len(view)):
        ids = view.prompts[i]
        own = data.prompts[[j for j in range(len(data)) if data.units[j] == view.units[i]
                            and data.questions[j] == view.questions[i]][0]]
        assert ids[0] == TOKENS.bos and ids[-len(own) + 1:] == own[1:]  # the row's own prompt after the block
        head = ids[1:len(ids) - len(own) + 1]
        if view.images[i] is not None:
            # "<image>" is the tiny model's placeholder run (one per patch) and its newline
            expected = TOKENS.encode(image_block.split("<image>\n")[0])
            for part in image_block.split("<image>\n")[1:]:
                expected += [TOKENS.image] * k + TOKENS.encode("\n") + TOKENS.encode(part)
            assert head == expected
            assert isinstance(view.images[i], tuple) and len(view.images[i]) == 3
            assert all(np.array_equal(x, ex_image) for x in view.images[i][:2])
            assert ids.count(TOKENS.image) == 3 * k
        else:
            assert head == TOKENS.encode(text_block) and view.images[i] is None


def test_hf_llava_one_shot_tokens_are_the_processor_s_on_eval_py_s_prompt(tmp_path):
    """Image rows against MLLMU-Bench's own call: ``processor(images=[*few_shot_images, image], text=prompt)``
    on eval.py's prompt string, with the plugin's template set to eval.py's turn (``\\nASSISTANT:``)."""
    from test_hf_llava import _save_tiny_llava

    from mu_registry.registry.manager import Registry

    folder = tmp_path / "llava"
    _save_tiny_llava(folder)
    adapter = Registry().model("hf_llava")(pretrained=str(folder), template="USER: {image}{question}\nASSISTANT:")
    _, data = _mcq()
    from mu_registry.api.data import Split

    split = Split("forget_A", {"question": [q.split("\n")[0] for q in data.questions], "options": data.options,
                               "answer": data.answer_texts, "image": data.images, "form": data.forms,
                               "entity": data.units}, np.arange(len(data)))
    enc = adapter.encode(split, dataclasses.replace(SPEC, options_column="options"))
    view = one_shot(adapter, enc, seed=0, name="forget_A")
    example = random.Random("0|forget_A").sample(["Ann", "Bob", "Cid"], 1)[0]
    from PIL import Image

    block = (_eval_py_block("What is the job of the person?", ["baker", "pilot", "nurse", "judge"], "B", True)
             + _eval_py_block("What pet does the person keep?", ["cat", "goat", "horse", "rabbit"], "D", True))
    for i in range(len(view)):
        if view.images[i] is None:
            continue
        q = view.questions[i]  # "{question}\nA: ...\nD: ...\nJust give ONE letter representing the answer directly."
        prompt = f"{block}USER: <image>\n{q}\nASSISTANT:"  # eval.py: few-shot, then the question's turn
        pics = [Image.fromarray(x.transpose(1, 2, 0)) for x in view.images[i]]
        ref = adapter.processor(images=pics, text=prompt, return_tensors="pt").input_ids[0].tolist()
        assert view.prompts[i] == ref
    assert example not in view.units


def test_one_shot_rows_run_through_both_engine_paths_as_transformers_does(tiny):
    adapter, model, _ = tiny
    _, data = _mcq()
    view = one_shot(adapter, data, seed=0, name="forget_A")
    expected = _hf_greedy_multi(adapter, model, view, 6)
    for reuse in (True, False):
        engine = TransformersEngine(adapter, model, device=CPU, batch_size=4, reuse=reuse)
        assert engine.generate(view, max_new_tokens=6) == expected
    nll = [TransformersEngine(adapter, model, device=CPU, batch_size=3, reuse=r).loglikelihood(view)
           for r in (True, False)]
    np.testing.assert_allclose(nll[0], nll[1], rtol=1e-4, atol=1e-5)


def _hf_greedy_multi(adapter, model, data, max_new_tokens: int) -> list[str]:
    """transformers' greedy ``generate`` per row, a row's images stacked in order (LLaVA fills its image
    placeholders with them in order)."""
    out = []
    for i in range(len(data)):
        ids = torch.tensor([data.prompts[i]])
        img = data.images[i]
        kw = {} if img is None else {"pixel_values": adapter.pixel_values(list(img) if isinstance(img, tuple)
                                                                          else [img])}
        seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=adapter.pad_id, eos_token_id=adapter.eos_id, **kw)
        new = seq[0, ids.shape[1]:].tolist()
        out.append(adapter.decode(new[:new.index(adapter.eos_id)] if adapter.eos_id in new else new).strip())
    return out


def test_one_shot_of_a_single_entity_set_is_the_set():
    adapter, data = _mcq()
    one = data.where(np.asarray(data.units) == "Ann")
    assert one_shot(adapter, one, seed=0, name="x") is one


# ---------------------------------------------------------------- the task options: one line each
GEN_TASK = """\
include: mlubench-mini
task: t
"""


@pytest.mark.parametrize("generation, field, problem", [
    ("{temperature: -0.5}", "generation.temperature", "is for decoding 'sample'"),
    ("{decoding: sample, temperature: -0.5}", "generation.temperature", "must be greater than 0 (got -0.5)"),
    ("{decoding: sample, temperature: 0}", "generation.temperature", "temperature 0 is greedy decoding"),
    ("{decoding: sample}", "generation.temperature", "decoding 'sample' needs a temperature > 0"),
    ("{decoding: beam}", "generation.decoding", "Input should be 'greedy' or 'sample' (got 'beam')"),
    ("{top_k: 10}", "generation.top_k", "is for decoding 'sample'"),
    ("{decoding: sample, temperature: 0.2, top_p: 0}", "generation.top_p", "greater than 0"),
    ("{decoding: sample, temperature: 0.2, top_k: -1}", "generation.top_k", "greater than or equal to 0"),
    ("{one_shot: true}", "generation", "one_shot is MLLMU-Bench's lettered multiple-choice example"),
])
def test_bad_decoding_options_are_one_line_naming_file_and_field(mu, tmp_path, generation, field, problem):
    path = write(tmp_path / "tasks" / "t.yaml", GEN_TASK + f"generation: {generation}\n")
    code, err = mu("validate", "t", "--include-path", str(tmp_path / "tasks"))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"mu-eval: error: {path}: {field}: ") and problem in err[0], err[0]


def test_the_real_tasks_decode_as_the_releases():
    from mu_registry.registry.manager import Registry
    from mu_registry.registry.task_index import TaskIndex

    index = TaskIndex(Registry())
    mlu = index.load("mlubench").config.generation
    # eval_unlearned_model.py / LUMoE.py: --temperature 0.2, --top_p None, --max_new_tokens 250, transformers' top_k 50
    assert mlu.sampling() == Sampling(temperature=0.2, top_k=50, top_p=1.0, seed=0) and mlu.max_new_tokens == 250
    for name, shot in (("pulse-finetuned", True), ("pulse-pretrained", False)):
        gen = index.load(name).config.generation
        # eval.py: model.generate(**inputs, max_new_tokens=50, do_sample=False); few-shot for the fictitious sets
        assert gen.sampling() is None and gen.max_new_tokens == 50 and gen.one_shot is shot, name
    for name in ("mlubench-mini", "pulse-mini-pretrained", "pulse-mini-finetuned", "pulse-smol-pretrained"):
        gen = index.load(name).config.generation
        assert gen.sampling() is None and not gen.one_shot, name  # the minis keep greedy decoding


# ---------------------------------------------------------------- the vLLM engine (its API stand-in)
@pytest.fixture
def standin(monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "helpers"))
    import vllm_api_standin

    vllm_api_standin.install(monkeypatch)
    return vllm_api_standin


def _llava_mcq(tmp_path):
    from test_hf_llava import _save_tiny_llava

    from mu_registry.api.data import Split
    from mu_registry.registry.manager import Registry

    folder = tmp_path / "llava"
    _save_tiny_llava(folder)
    adapter = Registry().model("hf_llava")(pretrained=str(folder))
    _, data = _mcq()
    split = Split("forget_A", {"question": [q.split("\n")[0] for q in data.questions], "options": data.options,
                               "answer": data.answer_texts, "image": data.images, "form": data.forms,
                               "entity": data.units}, np.arange(len(data)))
    return adapter, adapter.encode(split, dataclasses.replace(SPEC, options_column="options"))


def test_vllm_sampling_params_are_the_task_s(standin):
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine

    greedy = VLLMEngine.generation_params(50, ("\n",))
    assert (greedy.temperature, greedy.max_tokens, greedy.stop) == (0.0, 50, ["\n"])
    hot = VLLMEngine.generation_params(250, (), Sampling(temperature=0.2), seed=7)
    assert (hot.temperature, hot.top_k, hot.top_p, hot.seed, hot.max_tokens) == (0.2, 50, 1.0, 7, 250)
    every = VLLMEngine.generation_params(8, (), Sampling(temperature=1.0, top_k=0, top_p=0.9), seed=1)
    assert (every.top_k, every.top_p) == (-1, 0.9)  # vLLM's "every token" is -1


def test_vllm_sends_one_shot_rows_with_their_images_and_a_seed_per_row(tmp_path, standin):
    from mu_registry.evaluation.engines.base import row_seed
    from mu_registry.evaluation.engines.reuse import image_digest
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine

    adapter, enc = _llava_mcq(tmp_path)
    view = one_shot(adapter, enc, seed=0, name="forget_A")
    model = adapter.build(SPEC, 0).eval()
    hf = TransformersEngine(adapter, model, device=CPU, batch_size=2)
    fast = VLLMEngine(adapter, model, device=CPU, workdir=str(tmp_path / "work"))
    image_rows = [i for i in range(len(view)) if view.images[i] is not None]
    sent, expected = fast.prompt(view, image_rows[0])
    assert len(sent["multi_modal_data"]["image"]) == 3  # the example's two images, then the row's own
    assert sent["prompt_token_ids"].count(adapter.image_token_id) == 3 and expected == view.prompts[image_rows[0]]
    assert fast.generate(view, max_new_tokens=4) == hf.generate(view, max_new_tokens=4)  # expansion checked too
    s = Sampling(temperature=0.2, seed=3)
    fast.generate(view, max_new_tokens=4, sampling=s)
    params = fast.llm.last_params
    assert isinstance(params, list) and len(params) == len(view)
    for i, one in enumerate(params):
        key = (tuple(view.prompts[i]), image_digest(view.images[i]) if view.images[i] is not None else None, None)
        assert (one.temperature, one.top_k, one.seed) == (0.2, 50, row_seed(3, key))
