"""Loading a task's data from a Hugging Face dataset (needs ``pip install mu-registry[hf]``).

Used when a task YAML sets ``dataset.path``. With network, ``path`` is a Hub id
(``uoft-cs/cifar100``); offline, the packaged builders (``csv``, ``json``,
``parquet``) with local ``data_files`` go through the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mu_registry.api.data import Split
from mu_registry.util.errors import ConfigError, MuError
from mu_registry.util.paths import expand_path
from mu_registry.config.task import ColumnsConfig, DatasetConfig
from mu_registry.util.progress import enabled as progress_enabled


def _column(values: list[Any]) -> Any:
    if values and all(isinstance(v, (int, float, bool, np.integer, np.floating)) for v in values):
        return np.asarray(values)
    return values


def has_torchcodec() -> bool:
    """Whether ``datasets`` can decode audio/video itself (torchcodec does not load beside CPU torch)."""
    try:
        import torchcodec  # noqa: F401  (only whether it loads)
    except Exception:  # ImportError, or its native library failing to load
        return False
    return True


def decode_audio(item: dict[str, Any], sampling_rate: int | None) -> np.ndarray:
    """One undecoded ``Audio`` cell (``{"bytes", "path"}``) as float32 mono at ``sampling_rate``, via soundfile."""
    import io

    import soundfile as sf

    src = io.BytesIO(item["bytes"]) if item.get("bytes") else item["path"]
    wav, sr = sf.read(src, dtype="float32", always_2d=True)
    wav = wav.mean(axis=1)
    if sampling_rate and sr != sampling_rate:
        from scipy.signal import resample_poly

        g = np.gcd(int(sr), int(sampling_rate))
        wav = resample_poly(wav, sampling_rate // g, sr // g).astype(np.float32)
    return wav


def sample_frames(video: Any, num_frames: int) -> np.ndarray:
    """``num_frames`` frames spread evenly over a decoded video (a torchcodec decoder), uint8 T×C×H×W."""
    total = len(video)
    idx = np.linspace(0, max(total - 1, 0), num_frames).round().astype(int).tolist()
    frames = video.get_frames_at(indices=idx).data
    return np.asarray(frames)


def _read_column(d: Any, name: str, *, source: str, num_frames: int) -> Any:
    """A column as arrays/lists, decoding audio with soundfile where torchcodec is missing."""
    import datasets

    feature = d.features.get(name)
    if isinstance(feature, datasets.Audio):
        if has_torchcodec():
            return [np.asarray(x["array"], dtype=np.float32) for x in d[name]]
        raw = d.cast_column(name, datasets.Audio(sampling_rate=feature.sampling_rate, decode=False))
        return [decode_audio(x, feature.sampling_rate) for x in raw[name]]
    if type(feature).__name__ == "Video":
        if not has_torchcodec():
            raise MuError(f"{source}: column '{name}' holds videos, which datasets decodes with torchcodec; "
                          "torchcodec does not load here (it needs a matching torch build)")
        return np.stack([sample_frames(v, num_frames) for v in d[name]])
    return _column(d[name])


def _local(path: str, base: Path) -> str:
    return path if "://" in path else str(expand_path(path, base))


def resolve_data_files(data_files: Any, base: Path) -> Any:
    """``data_files`` with ``~``/``$VARS`` expanded and relative paths taken from ``base`` (the task's folder)."""
    if data_files is None:
        return None
    if isinstance(data_files, str):
        return _local(data_files, base)
    if isinstance(data_files, list):
        return [resolve_data_files(f, base) for f in data_files]
    return {k: resolve_data_files(v, base) for k, v in data_files.items()}


def load_hf_splits(ds: DatasetConfig, columns: ColumnsConfig, *, source: str,
                   base: Path | None = None, num_frames: int = 16) -> dict[str, Split]:
    try:
        import datasets
    except ImportError:
        raise MuError(f"{source}: dataset.path needs the 'datasets' package: pip install 'mu-registry[hf]'") from None
    if not progress_enabled():
        datasets.disable_progress_bars()
    wanted = [*columns.inputs, columns.label]
    base = base or Path.cwd()
    jobs = [(role, split_name, ds.path, ds.name, ds.revision, ds.data_files, ds.load_args, "dataset.path")
            for role, split_name in ds.splits.items()]
    jobs += [(role, e.split, e.path, e.name, e.revision, e.data_files, e.load_args, f"dataset.extra_sources.{role}")
             for role, e in ds.extra_sources.items()]
    out: dict[str, Split] = {}
    for role, split_name, path, name, revision, data_files, load_args, key in jobs:
        try:
            d = datasets.load_dataset(path, name, split=split_name, revision=revision,
                                      data_files=resolve_data_files(data_files, base), **load_args)
        except Exception as exc:
            raise ConfigError(source, key, f"cannot load '{path}' split '{split_name}': "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        missing = [c for c in wanted if c not in d.column_names]
        if missing:
            key = "columns.label" if columns.label in missing else f"columns.inputs[{columns.inputs.index(missing[0])}]"
            raise ConfigError(source, key, f"column '{missing[0]}' is not in split '{split_name}' "
                              f"(has: {', '.join(d.column_names)})")
        cols = {c: _read_column(d, c, source=source, num_frames=num_frames) for c in wanted}
        out[role] = Split(role, cols, np.arange(len(d)))
    return out
