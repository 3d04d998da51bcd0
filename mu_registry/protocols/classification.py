"""The classification protocol (MU-Bench's): for one task and seed, train the original on every
training row and, per request, a retrain reference on what is kept (both cached); evaluate the original,
the retrain and a randomly initialised model on the request's sets; then each method unlearns the
requests in order and is scored by the task's metrics against those references."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mu_registry.api.data import Split, TaskData
from mu_registry.api.method import UnlearnContext
from mu_registry.api.metric import MetricContext, SetOutputs
from mu_registry.api.model import EncodedSplit, Model, TaskSpec
from mu_registry.data.classification import build_task
from mu_registry.evaluation.best_epoch import selector_for
from mu_registry.evaluation.engines.classify import evaluate_sets
from mu_registry.protocols.base import MethodRun, Protocol
from mu_registry.protocols.model_cache import model_identity
from mu_registry.protocols.record import MetricFailed
from mu_registry.training.random_init import reinitialize
from mu_registry.util.errors import MuError
from mu_registry.util.progress import stage

RANDOM_INIT_SEED_OFFSET = 7_777_777  # the untrained reference model's seed, apart from the run's


@dataclass
class References:
    """Outputs of the reference models on one request's evaluation sets."""

    original: dict[str, SetOutputs]
    retrain: dict[str, SetOutputs]
    random_init: dict[str, SetOutputs]


class ClassificationProtocol(Protocol):
    task_type = "classification"

    def load_data(self) -> None:
        self.data = build_task(self.loaded, self.setup.registry, limit=self.setup.config.limit)

    def build_model(self) -> None:
        cfg, data, setup = self.cfg, self.data, self.setup
        self.model_name, self.model_args = setup.model_for(cfg)
        self.adapter: Model = setup.registry.model(self.model_name)(**self.model_args)
        first = data.train.take([0])
        self.spec = TaskSpec(name=self.loaded.name, modality=cfg.modality, num_classes=data.num_classes,
                             input_columns=data.input_columns, label_column=data.label_column,
                             input_shapes={c: tuple(np.asarray(first.columns[c][0]).shape)
                                           for c in data.input_columns})
        task_rec = self._task_record(data, self.model_name)
        self.seed_record = task_rec["seeds"].setdefault(str(self.seed), {"methods": {}})
        self.enc = Encoder(self.adapter, self.spec, data)

    def references(self) -> torch.nn.Module:
        """The original (every training row), per request a retrain (what is kept) and a randomly initialised
        model; each evaluated on the request's sets and scored by the task's metrics."""
        cfg, loaded, seed, setup = self.cfg, self.loaded, self.seed, self.setup
        data, adapter, spec, enc, seed_rec = self.data, self.adapter, self.spec, self.enc, self.seed_record
        base_parts = {"model": self.model_name,
                      "adapter": f"{type(adapter).__module__}.{type(adapter).__qualname__}",
                      "code": model_identity(setup.registry, self.model_name, adapter),
                      "args": self.model_args,
                      "train": cfg.model.train.model_dump(),
                      # the training data itself, not the task: a sweep over forget sets reuses the original
                      "data": data.train.fingerprint(), "limit": setup.config.limit, "seed": seed}

        def train_reference(kind: str, split: Split) -> Any:
            parts = {**base_parts, "kind": kind, "train_ids": ids_digest(split.ids)}
            encoded = enc(split)

            def train():
                torch.manual_seed(seed)
                module = adapter.build(spec, seed)
                return adapter.fit(module, encoded, cfg.model.train, seed=seed, device=self.device,
                                   desc=f"{loaded.name}: {kind}")
            trained = setup.cache.get_or_train(parts, train=train, save=adapter.save,
                                               load=lambda p: adapter.load(spec, p, seed))
            trained.module.to(self.device).eval()
            return trained

        original = train_reference("original", data.train)
        for p in original.module.parameters():
            p.requires_grad_(False)
        seed_rec["original"] = {"train_time_s": original.train_time_s, "cached": original.cached,
                                "cache_key": original.key, "train_threads": original.train_threads,
                                "requests": []}
        seed_rec.setdefault("retrain", {"requests": []})
        eval_bs = cfg.eval_batch_size
        torch.manual_seed(seed + RANDOM_INIT_SEED_OFFSET)
        random_init = reinitialize(adapter.build(spec, seed + RANDOM_INIT_SEED_OFFSET),
                                   seed + RANDOM_INIT_SEED_OFFSET).to(self.device).eval()
        self.refs: list[References] = []
        for req in data.requests:
            stage("%s: references for request %d of %d: retrain, then evaluating original, retrain and random init",
                  loaded.name, req.index + 1, len(data.requests))
            retrain = train_reference(f"retrain-{req.index}", req.retain)
            sets = {k: enc(v) for k, v in data.eval_sets(req.index).items()}
            refs = References(
                original=evaluate_sets(adapter, original.module, sets, batch_size=eval_bs, device=self.device),
                retrain=evaluate_sets(adapter, retrain.module, sets, batch_size=eval_bs, device=self.device),
                random_init=evaluate_sets(adapter, random_init, sets, batch_size=eval_bs, device=self.device))
            self.refs.append(refs)
            set_request(seed_rec["original"]["requests"], req.index, {
                "index": req.index,
                "metrics": self.metrics(refs.original, refs, data, req.index, method="original")})
            set_request(seed_rec["retrain"]["requests"], req.index, {
                "index": req.index, "train_time_s": retrain.train_time_s, "cached": retrain.cached,
                "cache_key": retrain.key, "train_threads": retrain.train_threads,
                "metrics": self.metrics(refs.retrain, refs, data, req.index, method="retrain")})
            del retrain
        self.record.save()
        self.original = original.module
        return original.module

    def method_run(self, method_name: str) -> MethodRun:
        return ClassificationMethodRun(self, method_name, self.data, self.adapter, self.spec, self.enc,
                                       self.original, self.refs, self.seed_record)

    def _task_record(self, data: TaskData, model_name: str) -> dict[str, Any]:
        loaded = self.loaded
        rec = self.record.task(loaded, data.train.fingerprint())
        rec.update({
            "config": loaded.config.model_dump(mode="json"),
            "source": str(loaded.path),
            "plugin": loaded.source,
            "content_hash": loaded.hash,
            "data_fingerprint": data.train.fingerprint(),
            "model": model_name,
            "num_classes": data.num_classes,
            "sizes": {"train": len(data.train), "test": len(data.test),
                      "forget": len(data.forget), "retain": len(data.retain),
                      "requests": [len(r.forget) for r in data.requests],
                      **{k: len(v) for k, v in data.extra.items()}},
        })
        rec.setdefault("seeds", {})
        return rec

    def metrics(self, outputs: dict[str, SetOutputs], refs: References, data: TaskData, index: int,
                method: str | None = None) -> dict[str, Any]:
        """The task's metrics of one model's outputs, against the references of request ``index``."""
        ctx = MetricContext(outputs=outputs, original=refs.original, retrain=refs.retrain,
                            num_classes=data.num_classes, request_index=index, random_init=refs.random_init,
                            method=method, task=self.cfg.model_dump(mode="json"))
        out: dict[str, Any] = {}
        for name in self.cfg.metrics:
            try:
                value = self.setup.registry.metric(name)(ctx)
            except MuError:
                raise
            except Exception as exc:  # noqa: BLE001 - named, then recorded as the method's failure
                raise MetricFailed(name, exc) from exc
            out[name] = clean(value)
        return out


