"""A LLaVA-style vision-language model small enough to train in tests: the ``tiny_llava`` model plugin.

``build_tiny_llava`` makes a transformers ``LlavaForConditionalGeneration`` from a config: a CLIP
vision tower, LLaVA's projector and a Llama language model. Text goes through a byte-level
tokenizer built in code (``VLMTokens``), so nothing is downloaded. ``encode_qa`` lays out one
question/answer turn the way LLaVA-1.5's conversation template does (``USER: <image>\\n<question>
ASSISTANT: <answer>``) with one image placeholder per image patch, and labels only the answer
tokens, which is what every loss in ``mu_registry.training.losses`` expects.
LoRA comes from ``GenerativeModel.add_lora`` (the language model's attention projections, MLUBench's
settings as defaults: r=32, alpha=32, dropout 0.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mu_registry import GenerativeModel, MuError

IGNORE = -100


@dataclass(frozen=True)
class VLMTokens:
    """Byte-level vocabulary: 0 pad, 1 begin, 2 end, 3 image placeholder, then the 256 bytes."""

    pad: int = 0
    bos: int = 1
    eos: int = 2
    image: int = 3
    offset: int = 4

    @property
    def vocab_size(self) -> int:
        return self.offset + 256

    def encode(self, text: str) -> list[int]:
        return [self.offset + b for b in text.encode("utf-8")]

    def decode(self, ids: list[int]) -> str:
        return bytes(i - self.offset for i in ids if i >= self.offset).decode("utf-8", errors="replace")


TOKENS = VLMTokens()


def _byte_chars() -> list[str]:
    """The printable character byte-level BPE uses for each byte 0..255 (GPT-2's table)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1), *range(ord("\xae"), ord("\xff") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def hf_tokenizer():
    """The byte vocabulary as a Hugging Face fast tokenizer (same ids as ``TOKENS``), for libraries that
    need one (lm-eval's model wrapper)."""
    tf = _transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {"<pad>": TOKENS.pad, "<s>": TOKENS.bos, "</s>": TOKENS.eos, "<image>": TOKENS.image}
    vocab.update({c: TOKENS.offset + b for b, c in enumerate(_byte_chars())})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def _transformers():
    try:
        import transformers
    except ImportError:
        raise MuError("transformers is not installed: pip install 'mu-registry[hf]'") from None
    return transformers


def build_tiny_llava(image_size: int = 16, patch_size: int = 4, hidden_size: int = 64, layers: int = 2,
                     heads: int = 2, max_positions: int = 256, seed: int = 0):
    tf = _transformers()
    torch.manual_seed(seed)
    vision = tf.CLIPVisionConfig(hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=1,
                                 num_attention_heads=heads, image_size=image_size, patch_size=patch_size,
                                 num_channels=3, projection_dim=hidden_size)
    text = tf.LlamaConfig(vocab_size=TOKENS.vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                          num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                          max_position_embeddings=max_positions, pad_token_id=TOKENS.pad, bos_token_id=TOKENS.bos,
                          eos_token_id=TOKENS.eos)
    # 'default' drops CLIP's class token: one placeholder per patch
    config = tf.LlavaConfig(vision_config=vision, text_config=text, image_token_index=TOKENS.image,
                            vision_feature_layer=-1, vision_feature_select_strategy="default")
    return tf.LlavaForConditionalGeneration(config)


def image_token_count(model) -> int:
    vision = model.config.vision_config
    return (vision.image_size // vision.patch_size) ** 2


def prompt_ids(question: str, *, image_tokens: int) -> list[int]:
    """``USER: <image>\n<question> ASSISTANT: `` with one placeholder per patch (none for text-only)."""
    prompt = [TOKENS.bos] + TOKENS.encode("USER: ") + [TOKENS.image] * image_tokens
    return prompt + TOKENS.encode(("\n" if image_tokens else "") + question + " ASSISTANT: ")


def encode_qa(question: str, answer: str, *, image_tokens: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one turn; ``image_tokens`` 0 for a text-only probe. Only the answer
    (and its end token) is labelled."""
    prompt = prompt_ids(question, image_tokens=image_tokens)
    reply = TOKENS.encode(answer) + [TOKENS.eos]
    return prompt + reply, [IGNORE] * len(prompt) + reply


def collate(pairs: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (padding unlabelled)."""
    width = max(len(ids) for ids, _ in pairs)
    ids = torch.full((len(pairs), width), TOKENS.pad, dtype=torch.long)
    labels = torch.full((len(pairs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for i, (x, y) in enumerate(pairs):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×3×H×W → float in [-1, 1]."""
    return images.float() / 127.5 - 1.0


class TinyLlava(GenerativeModel):
    """A LLaVA built from a config (CLIP vision tower, projector, Llama) with the byte vocabulary.

    Arguments (task YAML ``model.args``): ``image_size``, ``patch_size``, ``hidden_size``, ``layers``,
    ``heads``, ``max_positions``. Everything is built in code: nothing is downloaded.
    """

    pad_id = TOKENS.pad
    eos_id = TOKENS.eos
    lora_targets = r"model\.language_model\..*\.(q_proj|k_proj|v_proj|o_proj)"

    def __init__(self, image_size: int = 16, patch_size: int = 4, hidden_size: int = 64, layers: int = 2,
                 heads: int = 2, max_positions: int = 256):
        super().__init__(image_size=image_size, patch_size=patch_size, hidden_size=hidden_size, layers=layers,
                         heads=heads, max_positions=max_positions)
        self.image_tokens = (image_size // patch_size) ** 2

    @property
    def tokenizer(self):
        """A Hugging Face tokenizer with the same ids (lm-eval's general benchmarks need one)."""
        if getattr(self, "_hf_tokenizer", None) is None:
            self._hf_tokenizer = hf_tokenizer()
        return self._hf_tokenizer

    def build(self, spec, seed: int):
        return build_tiny_llava(seed=seed, **self.args)

    def decoder_layers(self) -> int:
        return int(self.args["layers"])

    def load(self, spec, path, seed: int):
        module = self.build(spec, seed)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return module

    def tokenize_prompt(self, question: str, has_image: bool) -> list[int]:
        return prompt_ids(question, image_tokens=self.image_tokens if has_image else 0)

    def tokenize_prompt_after(self, shot: list[str | None], question: str, has_image: bool) -> list[int]:
        """The example block after the begin token (an image: one placeholder per patch and a newline, as in
        a question), then the prompt."""
        head: list[int] = []
        for piece in shot:
            head += [TOKENS.image] * self.image_tokens + TOKENS.encode("\n") if piece is None else TOKENS.encode(piece)
        prompt = self.tokenize_prompt(question, has_image)
        return prompt[:1] + head + prompt[1:]

    def tokenize_answer(self, text: str) -> list[int]:
        return TOKENS.encode(text) + [TOKENS.eos]

    def decode(self, ids: list[int]) -> str:
        return TOKENS.decode(ids)

    def pixel_values(self, images) -> torch.Tensor:
        """uint8 3×S×S arrays, or image files (resized to the tower's size)."""
        return image_batch(images, self.args["image_size"])


def image_batch(images, size: int) -> torch.Tensor:
    """Arrays or image files as one float batch at size×size, in [-1, 1]."""
    import numpy as np

    return pixels(torch.as_tensor(np.stack([read_image(i, size) if isinstance(i, str) else fit_image(i, size)
                                            for i in images])))


def fit_image(image, size: int):
    """A uint8 3×H×W array at size×size (resized when it is not)."""
    import numpy as np

    arr = np.asarray(image)
    if arr.shape == (3, size, size):
        return arr
    from PIL import Image

    return np.asarray(Image.fromarray(arr.transpose(1, 2, 0)).resize((size, size))).transpose(2, 0, 1).copy()


def read_image(path: str, size: int):
    """An image file as uint8 3×size×size."""
    import numpy as np

    try:
        from PIL import Image
    except ImportError:
        raise MuError("pillow is not installed: pip install 'mu-registry[hf]'") from None
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB").resize((size, size))).transpose(2, 0, 1).copy()
    except FileNotFoundError:
        raise MuError(f"image file {path} not found (point dataset.builder_args.image_root at the images)") from None
