"""Input perturbations of the Table 4 ablations: N(0, sigma) or Laplace(0, b) noise."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class InputNoise(nn.Module):
    """Adds zero-mean noise to the input while training; the identity in eval mode.

    Args:
        kind: ``"gaussian"`` (standard deviation ``scale``) or ``"laplace"`` (scale
            parameter ``scale``, i.e. standard deviation sqrt(2) * scale).
        scale: sigma or b (paper: 0.005).
    """

    def __init__(self, *, kind: Literal["gaussian", "laplace"], scale: float = 0.005) -> None:
        super().__init__()
        if kind not in ("gaussian", "laplace"):
            raise ValueError(f"kind: expected 'gaussian' or 'laplace', got {kind!r}")
        if scale < 0:
            raise ValueError(f"scale: must be >= 0, got {scale}")
        self.kind = kind
        self.scale = float(scale)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, scale={self.scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(...) -> (...), noisy only when ``self.training``."""
        if not self.training or self.scale == 0.0:
            return x
        if self.kind == "gaussian":
            return x + torch.randn_like(x) * self.scale
        # u in (-0.5, 0.5) strictly: clamping rand's [0, 1) to [eps, 1 - eps] *before*
        # subtracting 0.5 keeps 1 - 2|u| > 0 (clamping to `tiny` is lost in the subtraction,
        # and rand's exact 0 then gave log1p(-1) = -inf: a NaN loss in training).
        eps = torch.finfo(x.dtype).eps
        u = torch.rand_like(x).clamp_(min=eps, max=1.0 - eps) - 0.5
        return x - self.scale * torch.sign(u) * torch.log1p(-2.0 * u.abs())