class ClassificationMethodRun(MethodRun):
    def __init__(self, protocol: ClassificationProtocol, method_name: str, data: TaskData, adapter: Model,
                 spec: TaskSpec, enc: Encoder, original: torch.nn.Module, references: list[References],
                 seed_rec: dict[str, Any]):
        self.p, self.method_name, self.data, self.adapter, self.spec = protocol, method_name, data, adapter, spec
        self.enc, self.original, self.references, self.seed_rec = enc, original, references, seed_rec
        self.requests = data.requests

    def start(self, method, model, state):
        if state is not None:
            model.load_state_dict(state["model"])
        return model

    def context(self, method, model, req):
        p, cfg, enc, adapter = self.p, self.p.cfg, self.enc, self.adapter
        ctx = UnlearnContext(model=model, original=self.original, forget=enc(req.forget), retain=enc(req.retain),
                             adapter=adapter, num_classes=self.data.num_classes, request_index=req.index,
                             seed=p.seed, device=p.device, spec=self.spec, train=cfg.model.train,
                             build_fresh=lambda s: adapter.build(self.spec, s))
        ctx.epoch_end = selector_for(
            cfg, registry=p.setup.registry, method=self.method_name, num_classes=self.data.num_classes,
            sets={k: enc(v) for k, v in self.data.eval_sets(req.index).items()},
            original=self.references[req.index].original,
            evaluate=lambda m, s: evaluate_sets(adapter, m, s, batch_size=cfg.eval_batch_size, device=p.device))
        return ctx

    def before_unlearn(self, model):
        model.train()

    def measure(self, method, model, req, ctx, started):
        p, cfg = self.p, self.p.cfg
        best = ctx.epoch_end.finish(model) if ctx.epoch_end is not None else None  # MU-Bench's best epoch
        elapsed = time.perf_counter() - started - (best["selection_time_s"] if best else 0.0)
        model.eval()
        sets = {k: self.enc(v) for k, v in self.data.eval_sets(req.index).items()}
        outputs = evaluate_sets(self.adapter, model, sets, batch_size=cfg.eval_batch_size, device=p.device)
        metrics = p.metrics(outputs, self.references[req.index], self.data, req.index, method=self.method_name)
        retrain_time = self.seed_rec["retrain"]["requests"][req.index]["train_time_s"]
        return {"index": req.index, "time_s": elapsed,
                "speedup_vs_retrain": retrain_time / elapsed if elapsed > 0 else None,
                "metrics": metrics, **({"best_epoch": best} if best else {})}

    def checkpoint(self, method, model, req):
        return {"model": model.state_dict()}


class Encoder:
    """Encodes each distinct split once (by content), so request subsets reuse the tensors."""

    def __init__(self, adapter: Model, spec: TaskSpec, data: TaskData):
        self.adapter, self.spec = adapter, spec
        self._train = adapter.encode(data.train, spec)
        self._pos = {int(i): p for p, i in enumerate(data.train.ids)}
        self._memo: dict[tuple[str, int, str], EncodedSplit] = {}

    def __call__(self, split: Split) -> EncodedSplit:
        key = (split.name, len(split), ids_digest(split.ids))
        if key in self._memo:
            return self._memo[key]
        if split.name in ("train", "retain") or split.name.startswith("forget"):  # subsets of train
            pos = torch.as_tensor([self._pos[int(i)] for i in split.ids], dtype=torch.long)
            enc = EncodedSplit(split.name, {k: v.index_select(0, pos) for k, v in self._train.inputs.items()},
                               self._train.labels.index_select(0, pos), split.ids)
        else:
            enc = self.adapter.encode(split, self.spec)
        self._memo[key] = enc
        return enc


def ids_digest(ids: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes()).hexdigest()[:16]


def set_request(rows: list[dict[str, Any]], index: int, row: dict[str, Any]) -> None:
    while len(rows) <= index:
        rows.append({})
    rows[index] = row


def clean(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, nan as None."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, np.integer):
        return int(value)
    return value
