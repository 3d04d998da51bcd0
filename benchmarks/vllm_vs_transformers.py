"""On a GPU: the vLLM engine with adapter swapping against the transformers engine, on the same requests.

A lifelong run in miniature: R unlearning requests, each leaving a new LoRA adapter (random weights
here: the cost of evaluation does not depend on what the adapter learned); after each, every question is
answered greedily by both engines. Prints questions per second for each, the ratio (goal: at least 5x),
the mean time of one adapter swap, and how many times vLLM started or reloaded weights (goal: started
once, never reloaded).

    python benchmarks/vllm_vs_transformers.py --pretrained llava-hf/llava-1.5-7b-hf [--requests 5]

``--pretrained`` is any Hugging Face LLaVA or causal LM (a Hub id, or a local folder on a machine without
network). Needs a CUDA GPU and ``pip install 'mu-registry[vllm]'``; elsewhere it says so and exits.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrained", required=True)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--questions", type=int, default=480)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=32, help="transformers engine batch size")
    args = ap.parse_args()

    from mu_registry.evaluation.engines import TransformersEngine, vllm_available
    if not vllm_available():
        print("needs a CUDA GPU and vLLM (pip install 'mu-registry[vllm]'): not run")
        sys.exit(0)
    from mu_registry.evaluation.engines.vllm_engine import VLLMEngine
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.datasets.world_facts import world_facts
    from mu_registry_plugins.models.hf_llava import HFLlava

    adapter = HFLlava(pretrained=args.pretrained)
    spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    split = world_facts(train_paraphrases=3)["train"]
    text_rows = [i for i, f in enumerate(split.columns["form"]) if f == "text"][:args.questions]
    data = adapter.encode(split.take(text_rows), spec)
    cuda = torch.device("cuda")
    model = adapter.build(spec, 0).to(cuda).eval()
    hf = TransformersEngine(adapter, model, device=cuda, batch_size=args.batch_size)
    fast = VLLMEngine(adapter, model, device=cuda, gpu_memory_utilization=0.45)
    fast.sync(model)
    fast.generate(data.take(range(8)), max_new_tokens=4)  # warm-up: CUDA graphs, first compile

    t_hf = t_fast = 0.0
    agree = []
    for k in range(args.requests):
        model = adapter.add_lora(model, f"request{k}", r=32, alpha=32, dropout=0.0)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if f"request{k}" in name and "lora_B" in name:
                    p.normal_(0, 1e-3)
        start = time.perf_counter()
        fast.sync(model)
        ours = fast.generate(data, max_new_tokens=args.max_new_tokens)
        t_fast += time.perf_counter() - start
        start = time.perf_counter()
        hf.sync(model)
        ref = hf.generate(data, max_new_tokens=args.max_new_tokens)
        t_hf += time.perf_counter() - start
        agree.append(np.mean([a == b for a, b in zip(ours, ref)]))
    n = len(data) * args.requests
    print(f"{len(data)} questions x {args.requests} requests, {args.pretrained}, {torch.cuda.get_device_name()}")
    print(f"transformers {n / t_hf:8.1f} q/s   vllm {n / t_fast:8.1f} q/s   ratio {t_hf / t_fast:.2f}x")
    info = fast.describe()
    print(f"vllm: started {info['starts']}x, weight reloads {info['weight_reloads']}, adapters added "
          f"{info['adapters_added']}, mean swap {info['mean_swap_s']:.3f} s; identical greedy answers "
          f"{np.mean(agree):.3f}")


if __name__ == "__main__":
    main()
