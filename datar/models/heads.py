"""Classification heads: one linear layer per label head (e.g. ``label`` or ``verb``/``noun``)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


def check_heads(heads: dict[str, int]) -> dict[str, int]:
    """Validate a ``{head name: number of classes}`` mapping; returns a plain copy."""
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"heads: expected a non-empty dict of head name -> classes, got {heads!r}")
    for name, n in heads.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"heads: head name {name!r} must be an identifier-like string")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"heads: head {name!r} needs a positive integer number of classes, got {n!r}")
    return dict(heads)


class Head(nn.Module):
    """Optional LayerNorm then a linear classifier.

    Args:
        in_features: pooled feature size.
        num_classes: output classes.
        norm: ``"none"`` or ``"layernorm"`` (AST's MLP head is LayerNorm + Linear).
    """

    def __init__(self, *, in_features: int, num_classes: int, norm: Literal["none", "layernorm"] = "none") -> None:
        super().__init__()
        if norm not in ("none", "layernorm"):
            raise ValueError(f"norm: expected 'none' or 'layernorm', got {norm!r}")
        self.norm = nn.LayerNorm(in_features) if norm == "layernorm" else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> logits (B, num_classes)."""
        return self.fc(self.norm(x))


class ClassificationHeads(nn.Module):
    """A head per label; ``forward`` returns ``{name: logits (B, n_classes)}``.

    Args:
        in_features: pooled feature size F.
        heads: ``{name: number of classes}``, e.g. ``{"label": 32}`` or
            ``{"verb": 97, "noun": 300}`` (EPIC: action = both heads right).
        norm: per-head normalisation, see :class:`Head`.
    """

    def __init__(self, *, in_features: int, heads: dict[str, int], norm: Literal["none", "layernorm"] = "none") -> None:
        super().__init__()
        self.heads = nn.ModuleDict(
            {name: Head(in_features=in_features, num_classes=n, norm=norm) for name, n in check_heads(heads).items()}
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, F) -> {head: (B, n_classes)}."""
        return {name: head(x) for name, head in self.heads.items()}
