"""AST baseline (Gong et al. 2021) built from ``transformers``' AST model classes.

ViT over the (M x T) fbank with 16x16 patches at stride 10 (12 x 101 = 1212 patches for
128 x 1024), cls + distillation tokens; output = mean of the two tokens after the final
LayerNorm, then LayerNorm + Linear per label head. The encoder's LayerNorms use eps 1e-6
as AST, DeiT and timm do; the head's LayerNorm is PyTorch's default (1e-5) as in AST's
``mlp_head``. Built from an ``ASTConfig`` only:
nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .heads import ClassificationHeads


@dataclass(frozen=True)
class ASTSize:
    """Width and depth of the AST encoder (B/S/T follow DeiT-B/S/Ti)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int


AST_SIZES: dict[str, ASTSize] = {
    "tiny": ASTSize(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=256),
    "T": ASTSize(hidden_size=192, num_layers=12, num_heads=3, intermediate_size=768),
    "S": ASTSize(hidden_size=384, num_layers=12, num_heads=6, intermediate_size=1536),
    "B": ASTSize(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072),
}


def ast_grid(num_mel_bins: int, target_length: int, *, patch_size: int = 16, stride: int = 10) -> tuple[int, int]:
    """Patch grid (frequency, time) of AST's overlapping patch embedding."""
    f = (num_mel_bins - patch_size) // stride + 1
    t = (target_length - patch_size) // stride + 1
    if num_mel_bins < patch_size or target_length < patch_size:
        raise ValueError(
            f"num_mel_bins/target_length: AST needs at least {patch_size} x {patch_size}, got "
            f"{num_mel_bins} x {target_length}"
        )
    return f, t


class ASTClassifier(nn.Module):
    """AST with one LayerNorm + Linear head per label.

    Args:
        size: encoder width/depth.
        num_mel_bins: M.
        target_length: T.
        heads: ``{head name: classes}``.
        patch_size: square patch size (16).
        stride: patch stride in both axes (10).
        dropout: hidden and attention dropout.
        attention: ``"sdpa"`` (fast) or ``"eager"`` (explicit matmuls; what
            :func:`datar.models.macs.count_macs` sees either way).

    Attributes:
        audio_spectrogram_transformer: the ``transformers.ASTModel``.
        adaptor: always None (the baseline has no adaptor).
    """

    def __init__(
        self,
        *,
        size: ASTSize,
        num_mel_bins: int,
        target_length: int,
        heads: dict[str, int],
        patch_size: int = 16,
        stride: int = 10,
        dropout: float = 0.0,
        attention: Literal["sdpa", "eager"] = "sdpa",
    ) -> None:
        super().__init__()
        if attention not in ("sdpa", "eager"):
            raise ValueError(f"attention: expected 'sdpa' or 'eager', got {attention!r}")
        self.grid = ast_grid(num_mel_bins, target_length, patch_size=patch_size, stride=stride)
        self.num_mel_bins = num_mel_bins
        self.target_length = target_length
        from transformers import ASTConfig, ASTModel  # here: importing transformers takes ~2.5 s, DAT jobs skip it

        self.config = ASTConfig(
            hidden_size=size.hidden_size,
            num_hidden_layers=size.num_layers,
            num_attention_heads=size.num_heads,
            intermediate_size=size.intermediate_size,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            patch_size=patch_size,
            frequency_stride=stride,
            time_stride=stride,
            max_length=target_length,
            num_mel_bins=num_mel_bins,
            layer_norm_eps=1e-6,  # AST / DeiT / timm (transformers' default is 1e-12)
        )
        self.config._attn_implementation = attention
        self.audio_spectrogram_transformer = ASTModel(self.config)
        self.adaptor = None
        self.heads = ClassificationHeads(in_features=size.hidden_size, heads=heads, norm="layernorm")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, T, M) -> {head: logits (B, n_classes)}."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.target_length, self.num_mel_bins):
            raise ValueError(f"x: expected (B, T={self.target_length}, M={self.num_mel_bins}), got {tuple(x.shape)}")
        pooled = self.audio_spectrogram_transformer(input_values=x).pooler_output  # (B, hidden)
        return self.heads(pooled)
