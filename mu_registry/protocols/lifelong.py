"""The lifelong protocol for generative tasks (MLUBench, PULSE).

For one task and seed: teach the original model the task's knowledge (cached; PULSE's two phases
when the task has a phase column), evaluate it, then for every method run the requests in order.
After each request every set is evaluated again (each request's forget set, its paraphrases,
each retain set, the general set), so the results hold MLUBench's "task X after unlearning Y"
matrix and PULSE's curves over requests. After each request the method's trainable weights (its
adapters) and state are checkpointed atomically with the results: a run killed at any point
resumes at the next request and ends with the same numbers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from mu_registry.evaluation.answer_cache import AnswerCache
from mu_registry.util.atomic import atomic_write_text
from mu_registry.util.errors import MuError
from mu_registry.api.generative_model import GenerativeModel
from mu_registry.api.generative_method import GenerativeMethod, QAContext, RequestSets
from mu_registry.training.peft import is_peft
from mu_registry.api.model import TaskSpec
from mu_registry.protocols.model_cache import model_identity
from mu_registry.util.paths import cache_dir
from mu_registry.util.progress import stage
from mu_registry.api.qa import EncodedQA
from mu_registry.evaluation.engines import EvalEngine, make_engine
from mu_registry.api.judge import Grade, contains_reference
from mu_registry.evaluation.judging import describe_judge
from mu_registry.evaluation.generative import answer_sets, choice_correct, grade_sets, one_shot_sets
from mu_registry.data.generative import QATaskData, concat_splits, build_qa_task
from mu_registry.registry.task_index import LoadedTask
from mu_registry.protocols.base import MethodRun, Protocol, RunSetup
from mu_registry.protocols.record import RunRecord
from mu_registry.evaluation.engines import vllm_problem
from mu_registry.evaluation.benchmarks.lmms_eval import require_lmms
import mu_registry.evaluation.benchmarks.lm_eval as general_benchmarks
import mu_registry.evaluation.benchmarks.lmms_eval as lmms_benchmarks

log = logging.getLogger("mu_registry")


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a checkpoint must hold: the adapters of a peft model and any other weight that trains (a
    projector), else every weight (after a merged request)."""
    state = model.state_dict()
    if is_peft(model):
        training = {name for name, param in model.named_parameters() if param.requires_grad}
        return {k: v.detach().cpu().clone() for k, v in state.items() if "lora_" in k or k in training}
    return {k: v.detach().cpu().clone() for k, v in state.items()}


