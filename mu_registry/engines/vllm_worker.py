"""Runs inside vLLM's worker processes (``worker_extension_cls``): loads new base weights into the
running model, so a method that changed full weights does not cost a new engine."""

from __future__ import annotations

from pathlib import Path


class WeightLoader:
    """Mixed into vLLM's GPU worker; ``self.model_runner.model`` is the served model."""

    def mu_load_weights(self, folder: str) -> int:
        from safetensors.torch import load_file

        loaded = 0
        for path in sorted(Path(folder).glob("*.safetensors")):
            weights = load_file(str(path), device="cpu")
            self.model_runner.model.load_weights(weights=weights.items())  # type: ignore[attr-defined]
            loaded += len(weights)
        return loaded
