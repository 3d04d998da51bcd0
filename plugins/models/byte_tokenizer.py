"""Tokenizers built in code (no download) for the offline text models.

* ``byte_tokenizer``: every UTF-8 byte is a token (4 special tokens + 256 bytes).
* ``word_hash_encode``: lower-cased words hashed (CRC32) into a fixed number of
  buckets; topic words survive as single tokens, which tiny models learn from
  far faster than from bytes.
"""

from __future__ import annotations

from functools import lru_cache

import re
import zlib

import numpy as np

SPECIALS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
_WORD = re.compile(r"[a-z0-9']+")


def word_hash_encode(texts: list[str], max_length: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask): [CLS] words... [SEP], ids 4..4+buckets-1, padded with 0."""
    ids = np.zeros((len(texts), max_length), dtype=np.int64)
    mask = np.zeros((len(texts), max_length), dtype=np.int64)
    for i, text in enumerate(texts):
        words = _WORD.findall(text.lower())[: max_length - 2]
        row = [1] + [4 + zlib.crc32(w.encode()) % buckets for w in words] + [2]
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return ids, mask


@lru_cache(maxsize=4)
def byte_tokenizer(model_max_length: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(SPECIALS + alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   unk_token="[UNK]", model_max_length=model_max_length)