class LifelongProtocol(Protocol):
    task_type = "generation"
    method_base = GenerativeMethod

    def __init__(self, setup: RunSetup, record: RunRecord, loaded: LoadedTask, seed: int):
        super().__init__(setup, record, loaded, seed)
        reg = setup.registry
        # answers keyed by the weights that gave them (see answer_cache): the original's are reused across runs
        self.answers = AnswerCache(cache_dir() / "answers") if setup.config.use_cache else None
        self.engine: EvalEngine | None = None
        self._one_shot: dict[str, tuple[EncodedQA, EncodedQA]] = {}  # set name -> (set, its one-shot form)
        judge_factory = reg.judge(self.cfg.generation.judge, context=f"{loaded.path}: generation.judge")
        try:
            self.judge = judge_factory(**self.cfg.generation.judge_args)
        except TypeError as exc:
            raise MuError(f"{loaded.path}: generation.judge_args: {exc}") from None

    # ------------------------------------------------------------ stages
    def load_data(self) -> None:
        self.data = build_qa_task(self.loaded, self.setup.registry, limit=self.setup.config.limit)

    def build_model(self) -> None:
        cfg, loaded, setup = self.cfg, self.loaded, self.setup
        self.model_name, self.model_args = setup.model_for(cfg)
        model_name = self.model_name
        adapter = setup.registry.model(model_name)(**self.model_args)
        if not isinstance(adapter, GenerativeModel):
            raise MuError(f"{loaded.path}: model '{model_name}' is not a generative model (task_type: generation)")
        self.adapter = adapter
        self.spec = TaskSpec(name=loaded.name, modality=cfg.modality, num_classes=0, input_columns=cfg.columns.inputs,
                             label_column=cfg.columns.label, input_shapes={}, unit_column=cfg.columns.unit,
                             form_column=cfg.columns.form, options_column=cfg.columns.options,
                             choice_scoring=cfg.generation.choice_scoring)
        if cfg.generation.one_shot and not adapter.takes_one_shot():  # fail before any training
            raise MuError(f"{loaded.path}: generation.one_shot: model '{model_name}' cannot put an example before "
                          "a question (its plugin has no tokenize_prompt_after)")
        if (setup.config.engine or cfg.generation.engine) == "vllm":  # fail before any training
            problem = vllm_problem()
            if problem == "needs a CUDA GPU":
                raise MuError(f"{loaded.path}: engine vllm needs a CUDA GPU and `pip install 'mu-registry[vllm]'`")
            if problem is not None:
                raise MuError(f"{loaded.path}: engine vllm: {problem}")
        if cfg.lmms_benchmarks is not None:  # fail before any training without lmms-eval
            try:
                require_lmms()
            except MuError as exc:
                raise MuError(f"{loaded.path}: {exc}") from None
        if cfg.general_benchmarks is not None:  # fail before any training if lm-eval cannot take this model
            try:
                general_benchmarks.require_lm_eval()
                general_benchmarks.hf_tokenizer(adapter)
            except MuError as exc:
                raise MuError(f"{loaded.path}: {exc}") from None

    def references(self) -> torch.nn.Module:
        """The original model (PULSE's two phases where the task has them), trained or loaded from the cache,
        evaluated on every set and recorded; with ``lifelong.select_known``, the entities it knows best become
        the task's."""
        cfg, loaded, setup, adapter, spec = self.cfg, self.loaded, self.setup, self.adapter, self.spec
        data, model_name = self.data, self.model_name
        original = self._original(adapter, spec, data, model_name)
        for p in original.module.parameters():
            p.requires_grad_(False)
        original.module.to(self.device).eval()
        known = None
        if cfg.lifelong.select_known:
            known = self._best_known(adapter, spec, original.module, data, cfg.lifelong.select_known)
            data = build_qa_task(loaded, setup.registry, units=known, limit=setup.config.limit)
        task_rec = self._task_record(data, model_name)
        if known is not None:
            task_rec["known_units"] = known
        seed_rec = task_rec["seeds"].setdefault(str(self.seed), {"methods": {}})
        sets = {name: adapter.encode(split, spec) for name, split in data.eval_sets().items()}
        if "metrics" not in seed_rec.get("original", {}):
            stage("%s: original: evaluating %d sets (%d rows)", loaded.name, len(sets), sum(map(len, sets.values())))
            t0 = time.perf_counter()
            metrics = self._evaluate(adapter, original.module, sets, None, "original", 0)
            seed_rec["original"] = {"train_time_s": original.train_time_s, "cached": original.cached,
                                    "cache_key": original.key, "eval_time_s": time.perf_counter() - t0,
                                    "metrics": metrics,
                                    "summary": summarize(metrics, data, len(data.requests) - 1)}
            self._benchmark(adapter, original.module, None, seed_rec["original"])
            self.record.save()
        self.data, self.sets, self.seed_record, self.original = data, sets, seed_rec, original.module
        return original.module

    def method_run(self, method_name: str) -> MethodRun:
        return LifelongMethodRun(self, method_name, self.adapter, self.data, self.sets, self.original)

    def _task_record(self, data: QATaskData, model_name: str) -> dict[str, Any]:
        rec = self.record.task(self.loaded, data.train.fingerprint())
        rec.update({
            "task_type": "generation",
            "config": self.cfg.model_dump(mode="json"),
            "source": str(self.loaded.path), "plugin": self.loaded.source, "content_hash": self.loaded.hash,
            "data_fingerprint": data.train.fingerprint(), "model": model_name,
            # how multiple choice was scored (MLLMU-Bench's generated letter, or option likelihood)
            "choice_scoring": self.cfg.generation.choice_scoring if self.cfg.generation.mode == "choice" else None,
            "requests": [{"index": r.index, "name": r.name, "forget_units": r.forget_units,
                          "sizes": {"forget": len(r.forget), "retain": len(r.retain),
                                    "paraphrase": len(r.paraphrase) if r.paraphrase is not None else 0}}
                         for r in data.requests],
            "sizes": {"train": len(data.train), **{k: len(v) for k, v in data.eval_sets().items()}},
        })
        rec.setdefault("seeds", {})
        return rec

    def _original(self, adapter: GenerativeModel, spec: TaskSpec, data: QATaskData, model_name: str):
        cfg, setup, seed = self.cfg, self.setup, self.seed
        parts = {"model": model_name, "adapter": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
                 "code": model_identity(setup.registry, model_name, adapter),
                 "args": self.model_args, "train": cfg.model.train.model_dump(),
                 "finetune": cfg.model.finetune.model_dump() if cfg.model.finetune else None,
                 "finetune_replay": cfg.model.finetune_replay,
                 "data": data.train.fingerprint(), "phases": sorted(data.phases), "seed": seed, "kind": "original",
                 "limit": setup.config.limit}

        def train():
            torch.manual_seed(seed)
            module = adapter.build(spec, seed)
            if cfg.model.train.epochs > 0:  # epochs 0: a pretrained model, whose knowledge is already in
                first = data.phases["pretrain"] if data.phases else data.train
                module = adapter.fit(module, adapter.encode(first, spec), cfg.model.train, seed=seed,
                                     device=self.device, desc=f"{self.loaded.name}: original")
            later = data.phases["finetune"] if data.phases else data.train
            if data.phases and cfg.model.finetune_replay > 0:
                import numpy as np

                old = data.phases["pretrain"]
                pick = np.random.default_rng(seed).permutation(len(old))[:int(len(old) * cfg.model.finetune_replay)]
                later = concat_splits([later, old.take(np.sort(pick))], "finetune")
            if cfg.model.finetune is not None and len(later):
                # PULSE's fine-tuned knowledge: a LoRA fine-tune (the finetune phase's rows, or every
                # training row when the task has no phases), merged into the weights
                lora = adapter.add_lora(module, "finetune", r=32, alpha=32, dropout=0.0)
                lora = adapter.fit(lora, adapter.encode(later, spec), cfg.model.finetune, seed=seed,
                                   device=self.device, desc=f"{self.loaded.name}: fine-tune")
                module = lora.merge_and_unload()
                for p in module.parameters():
                    p.requires_grad_(True)
            return module

        return setup.cache.get_or_train(parts, train=train, save=adapter.save,
                                        load=lambda p: adapter.load(spec, p, seed))

    def _best_known(self, adapter: GenerativeModel, spec: TaskSpec, model: torch.nn.Module, data: QATaskData,
                    top: int) -> list[str]:
        """The ``top`` entities whose training rows the original model answers most accurately (ties: by
        name, so the choice is deterministic)."""
        import numpy as np

        train = {"train": adapter.encode(data.train, spec)}
        got = answer_sets(self._engine(adapter, model), model, train, route=None,
                          max_new_tokens=self.cfg.generation.max_new_tokens, mode=self.cfg.generation.mode,
                          choice_scoring=self.cfg.generation.choice_scoring,
                          stop=tuple(self.cfg.generation.stop))
        enc = train["train"]
        gen = self.cfg.generation
        rows = enumerate(zip(got["train"].answers, enc.answer_texts, enc.questions))
        correct = np.asarray([choice_correct(a, enc.options[i], r, gen.choice_scoring) if gen.mode == "choice"
                              else _correct(a, r, self.judge, q, gen.mode) for i, (a, r, q) in rows])
        units = np.asarray(enc.units)
        scores = {u: float(correct[units == u].mean()) for u in dict.fromkeys(enc.units)}
        # under --limit some entities have no training row left: ranked after every scored one
        scores.update({u: -1.0 for u in data.all_units if u not in scores})
        return sorted(scores, key=lambda u: (-scores[u], u))[:top]

    # ------------------------------------------------------------ evaluation
    def _engine(self, adapter: GenerativeModel, model: torch.nn.Module) -> EvalEngine:
        """One engine for the whole run (a vLLM engine stays loaded); it is told the current weights at
        every evaluation."""
        if self.engine is None:
            gen = self.cfg.generation
            kind = self.setup.config.engine or gen.engine
            self.engine = make_engine(kind, adapter, model, device=self.device, batch_size=self.cfg.eval_batch_size,
                                      engine_args=gen.engine_args)
        return self.engine

    def _evaluate(self, adapter: GenerativeModel, model: torch.nn.Module, sets: dict[str, EncodedQA],
                  method: GenerativeMethod | None, who: str, index: int) -> dict[str, Any]:
        gen = self.cfg.generation
        if gen.one_shot:  # MLLMU-Bench eval.py's example before every question; its entity's rows left out
            sets = one_shot_sets(adapter, sets, gen.seed, self._one_shot)
        answers = answer_sets(self._engine(adapter, model), model, sets,
                              route=method.route if method is not None else None, max_new_tokens=gen.max_new_tokens,
                              mode=gen.mode, cache=self.answers, stop=tuple(gen.stop),
                              choice_scoring=gen.choice_scoring, sampling=gen.sampling())
        per_row: dict[str, list[Any]] = {}
        graded = grade_sets(sets, answers, self.judge if gen.mode == "generate" else None, gen.choice_scoring,
                            rows=per_row)
        self._write_answers(sets, answers, per_row, who, index)
        # the judge that gave the rubric scores (model, endpoint, prompt version, tokens so far)
        self.record.results["tasks"][self.loaded.name]["judge"] = describe_judge(self.judge, gen.judge)
        return graded

    def _benchmark(self, adapter: GenerativeModel, model: torch.nn.Module, method: GenerativeMethod | None,
                   record: dict[str, Any]) -> None:
        """lm-eval's general-capability benchmarks on ``model`` into ``record["benchmarks"]``, and their
        mean primary score into the summary as ``general_benchmark``. A routing method (LUMoE) is measured
        with every adapter off: what it answers for a query its router sends to no expert (how often the
        router wrongly picks an expert is what the ``general`` set measures)."""
        self._lmms_benchmark(adapter, model, method, record)
        bench = self.cfg.general_benchmarks
        if bench is None:
            return
        import contextlib

        import numpy as np

        t0 = time.perf_counter()
        base = self.loaded.path.parent
        routed = method is not None and type(method).route is not GenerativeMethod.route
        scope = model.disable_adapter() if routed and is_peft(model) else contextlib.nullcontext()
        with scope:
            results = general_benchmarks.run(adapter, model, bench.tasks,
                                             include_paths=[base / p for p in bench.include_path],
                                             num_fewshot=bench.num_fewshot, limit=bench.limit,
                                             batch_size=bench.batch_size, seed=self.seed)
        record["benchmarks"] = results
        record["benchmark_time_s"] = time.perf_counter() - t0
        primary = [next((m[k] for k in ("acc", "exact_match", "acc_norm") if k in m), next(iter(m.values()), None))
                   for m in results.values() if m]
        if primary:
            record.setdefault("summary", {})["general_benchmark"] = float(np.mean(primary))

    def _lmms_benchmark(self, adapter: GenerativeModel, model: torch.nn.Module, method: GenerativeMethod | None,
                        record: dict[str, Any]) -> None:
        """lmms-eval's benchmarks (MMBench) on ``model`` into ``record["lmms_benchmarks"]``; their mean
        score as ``summary.lmms_general`` and MMBench's as ``summary.mmbench``. A routing method (LUMoE) is
        measured with every adapter off, as for lm-eval's benchmarks."""
        bench = self.cfg.lmms_benchmarks
        if bench is None:
            return
        import numpy as np

        t0 = time.perf_counter()
        routed = method is not None and type(method).route is not GenerativeMethod.route
        engine = self._engine(adapter, model)
        engine.sync(model)
        results = lmms_benchmarks.run(engine, adapter, model, bench.tasks, limit=bench.limit,
                                      include_paths=[self.loaded.path.parent / p for p in bench.include_path],
                                      max_new_tokens=bench.max_new_tokens, seed=self.seed,
                                      route=None if routed else "active")
        record["lmms_benchmarks"] = results
        record["lmms_benchmark_time_s"] = time.perf_counter() - t0
        scores = {t: lmms_benchmarks.primary(m) for t, m in results.items()}
        summary = record.setdefault("summary", {})
        if any(v is not None for v in scores.values()):
            summary["lmms_general"] = float(np.mean([v for v in scores.values() if v is not None]))
        mmbench = [v for t, v in scores.items() if v is not None and "mmbench" in t]
        if mmbench:
            summary["mmbench"] = float(np.mean(mmbench))

    def _write_answers(self, sets, answers, grades: dict[str, list[Any]], who: str, index: int) -> None:
        """Every answer of this evaluation with its grade and the rule (the judge's ``why``) that gave it:
        what ``mu-eval report --answers`` shows."""
        import json

        lines = []
        for name, data in sets.items():
            got = answers[name]
            for i in range(len(data)):
                row = {"set": name, "id": int(data.ids[i]), "unit": data.units[i], "form": data.forms[i],
                       "question": data.questions[i], "reference": data.answer_texts[i], "answer": got.answers[i],
                       "route": got.routes[i] if got.routes is not None else None}
                grade = grades[name][i]
                if isinstance(grade, Grade):
                    row.update({"forget": grade.forget, "utility": grade.utility, "rule": grade.why})
                else:
                    row["correct"] = bool(grade)
                lines.append(json.dumps(row))
        path = (self.record.run_dir / "answers" / self.loaded.name / f"seed{self.seed}" / f"{who}"
                / f"request{index}.jsonl")
        atomic_write_text(path, "\n".join(lines) + "\n")


