"""CLIP's byte-pair tokenizer, read from the model repository (no torch, no OpenCLIP).

The same rules as OpenCLIP's SimpleTokenizer (from OpenAI's CLIP, MIT licence): ftfy and HTML
clean-up, whitespace collapsed, lower case, byte-level BPE over the repository's merges file,
start and end tokens, truncated or zero-padded to the context length. `framesift models export`
copies the merges file and writes `tokenizer.json` beside it; the export tests check that the ids
equal OpenCLIP's for the same text.
"""

from __future__ import annotations

import gzip
import html
import itertools
import json
from functools import lru_cache
from pathlib import Path

import ftfy
import numpy as np
import regex

TOKENIZER_FILE = "tokenizer.json"
KIND = "clip-bpe"
# OpenCLIP reads this many merges from the 16e6 vocabulary file: 49152 tokens in all.
MERGES = 49152 - 256 - 2


class TokenizerError(ValueError):
    """The repository's tokenizer files are missing or of an unknown kind."""


@lru_cache
def _byte_to_unicode() -> dict[int, str]:
    """Every byte as a printable character, so that BPE never sees whitespace or control bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


class ClipTokenizer:
    def __init__(self, merges_path: Path, *, context_length: int = 77) -> None:
        with gzip.open(merges_path) as file:
            lines = file.read().decode("utf-8").split("\n")[1 : MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        base = list(_byte_to_unicode().values())
        vocab = base + [c + "</w>" for c in base] + ["".join(m) for m in merges] + ["<start_of_text>", "<end_of_text>"]
        self._ids = {token: i for i, token in enumerate(vocab)}
        self._ranks = {pair: i for i, pair in enumerate(merges)}
        self.start_id, self.end_id = self._ids["<start_of_text>"], self._ids["<end_of_text>"]
        self.context_length = context_length
        self._pattern = regex.compile(
            r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
            regex.IGNORECASE,
        )
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def open(cls, folder: Path) -> ClipTokenizer:
        spec_path = folder / TOKENIZER_FILE
        if not spec_path.is_file():
            raise TokenizerError(f"{spec_path} is missing: clip_text needs its tokenizer")
        spec = json.loads(spec_path.read_text())
        if spec.get("kind") != KIND:
            raise TokenizerError(f"{spec_path}: tokenizer kind {spec.get('kind')!r} is not supported (only {KIND!r})")
        merges = folder / str(spec["merges"])
        if not merges.is_file():
            raise TokenizerError(f"{merges} is missing")
        return cls(merges, context_length=int(spec["context_length"]))

    def encode(self, text: str) -> list[int]:
        cleaned = " ".join(html.unescape(html.unescape(ftfy.fix_text(text))).strip().split()).lower()
        ids: list[int] = []
        to_unicode = _byte_to_unicode()
        for word in self._pattern.findall(cleaned):
            ids.extend(self._ids[piece] for piece in self._bpe("".join(to_unicode[b] for b in word.encode())))
        return ids

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Token ids (len(texts), context_length), int64, as the clip_text model takes them."""
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start_id, *self.encode(text), self.end_id]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.end_id
            out[row, : len(ids)] = ids
        return out

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token]
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in itertools.pairwise(word)}
            best = min(pairs, key=lambda pair: self._ranks.get(pair, MERGES + 1))
            if best not in self._ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = word
        return word
