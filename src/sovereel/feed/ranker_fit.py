"""Fitting the ranker: its training lists, losses, optimiser, training loop and per-task calibration.

`RankerLists` holds what the ranker learns from (built by `train.cross_fit_lists`). Pure: `listwise_loss` (softmax
cross-entropy over retrieved candidates) and `pointwise_loss` (binary cross-entropy over impression lists), functions
of tensors; `ranker_epochs`; and `RankerLists.concat` / `labelled`.

What mutates: `fit_ranker` trains the `net` it is given in place (and leaves it on the CPU in eval mode);
`calibrate_heads` overwrites `net.offset`; `Adam.step` updates the parameters it was built over. None of them
touches a `FeedModel`: `train.train_from_events` installs the fitted net. Their randomness comes from generators
seeded by their `seed` argument (batch order, the calibration sample), plus torch's global generator for dropout,
which `train.train_from_events` seeds before calling `fit_ranker`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

if TYPE_CHECKING:
    from sovereel.feed.model import ModelConfig
    from sovereel.feed.ranker_net import RankerNet

FloatArray = npt.NDArray[np.float32]


@dataclass
class RankerLists:
    """Training lists for the ranker: features (lists x candidates x F) and per-task targets (lists x C x T).

    `mask` (lists x C), where given, marks the real entries of impression lists (the rest is padding); such
    lists are learnt pointwise (binary cross-entropy per shown video and task), the others listwise."""

    features: FloatArray
    targets: FloatArray
    mask: npt.NDArray[np.bool_] | None = None

    @staticmethod
    def concat(parts: Sequence[RankerLists]) -> RankerLists:
        """Stack several folds' lists (all of one kind)."""
        masks = [p.mask for p in parts]
        return RankerLists(
            features=np.concatenate([p.features for p in parts]).astype(np.float32),
            targets=np.concatenate([p.targets for p in parts]).astype(np.float32),
            mask=None if any(m is None for m in masks) else np.concatenate([m for m in masks if m is not None]),
        )

    def labelled(self) -> npt.NDArray[np.bool_]:
        """Lists the loss can learn from: any shown video (impression lists) or any positive label."""
        if self.mask is not None:
            return np.asarray(self.mask.any(axis=1))
        return np.asarray(self.targets.sum(axis=(1, 2)) > 0)


def listwise_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy per (list, task) with the normalised labels as target; lists without labels skipped."""
    # logits, targets: (lists, candidates, tasks)
    mass = targets.sum(dim=1)
    keep = mass > 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    logp = torch.log_softmax(logits, dim=1)
    per = -(logp * targets).sum(dim=1) / mass.clamp_min(1e-9)
    return per[keep].mean()


def pointwise_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per shown video and task (soft targets allowed), averaged over the real entries."""
    # logits, targets: (lists, candidates, tasks); mask: (lists, candidates)
    per = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=2)
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp_min(1.0)


class Adam:
    """Adam with decoupled-free L2 (as torch.optim.Adam); hand-rolled because torch.optim's first use
    imports torch._dynamo, which costs seconds per process on a small CPU box."""

    def __init__(self, params: list[nn.Parameter], lr: float, weight_decay: float) -> None:
        self.params = params
        self.lr, self.wd, self.b1, self.b2, self.eps, self.t = lr, weight_decay, 0.9, 0.999, 1e-8, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self) -> None:
        """Apply one update from the parameters' .grad, then clear them."""
        self.t += 1
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                g = p.grad + self.wd * p
                m.mul_(self.b1).add_(g, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
                m_hat = m / (1 - self.b1**self.t)
                v_hat = v / (1 - self.b2**self.t)
                p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))
                p.grad = None


def fit_ranker(
    net: nn.Module,
    lists: RankerLists,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_lists: int,
    seed: int,
    on_epoch: Callable[[int, float], None] | None = None,
    device: str = "cpu",
) -> list[float]:
    """Train `net` (features -> per-task logits) with the listwise loss; returns the mean loss per epoch.

    On another `device` (e.g. "cuda") the lists and the net move there for training and the net comes back
    to the CPU, where serving runs."""
    gen = torch.Generator().manual_seed(seed)
    has = torch.from_numpy(lists.labelled())
    x = torch.from_numpy(lists.features)[has].to(device)
    y = torch.from_numpy(lists.targets)[has].to(device)
    mask = None if lists.mask is None else torch.from_numpy(lists.mask)[has].to(device)
    net.to(device)
    opt = Adam([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(x), batch_lists):
            idx = perm[start : start + batch_lists]
            if mask is None:
                loss = listwise_loss(net(x[idx]), y[idx])
            else:
                loss = pointwise_loss(net(x[idx]), y[idx], mask[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / max(batches, 1))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    net.eval()
    net.to("cpu")
    return losses


def ranker_epochs(cfg: ModelConfig, lists: RankerLists) -> int:
    """`cfg.epochs`, or more where the lists are few: at least `cfg.min_steps` optimiser steps in all.

    A young region has a handful of training lists; a few epochs of them would leave the ranker near its
    random initialisation."""
    labelled = int(lists.labelled().sum())
    per_epoch = max(1, -(-labelled // cfg.batch_lists))
    return max(cfg.epochs, -(-cfg.min_steps // per_epoch))


def calibrate_heads(net: RankerNet, lists: RankerLists, max_lists: int = 2000, seed: int = 0) -> FloatArray:
    """Set `net.offset` so each task's mean predicted probability over the candidates equals its label rate.

    For impression lists that is the rate per shown video (padding left out)."""
    pick = np.random.default_rng(seed).permutation(len(lists.features))[:max_lists]
    x = torch.from_numpy(lists.features[pick])
    real = np.ones(lists.targets[pick].shape[:2], dtype=bool) if lists.mask is None else lists.mask[pick]
    rates = lists.targets[pick][real].clip(0, 1).mean(axis=0)
    offset = net.offset
    offset.zero_()
    with torch.no_grad():
        logits = net(x)[torch.from_numpy(real)]
    for t in range(logits.shape[1]):
        target = float(np.clip(rates[t], 1e-4, 1 - 1e-4))
        lo, hi = -30.0, 30.0
        for _ in range(50):  # bisection: mean sigmoid is increasing in the offset
            mid = (lo + hi) / 2
            if float(torch.sigmoid(logits[:, t] + mid).mean()) < target:
                lo = mid
            else:
                hi = mid
        offset[t] = (lo + hi) / 2
    return np.asarray(offset.numpy(), dtype=np.float32).copy()
