"""RFC 6962 / 9162 Merkle trees: hand-computed small trees, the RFC 6962 reference vectors, and proofs."""

from __future__ import annotations

import hashlib

import pytest

from sovereel.governance import merkle

# The eight leaf inputs and the roots, inclusion and consistency proofs of the RFC 6962 reference tests
# (certificate-transparency's merkle_tree_test vectors).
INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
LEAVES = [merkle.leaf_hash(x) for x in INPUTS]


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written as the RFC states it (recursive, split at the largest power of two < n)."""
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def test_hand_computed_small_trees() -> None:
    a, b, c = (sha(b"\x00" + x) for x in (b"a", b"b", b"c"))
    assert merkle.leaf_hash(b"a") == a
    assert (
        merkle.root([]) == sha(b"") == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert merkle.root([a]) == a
    ab = sha(b"\x01" + a + b)
    assert merkle.root([a, b]) == ab
    assert merkle.root([a, b, c]) == sha(b"\x01" + ab + c)  # 3 leaves: ((a b) c), not (a (b c))
    assert merkle.inclusion_proof([a, b, c], 2, 3) == [ab]
    assert merkle.inclusion_proof([a, b, c], 0, 3) == [b, c]
    assert merkle.consistency_proof([a, b, c], 2, 3) == [c]
    assert merkle.verify_consistency(2, 3, ab, merkle.root([a, b, c]), [c])


def test_rfc6962_reference_vectors() -> None:
    for n, expected in enumerate(ROOTS, start=1):
        assert merkle.root(LEAVES[:n]).hex() == expected
    for index, size, path in INCLUSION:
        assert [p.hex() for p in merkle.inclusion_proof(LEAVES, index, size)] == path
        assert merkle.verify_inclusion(
            LEAVES[index], index, size, [bytes.fromhex(p) for p in path], bytes.fromhex(ROOTS[size - 1])
        )
    for first, second, path in CONSISTENCY:
        assert [p.hex() for p in merkle.consistency_proof(LEAVES, first, second)] == path
        assert merkle.verify_consistency(
            first, second, bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1]),
            [bytes.fromhex(p) for p in path],
        )  # fmt: skip


def test_every_proof_of_every_small_tree_verifies_and_no_altered_one_does() -> None:
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(33)]
    roots = [mth(leaves[:n]) for n in range(len(leaves) + 1)]
    for n in range(1, len(leaves) + 1):
        assert merkle.root(leaves[:n]) == roots[n]
        for m in range(n):
            proof = merkle.inclusion_proof(leaves, m, n)
            assert merkle.verify_inclusion(leaves[m], m, n, proof, roots[n])
            assert not merkle.verify_inclusion(leaves[(m + 1) % n], m, n, proof, roots[n]) or n == 1
            if proof:
                bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not merkle.verify_inclusion(leaves[m], m, n, bent, roots[n])
                assert not merkle.verify_inclusion(leaves[m], m, n, proof[:-1], roots[n])  # too short
            assert not merkle.verify_inclusion(leaves[m], m, n, [*proof, roots[0]], roots[n])  # too long
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(leaves, m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            if m < n:
                other = merkle.leaf_hash(b"rewritten")
                assert not merkle.verify_consistency(m, n, mth([other, *leaves[1:m]]), roots[n], proof)
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], proof[:-1])
                assert not merkle.verify_consistency(m, n, roots[m], roots[n - 1], proof)


def test_proof_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(LEAVES, 8, 8)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(LEAVES, 0, 9)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(LEAVES, 0, 4)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(LEAVES, 5, 4)
    assert not merkle.verify_inclusion(LEAVES[0], 3, 2, [], bytes.fromhex(ROOTS[0]))
    assert not merkle.verify_consistency(3, 2, LEAVES[0], LEAVES[0], [])
