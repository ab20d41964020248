"""Learnable input adaptor (paper eq. 5): ``out = x + lambda * (b + W * x)``."""

from __future__ import annotations

import torch
from torch import nn


class InputAdaptor(nn.Module):
    """Adds a learned, input-dependent signal to the spectrogram planes.

    ``W * x`` is a 2D cross-correlation over the input planes with "same" padding, ``b``
    a per-channel bias. Both start from PyTorch's default Conv2d initialisation (the paper
    does not state one).

    Args:
        channels: input planes C (1 for a log-mel spectrogram).
        lam: lambda, the strength of the adaptor (paper: 0.2 or 0.005; 0 is the identity).
        kernel_size: odd size of W (default 3).
    """

    def __init__(self, *, channels: int = 1, lam: float, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be a positive odd integer, got {kernel_size}")
        if channels < 1:
            raise ValueError(f"channels: must be >= 1, got {channels}")
        self.lam = float(lam)
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=True)

    def extra_repr(self) -> str:
        return f"lam={self.lam}"

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """What the adaptor adds: lambda * (b + W * x); (B, C, H, W) -> (B, C, H, W)."""
        return self.lam * self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> adapted input (B, C, H, W)."""
        return x + self.delta(x)
