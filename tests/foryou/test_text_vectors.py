"""Caption vectors on disk: a text is embedded once per region, whichever process asks, and survives restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sovereel.feed.text_embed import HashingTextEmbedder
from sovereel.foryou.text_vectors import HEADER, TextVectorFile


class CountingEmbedder:
    """The hashing embedder, counting the texts it was asked to embed."""

    def __init__(self) -> None:
        self.inner = HashingTextEmbedder(dim=32)
        self.asked: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.asked.extend(texts)
        return self.inner(texts)


def test_vectors_are_embedded_once_and_shared_by_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "vectors" / "hashing.vec"
    first_embed, second_embed = CountingEmbedder(), CountingEmbedder()
    first, second = TextVectorFile(first_embed, path), TextVectorFile(second_embed, path)
    texts = ["cats on a sofa #pets", "surfing at dawn #sea", "cats on a sofa #pets"]

    got = first(texts)
    assert first_embed.asked == ["cats on a sofa #pets", "surfing at dawn #sea"]  # a repeated text once
    np.testing.assert_array_equal(got, first_embed.inner(texts))

    # Another process (or a restart) reads the file: nothing is embedded again, the vectors are identical.
    again = second(["surfing at dawn #sea", "cats on a sofa #pets", "new one #x"])
    assert second_embed.asked == ["new one #x"]
    np.testing.assert_array_equal(
        again, first_embed.inner(["surfing at dawn #sea", "cats on a sofa #pets", "new one #x"])
    )
    # ...and what it added is found by the first one.
    first(["new one #x"])
    assert first_embed.asked == ["cats on a sofa #pets", "surfing at dawn #sea"]


def test_a_record_cut_short_by_a_crash_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "hashing.vec"
    embed = CountingEmbedder()
    TextVectorFile(embed, path)(["one", "two"])
    whole = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\x00" * 20)  # half a record: the process died mid-append

    reader_embed = CountingEmbedder()
    reader = TextVectorFile(reader_embed, path)
    np.testing.assert_array_equal(reader(["two"]), embed.inner(["two"]))
    assert reader_embed.asked == []
    reader(["three"])
    record = (whole - HEADER.size) // 2
    assert path.stat().st_size == whole + record  # the torn bytes were cut off before the append
    np.testing.assert_array_equal(TextVectorFile(CountingEmbedder(), path)(["three"]), embed.inner(["three"]))


def test_a_file_of_another_width_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hashing.vec"
    TextVectorFile(CountingEmbedder(), path)(["one"])
    wider = TextVectorFile(lambda texts: np.ones((len(texts), 64), dtype=np.float32), path)
    try:
        wider(["two"])
    except ValueError as exc:
        assert "64" in str(exc)
    else:
        raise AssertionError("a 64-wide embedder appended to a 32-wide file")
