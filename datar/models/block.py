"""Pre-norm transformer block (paper eq. 1) over channels-last feature maps."""

from __future__ import annotations

import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch per sample while training.

    Args:
        p: probability of dropping the branch (0 disables it).
    """

    def __init__(self, *, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p: drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Mlp(nn.Module):
    """Two linear layers with a GELU in between.

    Args:
        dim: input and output channels C.
        hidden_dim: hidden channels (DAT / Swin: 4 C).
    """

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., C)."""
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """``z' = attn(LN(z)) + z``; ``z'' = MLP(LN(z')) + z'`` (paper eq. 1).

    Args:
        dim: channels C.
        attn: attention module mapping (B, H, W, C) -> (B, H, W, C).
        mlp_ratio: hidden width of the MLP as a multiple of C.
        drop_path: stochastic-depth probability of both residual branches.
    """

    def __init__(self, *, dim: int, attn: nn.Module, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim=dim, hidden_dim=int(round(dim * mlp_ratio)))
        self.drop_path = DropPath(p=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))
