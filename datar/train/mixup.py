"""Mixup on fbank features (AST mixes waveforms; shards hold fbanks, so we mix those).

With probability ``rate`` a batch is mixed with a permutation of itself:
``x' = lam * x + (1 - lam) * x[perm]``, ``lam ~ Beta(10, 10)`` (AST's parameters), and the
loss is ``lam * CE(y) + (1 - lam) * CE(y[perm])``. Mixing normalised log-mel frames is not
the same as mixing waveforms (log of a sum is not a sum of logs); it is documented as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BETA_ALPHA = 10.0


@dataclass(frozen=True)
class MixPlan:
    """How a batch was mixed: ``perm`` (B,) int64 and weight ``lam`` of the original."""

    perm: torch.Tensor
    lam: float


def maybe_mix(x: torch.Tensor, rate: float) -> tuple[torch.Tensor, MixPlan | None]:
    """Mix the batch ``x`` (B, T, M) with probability ``rate``; uses torch's global RNG."""
    if rate <= 0.0 or x.shape[0] < 2:
        return x, None
    if torch.rand(()).item() >= rate:
        return x, None
    lam = float(torch.distributions.Beta(BETA_ALPHA, BETA_ALPHA).sample())
    perm = torch.randperm(x.shape[0]).to(x.device)
    return lam * x + (1.0 - lam) * x[perm], MixPlan(perm=perm, lam=lam)
