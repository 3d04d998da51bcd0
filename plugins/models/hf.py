"""Model families from Hugging Face transformers, for every MU-Bench modality.

Each adapter takes either

* ``pretrained: <Hub id or local folder>``: ``from_pretrained`` (weights,
  and the matching processor/tokenizer), for users with network; or
* ``config: {model_type: ..., ...}``: a network built from a config, offline
  (the mini tasks and the tests use tiny ones).

``encode`` keeps data compact (native resolution, uint8 where it came so);
``forward`` resizes and normalises each batch, so large datasets are never
materialised at the model's input size.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mu_registry import EncodedSplit, Model, MuError, Split, TaskSpec, expand_path, hub_problem

from .byte_tokenizer import SPECIALS, byte_tokenizer, word_hash_encode


def _transformers():
    try:
        import transformers
    except ImportError:
        raise MuError("transformers is not installed: pip install 'mu-registry[hf]'") from None
    return transformers


@lru_cache(maxsize=8)
def _pretrained_preprocessor(kind: str, name: str):
    """A tokenizer or image processor, loaded once per run however often splits are encoded or
    models built (original, retrain, every method's fresh copy)."""
    return getattr(_transformers(), kind).from_pretrained(name)


def offline_vocab_size(args: dict[str, Any]) -> int:
    if args.get("tokenizer", "word_hash") == "bytes":
        return len(byte_tokenizer())
    return len(SPECIALS) + int(args.get("buckets", 4096))


def tokenize(args: dict[str, Any], texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """input_ids and attention_mask: the pretrained model's tokenizer, or one built in code."""
    if args.get("pretrained"):
        tok = _pretrained_preprocessor("AutoTokenizer", args["pretrained"])
    elif args.get("tokenizer", "word_hash") == "bytes":
        tok = byte_tokenizer()
    else:
        ids, mask = word_hash_encode(texts, max_length, int(args.get("buckets", 4096)))
        return {"input_ids": torch.as_tensor(ids), "attention_mask": torch.as_tensor(mask)}
    enc = tok(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def check_pretrained(args: dict) -> None:
    """A ``pretrained`` Hub id that is neither a local folder nor cached, while the Hub cannot be reached, is one
    line before anything trains."""
    if args.get("pretrained"):
        problem = hub_problem(str(args["pretrained"]), "model", "args.pretrained")
        if problem:
            raise MuError(problem)


class HFClassifier(Model):
    """Base for transformers classifiers; subclasses set ``auto_class`` and the encoding."""

    auto_class: ClassVar[str] = "AutoModelForSequenceClassification"

    @classmethod
    def preflight(cls, **args) -> None:
        """Planning's check: see :func:`check_pretrained`."""
        check_pretrained(args)

    def _config(self, spec: TaskSpec):
        tf = _transformers()
        cfg = dict(self.args.get("config") or {})
        model_type = cfg.pop("model_type", None)
        if model_type is None:
            raise MuError(f"model '{type(self).__name__}': give args.pretrained or args.config.model_type")
        return tf.AutoConfig.for_model(model_type, num_labels=spec.num_classes, **cfg)

    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        tf = _transformers()
        torch.manual_seed(seed)
        auto = getattr(tf, self.auto_class)
        if self.args.get("pretrained"):
            return auto.from_pretrained(self.args["pretrained"], num_labels=spec.num_classes,
                                        ignore_mismatched_sizes=True)
        return auto.from_config(self._config(spec))

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return module(**inputs).logits

    def _config_value(self, key: str, default: Any) -> Any:
        return (self.args.get("config") or {}).get(key, self.args.get(key, default))

    def _encode_size(self) -> int | None:
        """``args.encode_size``: store images at this size. Unset, images keep their own (uniform) size
        and each batch is resized to the model's input in ``forward``, which keeps CIFAR-sized data small;
        photos of varying sizes (NLVR2) need it."""
        return int(self.args["encode_size"]) if self.args.get("encode_size") else None

    def _processor(self, kind: str = "AutoImageProcessor"):
        if not self.args.get("pretrained"):
            return None
        return _pretrained_preprocessor(kind, self.args["pretrained"])


# ------------------------------------------------------------------ images
def _as_pil(item: Any, root: str | None):
    from PIL import Image

    if isinstance(item, (str, Path)):
        path, base = Path(item), expand_path(root) if root else None
        return Image.open(path if path.is_absolute() or base is None else base / path)
    if isinstance(item, dict) and ("bytes" in item or "path" in item):  # an undecoded datasets Image cell
        return Image.open(io.BytesIO(item["bytes"])) if item.get("bytes") else Image.open(item["path"])
    return item if hasattr(item, "convert") else Image.fromarray(np.asarray(item))


def to_chw_array(images: Any, *, size: int | None = None, root: str | None = None) -> np.ndarray:
    """A batch of images as N×C×H×W.

    Accepts an array (N×C×H×W, N×H×W×C or N×H×W), or a list of PIL images, arrays, file
    paths (relative to ``root``) or undecoded ``datasets`` image cells. Images of different
    sizes (real photos) need ``size``: each is resized to ``size``×``size`` here, so the
    split is stored once at that size, in uint8.
    """
    if isinstance(images, np.ndarray) and size is None:
        if images.ndim == 3:
            return images[:, None]
        if images.ndim == 4:
            if images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
                return images.transpose(0, 3, 1, 2)
            return images
    arrays = []
    for item in images:
        if size is not None or not isinstance(item, np.ndarray):
            img = _as_pil(item, root)
            if img.mode not in ("L", "RGB"):
                img = img.convert("RGB")
            if size is not None and img.size != (size, size):
                img = img.resize((size, size))
            a = np.asarray(img)
        else:
            a = item
        arrays.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1) if a.shape[-1] in (1, 3) else a)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        channels = max(a.shape[0] for a in arrays)
        arrays = [np.repeat(a, channels, axis=0) if a.shape[0] == 1 else a for a in arrays]
        if len({a.shape for a in arrays}) > 1:
            raise MuError(f"images have different sizes {sorted(shapes)[:2]}...: set the model's args.encode_size")
    return np.stack(arrays)


def prepare_pixels(x: torch.Tensor, size: int, channels: int, mean: list[float], std: list[float]) -> torch.Tensor:
    """uint8 or [0,1] float N×C×H×W → float, channel count fixed, resized, normalised."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[1] != channels:
        x = x.mean(dim=1, keepdim=True) if channels == 1 else x.expand(-1, channels, -1, -1) if x.shape[1] == 1 else x
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


class _PixelsMixin:
    """Resizing and normalising pixels the way the pretrained model's image processor says."""

    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        self._cached_processor = self._processor()  # type: ignore[attr-defined]
        return super().build(spec, seed)  # type: ignore[misc]

    def _pixel_settings(self, module: nn.Module) -> tuple[int, int, list[float], list[float]]:
        cfg = getattr(module.config, "vision_config", module.config)
        size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
        channels = cfg.num_channels
        proc = getattr(self, "_cached_processor", None)
        mean = list(getattr(proc, "image_mean", None) or [0.5] * channels)
        std = list(getattr(proc, "image_std", None) or [0.5] * channels)
        return size, channels, mean[:channels], std[:channels]


class HFImageClassifier(_PixelsMixin, HFClassifier):
    """Image classification (ViT, Swin, ResNet, ...): MU-Bench's CIFAR-100 backbones."""

    auto_class = "AutoModelForImageClassification"
    modalities = frozenset({"image"})

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        (col,) = spec.input_columns
        pixels = torch.as_tensor(to_chw_array(split.columns[col], size=self._encode_size(),
                                              root=self.args.get("image_root")))
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, {"pixel_values": pixels}, labels, split.ids)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        size, channels, mean, std = self._pixel_settings(module)
        return module(pixel_values=prepare_pixels(inputs["pixel_values"], size, channels, mean, std)).logits