class LifelongMethodRun(MethodRun):
    """A method over the stream of requests: every set evaluated after each request."""

    def __init__(self, protocol: LifelongProtocol, method_name: str, adapter: GenerativeModel, data: QATaskData,
                 sets: dict[str, EncodedQA], original: torch.nn.Module):
        self.p, self.method_name, self.adapter, self.data, self.sets = protocol, method_name, adapter, data, sets
        self.original = original
        self.requests = data.requests
        self.stream = tuple(RequestSets(r.index, r.name, sets[f"forget_{r.name}"], sets[f"retain_{r.name}"])
                            for r in data.requests)

    def start(self, method, model, state):
        torch.manual_seed(self.p.seed * 1000 + 999)  # adapter initialisation
        if state is None:
            return method.prepare(model, self.adapter)
        model = method.restore(model, self.adapter, state["method_state"])
        missing, unexpected = model.load_state_dict(state["weights"], strict=False)
        if unexpected:
            raise MuError(f"cannot resume {self.p.loaded.name}/{self.method_name}: checkpoint weights do not fit "
                          f"the model ({unexpected[0]} ...)")
        return model

    def context(self, method, model, req):
        return QAContext(model=model, original=self.original, forget=self.sets[f"forget_{req.name}"],
                         retain=self.sets[f"retain_{req.name}"], adapter=self.adapter, request_index=req.index,
                         seed=self.p.seed, device=self.p.device, stream=self.stream)

    def measure(self, method, model, req, ctx, started):
        elapsed = time.perf_counter() - started
        t1 = time.perf_counter()
        metrics = self.p._evaluate(self.adapter, model, self.sets, method, self.method_name, req.index)
        eval_time = time.perf_counter() - t1
        row = {"index": req.index, "name": req.name, "time_s": elapsed, "eval_time_s": eval_time,
               "metrics": metrics, "summary": summarize(metrics, self.data, req.index)}
        self.p._benchmark(self.adapter, model, method, row)
        return row

    def checkpoint(self, method, model, req):
        return {"weights": trainable_state(model), "method_state": method.state()}


