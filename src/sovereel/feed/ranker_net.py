"""The ranker network: features -> one logit per task, and the fixed prior an untrained model scores with.

`RankerNet` is an MLP ensemble (members seeded `seed`, `seed + 1`, ...; logits averaged) over standardised,
clipped inputs, with per-task logit offsets set after training (`ranker_fit.calibrate_heads`). Building one
reseeds torch's global generator (once per member), so it must be built at the same point of a training run for
the run to be reproducible. `standardise_on` overwrites the net's standardisation buffers; `prior_logits` is pure.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from sovereel.feed.features import FEATURES, SOUND_FEATURES
from sovereel.feed.interface import TASKS

FloatArray = npt.NDArray[np.float32]

# Standardised ranker inputs are clipped to this many standard deviations: a feature far outside what training
# saw (a tiny catalogue, a brand-new kind of video) must not saturate every head.
Z_CLIP = 8.0
# Logits are clipped to +-LOGIT_CLIP before the sigmoid, so every prediction stays strictly inside (0, 1) in
# float32 (a ranker trained on impressions of a world it can separate perfectly would otherwise say 0 or 1).
LOGIT_CLIP = 15.0
# Inputs appended to FEATURES after the ranker's first release (the sound inputs) start with zero weights and draw
# nothing from the seeded generator: a net of a given seed starts exactly where it did before they were added, so
# adding an input changes what a model learns only through what that input carries. Without this, the wider first
# layer reshuffled every initial weight, and a world without sounds (the simulator) moved by initialisation alone.
LATE_INPUTS = len(SOUND_FEATURES)


class RankerNet(nn.Module):
    """Features -> one logit per task; `ensemble` members with their own seeds, logits averaged."""

    mean: torch.Tensor  # feature standardisation, fitted on the training lists and saved with the weights
    scale: torch.Tensor
    # Per-task logit offsets fitted after training so that each head's mean predicted probability over the
    # training candidates equals that task's observed rate. The listwise loss leaves every head's offset
    # arbitrary; without this, a rare action's head (follow, share) could outweigh completion in the weighted
    # sum of predicted actions for no reason but its scale.
    offset: torch.Tensor

    def __init__(self, n_features: int, hidden: int, dropout: float, ensemble: int, seed: int) -> None:
        super().__init__()
        members = []
        late = LATE_INPUTS if n_features == len(FEATURES) else 0
        for m in range(ensemble):
            torch.manual_seed(seed + m)
            members.append(
                nn.Sequential(
                    nn.Linear(n_features - late, hidden),
                    nn.ReLU(),
                    nn.Dropout(dropout),
                    nn.Linear(hidden, hidden),
                    nn.ReLU(),
                    nn.Dropout(dropout),
                    nn.Linear(hidden, len(TASKS)),
                )
            )
        for member in members:
            first = member[0]
            if late and isinstance(first, nn.Linear):
                member[0] = _widened(first, late)
        self.members = nn.ModuleList(members)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("offset", torch.zeros(len(TASKS)))

    def widen_inputs(self, extra: int) -> None:
        """Take `extra` more inputs (appended to FEATURES after this net was trained) with zero weight, a mean of 0
        and a scale of 1: its logits on the old inputs are unchanged, so a version saved before an input was added
        keeps serving, and replaying, exactly what it served."""
        for member in self.members:
            if isinstance(member, nn.Sequential) and isinstance(member[0], nn.Linear):
                member[0] = _widened(member[0], extra)
        self.mean = torch.cat([self.mean, torch.zeros(extra, dtype=self.mean.dtype)])
        self.scale = torch.cat([self.scale, torch.ones(extra, dtype=self.scale.dtype)])

    def standardise_on(self, features: FloatArray) -> None:
        """Fit the input standardisation to training features (..., n_features); constant ones are left as is."""
        flat = np.nan_to_num(features.reshape(-1, features.shape[-1]).astype(np.float64))
        std = flat.std(axis=0)
        self.mean.copy_(torch.from_numpy(flat.mean(axis=0).astype(np.float32)))
        self.scale.copy_(torch.from_numpy(np.where(std > 1e-3, std, 1.0).astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = ((x - self.mean) / self.scale).clamp(-Z_CLIP, Z_CLIP)
        return torch.stack([m(z) for m in self.members]).mean(dim=0) + self.offset


# Before its first training a model has no learned ranker; rather than a randomly initialised network it
# scores with this fixed prior, the same for every task: how much of the video's hashtags and creator the
# viewer's engagements hold, the cosine of their online vectors, and (weakly) trending and co-engagement.
PRIOR_WEIGHTS: dict[str, float] = {
    "hashtag_affinity": 3.0,
    "creator_share": 2.0,
    "emb_cos": 1.0,
    "log_trending": 0.2,
    "co_ease_z": 0.2,
    "co_session_z": 0.2,
}
PRIOR_BIAS = -1.0


def prior_logits(feats: torch.Tensor) -> torch.Tensor:
    """The untrained model's logits (..., tasks) from ranker features (..., FEATURES)."""
    w = torch.zeros(len(FEATURES), dtype=feats.dtype)
    for name, weight in PRIOR_WEIGHTS.items():
        w[FEATURES.index(name)] = weight
    logit = feats @ w + PRIOR_BIAS
    return logit.unsqueeze(-1).expand(*logit.shape, len(TASKS))


def _widened(layer: nn.Linear, extra: int) -> nn.Linear:
    """`layer` with `extra` more inputs whose weights are zero (leaving the generator as it found it)."""
    state = torch.get_rng_state()
    wide = nn.Linear(layer.in_features + extra, layer.out_features)
    torch.set_rng_state(state)  # training goes on drawing dropout masks and batches from where it was
    with torch.no_grad():
        wide.weight.zero_()
        wide.weight[:, : layer.in_features] = layer.weight
        wide.bias.copy_(layer.bias)
    return wide
