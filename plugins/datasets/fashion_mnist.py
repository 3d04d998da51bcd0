"""Fashion-MNIST from the IDX files that Debian's ``dataset-fashion-mnist`` installs.

Real 28×28 greyscale images of clothing, 60,000 train and 10,000 test, 10
classes. ``apt-get install dataset-fashion-mnist`` puts them under
/usr/share/datasets/fashion-mnist/; ``root`` (or ``$MU_FASHION_MNIST_DIR``)
points elsewhere, e.g. at the files from the dataset's own release.
"""

from __future__ import annotations

import gzip
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from mu_registry import MuError, Split

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if magic >> 8 != 0x08:
        raise MuError(f"{path}: not an unsigned-byte IDX file")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for cand in (root / f"{stem}.gz", root / stem):
        if cand.exists():
            return cand
    raise MuError(f"Fashion-MNIST file {stem}(.gz) not found in {root}; install Debian's "
                  "'dataset-fashion-mnist' or set dataset.builder_args.root / $MU_FASHION_MNIST_DIR")


@lru_cache(maxsize=4)
def _load(root: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split, (img, lab) in FILES.items():
        images = _read_idx(_find(Path(root), img)).astype(np.float32) / 255.0
        labels = _read_idx(_find(Path(root), lab)).astype(np.int64)
        out[split] = (images[:, None, :, :], labels)
    return out


def fashion_mnist(root: str | None = None) -> dict[str, Split]:
    """Splits 'train' and 'test' with columns 'image' (float32, 1×28×28 in [0, 1]) and 'label'."""
    root = root or os.environ.get("MU_FASHION_MNIST_DIR") or DEFAULT_ROOT
    data = _load(str(root))
    return {name: Split(name, {"image": images, "label": labels}, np.arange(len(labels)))
            for name, (images, labels) in data.items()}