def _correct(answer: str, reference: str, judge, question: str, mode: str) -> bool:
    if mode == "choice":
        return answer == reference
    return contains_reference(reference, answer)  # the accuracy test; no judge is paid for it


def summarize(metrics: dict[str, Any], data: QATaskData, index: int) -> dict[str, float]:
    """Averages after request ``index``: over the forget sets forgotten so far (and their paraphrases),
    over every retain set, and the general set."""
    import numpy as np

    def mean(names: list[str], key: str) -> float | None:
        vals = [metrics[n][key] for n in names if n in metrics and key in metrics[n]]
        return float(np.mean(vals)) if vals else None

    done = [r.name for r in data.requests[:index + 1]]
    forget = [f"forget_{n}" for n in done]
    para = [f"paraphrase_{n}" for n in done]
    retain = [f"retain_{r.name}" for r in data.requests]
    out = {"forget_accuracy": mean(forget, "accuracy"), "forget_quality": mean(forget, "forget_quality"),
           "paraphrase_accuracy": mean(para, "accuracy"), "paraphrase_forget_quality": mean(para, "forget_quality"),
           "retain_accuracy": mean(retain, "accuracy"), "retain_utility": mean(retain, "utility"),
           "general_accuracy": mean(["general"], "accuracy"), "general_utility": mean(["general"], "utility")}
    for form in ("multimodal", "text"):  # PULSE reports D_unlearn accuracy per probe form
        vals = [metrics[n]["by_form"][form]["accuracy"] for n in forget
                if form in metrics.get(n, {}).get("by_form", {}) and "accuracy" in metrics[n]["by_form"][form]]
        out[f"forget_accuracy_{form}"] = float(np.mean(vals)) if vals else None
    return {k: v for k, v in out.items() if v is not None}