# ------------------------------------------------------------------ text
class HFTextClassifier(HFClassifier):
    """Sequence classification (BERT, RoBERTa, BioBERT, PubMedBERT): MU-Bench's IMDB and DDI-2013 backbones.

    Offline (``config``), texts go through a tokenizer built in code:
    ``tokenizer: word_hash`` (default; ``buckets`` word buckets) or ``bytes``.
    """

    auto_class = "AutoModelForSequenceClassification"
    modalities = frozenset({"text"})

    def _config(self, spec: TaskSpec):
        cfg = super()._config(spec)
        cfg.vocab_size = offline_vocab_size(self.args)
        cfg.pad_token_id = 0
        return cfg

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        texts = [str(t) for t in split.columns[spec.input_columns[0]]]
        if len(spec.input_columns) > 1:
            texts = [f"{a} [SEP] {b}" for a, b in zip(texts, split.columns[spec.input_columns[1]])]
        inputs = tokenize(self.args, texts, int(self.args.get("max_length", 128)))
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, inputs, labels, split.ids)


# ------------------------------------------------------------------ speech
def waveform_batch(column: Any, max_samples: int) -> np.ndarray:
    """Waveforms (arrays, or datasets' ``{"array": ...}`` dicts) padded/cut to ``max_samples``."""
    out = np.zeros((len(column), max_samples), dtype=np.float32)
    for i, item in enumerate(column):
        wav = np.asarray(item["array"] if isinstance(item, dict) else item, dtype=np.float32).reshape(-1)
        out[i, :min(len(wav), max_samples)] = wav[:max_samples]
    return out


