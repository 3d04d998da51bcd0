"""General-capability benchmarks after every request: lm-evaluation-harness and lmms-eval."""
