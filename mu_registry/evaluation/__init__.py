"""Evaluation: engines (class scores, option likelihoods, generation; transformers, vLLM), answer cache,
judges' plumbing, best-epoch selection, general-capability benchmarks (lm-eval, lmms-eval)."""
