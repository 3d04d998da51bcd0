"""Two processes with the gloo backend (what `torchrun`/`accelerate launch` set up, on CPU): evaluation
rows are split and gathered, the second process is given rank 0's weights first, and only rank 0 writes;
the answers equal one process's."""

from __future__ import annotations

import dataclasses
import pickle
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

pytest.importorskip("transformers")
pytest.importorskip("peft")


def _data_and_model():
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.datasets.entity_world import entity_world
    from mu_registry_plugins.models.tiny_llava import TinyLlava

    adapter = TinyLlava()
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    split = entity_world(entities=9, images_per_entity=1, paraphrases=2, seed=0)["train"]
    data = adapter.encode(split.take(range(11)), spec)
    options = [[a, "nobody", "somewhere else"][: 2 + i % 2] for i, a in enumerate(data.answer_texts)]
    return adapter, dataclasses.replace(data, options=options), adapter.build(spec, 0).eval()


def _answers(engine, data):
    return {"nll": engine.loglikelihood(data), "choice": engine.choice_scores(data),
            "text": engine.generate(data, max_new_tokens=5)}


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import mu_registry.evaluation.distributed as distributed
    from mu_registry.util.atomic import atomic_write_text
    from mu_registry.evaluation.engines import TransformersEngine

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        adapter, data, model = _data_and_model()
        if rank == 1:  # a process whose weights drifted: sync must replace them with rank 0's
            with torch.no_grad():
                model.lm_head.weight.add_(1.0)
        engine = TransformersEngine(adapter, model, device=torch.device("cpu"), batch_size=3)
        synced = engine._weight_sync(model)
        got = _answers(engine, data)
        got["synced"] = synced
        got["shard"] = distributed.shard(len(data)).tolist()
        atomic_write_text(f"{out_dir}/written-by-{rank}.txt", "x")
        with open(f"{out_dir}/rank{rank}.pkl", "wb") as fh:
            pickle.dump(got, fh)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_split_rows_share_rank0_weights_and_match_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in (0, 1)]
    assert ranks[0]["shard"] == [0, 2, 4, 6, 8, 10] and ranks[1]["shard"] == [1, 3, 5, 7, 9]
    assert ranks[0]["synced"] > 0  # the drifted tensor (and every tensor, on the first call) was broadcast
    assert (tmp_path / "written-by-0.txt").exists() and not (tmp_path / "written-by-1.txt").exists()

    from mu_registry.evaluation.engines import TransformersEngine

    adapter, data, model = _data_and_model()
    single = _answers(TransformersEngine(adapter, model, device=torch.device("cpu"), batch_size=3), data)
    for got in ranks:
        np.testing.assert_allclose(got["nll"], single["nll"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["choice"], single["choice"], rtol=1e-5, atol=1e-5)
        assert got["text"] == single["text"]
