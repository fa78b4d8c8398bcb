"""The audit log's verified Merkle tree, kept per process and grown entry by entry (for the public endpoints).

The public checkpoint and proof endpoints must not re-read and re-hash the whole log on every request: anyone
could call them in a loop. Each process keeps the log's verified prefix as levels of aligned perfect-subtree
hashes (`VerifiedTree`, about 64 bytes per entry): a new entry is checked once (its content against its leaf
hash, its `prev_hash` against the leaf before it, its region) and folded in with O(log n) hashes, and any
subtree hash, root, inclusion or consistency proof (RFC 9162 §2.1) then costs O(log² n). Entries already
verified are not re-read: re-verifying the whole stored log is the overseer's and `sovereel audit verify`'s
job. A fresh process verifies the log once, `BATCH` entries per request at most.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sovereel.governance import merkle
from sovereel.governance.audit import read_records
from sovereel.governance.per_store import PerStore
from sovereel.storage.db import RegionDB

T = TypeVar("T")
BATCH = 5000  # entries verified per request at most: bounded work even while a fresh process catches up
HASH = 32


class TreeTampered(ValueError):
    """A stored entry that does not match its leaf hash or its place in the chain."""


class VerifiedTree:
    """Leaf hashes and every complete aligned subtree hash above them, appended to in order."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = []
        self.size = 0
        self.last_leaf = ""

    def _node(self, level: int, i: int) -> bytes:
        return bytes(self.levels[level][i * HASH : (i + 1) * HASH])

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash, completing the subtrees it closes."""
        index, node, level = self.size, leaf, 0
        while True:
            if len(self.levels) <= level:
                self.levels.append(bytearray())
            self.levels[level] += node
            if index % 2 == 0:
                break
            node = merkle.node_hash(self._node(level, index - 1), node)
            index, level = index // 2, level + 1
        self.size += 1
        self.last_leaf = leaf.hex()

    def leaf(self, index: int) -> bytes:
        """The leaf hash at `index`."""
        return self._node(0, index)

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) from the stored subtree hashes."""
        n = hi - lo
        if n <= 0:
            return merkle.EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self._node(n.bit_length() - 1, lo // n)
        k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
        return merkle.node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root of the first `size` leaves (all when None)."""
        return self.mth(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]), as `merkle.inclusion_proof` gives it."""
        if not 0 <= index < size <= self.size:
            raise merkle.ProofError(f"need 0 <= index < size <= {self.size}, got index={index} size={size}")
        proof: list[bytes] = []
        lo, hi, m = 0, size, index
        while hi - lo > 1:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m < k:
                proof.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.mth(lo, lo + k))
                lo, m = lo + k, m - k
        return proof[::-1]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[second]), as `merkle.consistency_proof` gives it."""
        if not 0 < first <= second <= self.size:
            raise merkle.ProofError(f"need 0 < first <= second <= {self.size}, got first={first} second={second}")
        proof: list[bytes] = []
        lo, hi, m, whole = 0, second, first, True
        while m != hi - lo:
            k = 1 << ((hi - lo - 1).bit_length() - 1)
            if m <= k:
                proof.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.mth(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        if not whole:
            proof.append(self.mth(lo, hi))
        return proof[::-1]


@dataclass
class TreeState:
    """One store's verified tree in this process, and the signed checkpoint for its current size."""

    tree: VerifiedTree = field(default_factory=VerifiedTree)
    checkpoint: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATES: PerStore[TreeState] = PerStore(TreeState)


def tree_state(db: RegionDB) -> TreeState:
    """This process's verified tree of `db`'s audit log (call `grow` under its lock)."""
    return _STATES.get(db)


def grow(db: RegionDB, tree: VerifiedTree, batch: int = BATCH) -> int:
    """Verify and fold in the entries committed after the tree's size (at most `batch`); returns how many."""
    with db.session() as s:
        records = read_records(s, start=tree.size, limit=batch)
    added = 0
    for rec in records:
        if rec.index != tree.size:
            break  # a gap: an append still in flight (or a deleted entry, which the overseer's check reports)
        if rec.computed_leaf().hex() != rec.leaf_hash:
            raise TreeTampered(f"entry {rec.index}: content does not match its stored leaf hash (edited)")
        if rec.prev_hash != tree.last_leaf:
            raise TreeTampered(f"entry {rec.index}: its prev hash does not match entry {rec.index - 1}")
        if rec.region != db.region:
            raise TreeTampered(f"entry {rec.index}: belongs to region {rec.region!r}, not {db.region!r}")
        tree.append(bytes.fromhex(rec.leaf_hash))
        added += 1
    return added


def read_tree(db: RegionDB, read: Callable[[VerifiedTree], T]) -> T:
    """`read(tree)` on this process's verified tree of `db`'s log, brought up to date first (bounded)."""
    state = tree_state(db)
    with state.lock:
        grow(db, state.tree)
        return read(state.tree)
