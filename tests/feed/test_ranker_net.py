"""A version trained before ranker inputs were appended reads them with zero weight: the same logits it gave."""

from __future__ import annotations

import torch

from sovereel.feed.ranker_net import RankerNet


def test_a_widened_ranker_gives_the_logits_it_gave_on_the_inputs_it_knew() -> None:
    net = RankerNet(12, hidden=16, dropout=0.0, ensemble=2, seed=3)
    net.mean.copy_(torch.linspace(-1, 1, 12))
    net.scale.copy_(torch.linspace(0.5, 2, 12))
    net.eval()
    x = torch.randn(5, 7, 12)
    with torch.no_grad():
        before = net(x)
        net.widen_inputs(3)
        after = net(torch.cat([x, torch.randn(5, 7, 3) * 100], dim=-1))  # whatever the new inputs say
    assert after.shape == before.shape
    assert torch.equal(before, after)
    assert net.mean.shape == (15,) and net.scale.shape == (15,)