class HFAudioClassifier(HFClassifier):
    """Audio classification (wav2vec2, HuBERT): MU-Bench's Speech Commands backbones.

    Waveforms must already be at ``sampling_rate`` (default 16 kHz); each is
    cut or zero-padded to ``max_seconds`` and normalised per example.
    """

    auto_class = "AutoModelForAudioClassification"
    modalities = frozenset({"speech"})

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        rate = int(self.args.get("sampling_rate", 16000))
        wav = waveform_batch(split.columns[spec.input_columns[0]], int(rate * float(self.args.get("max_seconds", 1.0))))
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, {"input_values": torch.as_tensor(wav)}, labels, split.ids)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        x = inputs["input_values"].float()
        x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-7)
        return module(input_values=x).logits


# ------------------------------------------------------------------ video
class HFVideoClassifier(_PixelsMixin, HFClassifier):
    """Video classification (VideoMAE): MU-Bench's UCF101 backbone. Input N×T×C×H×W frames."""

    auto_class = "AutoModelForVideoClassification"
    modalities = frozenset({"video"})

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        frames = torch.as_tensor(np.asarray(split.columns[spec.input_columns[0]]))
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, {"pixel_values": frames}, labels, split.ids)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        size, channels, mean, std = self._pixel_settings(module)
        v = inputs["pixel_values"]
        n, t = v.shape[:2]
        frames = prepare_pixels(v.reshape(n * t, *v.shape[2:]), size, channels, mean, std)
        return module(pixel_values=frames.reshape(n, t, channels, size, size)).logits


# ------------------------------------------------------------------ image pair + text
class HFViltPairClassifier(_PixelsMixin, HFClassifier):
    """Two images and a sentence → class (ViLT for NLVR2).

    Input columns: ``[left, right, sentence]``, or ``[images, sentence]`` where each
    ``images`` cell holds two images or two file paths (relative to ``args.image_root``).
    """

    auto_class = "ViltForImagesAndTextClassification"
    modalities = frozenset({"image-image-text"})

    def _config(self, spec: TaskSpec):
        tf = _transformers()
        cfg = {k: v for k, v in (self.args.get("config") or {}).items() if k != "model_type"}
        return tf.ViltConfig(num_labels=spec.num_classes, vocab_size=offline_vocab_size(self.args), num_images=2,
                             modality_type_vocab_size=3, **cfg)

    def build(self, spec: TaskSpec, seed: int) -> nn.Module:
        tf = _transformers()
        torch.manual_seed(seed)
        if self.args.get("pretrained"):
            self._cached_processor = _pretrained_preprocessor("ViltImageProcessor", self.args["pretrained"])
            return tf.ViltForImagesAndTextClassification.from_pretrained(
                self.args["pretrained"], num_labels=spec.num_classes, ignore_mismatched_sizes=True)
        self._cached_processor = None
        return tf.ViltForImagesAndTextClassification(self._config(spec))

    def encode(self, split: Split, spec: TaskSpec) -> EncodedSplit:
        size, root = self._encode_size(), self.args.get("image_root")
        if len(spec.input_columns) == 3:  # left image, right image, sentence
            left_col, right_col, text_col = spec.input_columns
            left, right = (torch.as_tensor(to_chw_array(split.columns[c], size=size, root=root))
                           for c in (left_col, right_col))
        elif len(spec.input_columns) == 2:  # a pair of images per row (NLVR2's 'images': [path, path]), sentence
            pairs_col, text_col = spec.input_columns
            pairs = list(split.columns[pairs_col])
            if any(len(p) != 2 for p in pairs):
                raise MuError(f"model 'hf_vilt_pair': column '{pairs_col}' must hold two images per row")
            left = torch.as_tensor(to_chw_array([p[0] for p in pairs], size=size, root=root))
            right = torch.as_tensor(to_chw_array([p[1] for p in pairs], size=size, root=root))
        else:
            raise MuError("model 'hf_vilt_pair': columns.inputs must be [left, right, sentence] or [images, sentence]")
        inputs = tokenize(self.args, [str(t) for t in split.columns[text_col]], int(self.args.get("max_length", 40)))
        labels = torch.as_tensor(np.asarray(split.columns[spec.label_column]), dtype=torch.long)
        return EncodedSplit(split.name, {**inputs, "pixel_values": torch.stack([left, right], dim=1)}, labels,
                            split.ids)

    def forward(self, module: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        size, channels, mean, std = self._pixel_settings(module)
        pv = inputs["pixel_values"]
        n = pv.shape[0]
        pixels = prepare_pixels(pv.reshape(n * 2, *pv.shape[2:]), size, channels, mean, std)
        pixels = pixels.reshape(n, 2, channels, size, size)
        mask = torch.ones(n, 2, size, size, dtype=torch.long, device=pixels.device)
        return module(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], pixel_values=pixels,
                      pixel_mask=mask).logits
