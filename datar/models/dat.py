"""Pyramid DAT backbone and classifier for 1-channel spectrograms (DATAR).

Stem: 4x4 stride-4 conv + LN. Four stages; stages 1-2 alternate local-window and
shifted-window attention, stages 3-4 alternate local-window and deformable attention.
Between stages: 2x2 stride-2 conv + LN. Head: LN, global average pool, linear per label.
Feature maps are (H, W) = (mel, time), never assumed square: with a 128 x 1024 input
they are 32x256, 16x128, 8x64, 4x32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .adaptor import InputAdaptor
from .block import TransformerBlock
from .deformable_attention import DeformableAttention
from .heads import ClassificationHeads
from .noise import InputNoise
from .window_attention import WindowAttention, fit_window


@dataclass(frozen=True)
class DATSize:
    """Widths and depths of a DAT backbone (DAT-T / S / B of Xia et al. 2022).

    Attributes:
        dims: channels per stage.
        depths: blocks per stage (block i of a stage is local-window attention for even
            i, shifted-window (stages 1-2) or deformable (stages 3-4) for odd i).
        heads: attention heads per stage.
        groups: offset groups of the deformable layers in stages 3 and 4.
        drop_path_rate: DAT's stochastic-depth rate for this size (its ImageNet recipe:
            T 0.2, S 0.3, B 0.5); the default of ``DATClassifier(drop_path_rate=None)``.
        patch_size: stem stride.
        mlp_ratio: MLP hidden width / channels.
    """

    dims: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    heads: tuple[int, int, int, int]
    groups: tuple[int, int]
    drop_path_rate: float = 0.0
    patch_size: int = 4
    mlp_ratio: float = 4.0


DAT_SIZES: dict[str, DATSize] = {
    "tiny": DATSize(dims=(16, 32, 64, 128), depths=(2, 2, 2, 2), heads=(1, 2, 4, 8), groups=(2, 4)),
    "T": DATSize(dims=(96, 192, 384, 768), depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), groups=(3, 6),
                 drop_path_rate=0.2),
    "S": DATSize(dims=(96, 192, 384, 768), depths=(2, 2, 18, 2), heads=(3, 6, 12, 24), groups=(3, 6),
                 drop_path_rate=0.3),
    "B": DATSize(dims=(128, 256, 512, 1024), depths=(2, 2, 18, 2), heads=(4, 8, 16, 32), groups=(4, 8),
                 drop_path_rate=0.5),
}

#: DAT's settings at 128 x 1024 (DESIGN.md §4 / §4b): windows per stage (7 at 224 px does
#: not divide the 32x256 ... 4x32 maps), offset-network kernels of stages 3 and 4 (DAT's
#: 9-7-5-3 by stage), offset range factor f and key stride r of stages 3-4.
DEFAULT_WINDOWS: tuple[int, int, int, int] = (8, 8, 8, 4)
DEFAULT_OFFSET_KERNEL: tuple[int, int] = (5, 3)
DEFAULT_OFFSET_RANGE_FACTOR = 2.0
DEFAULT_KV_STRIDE = 1


def stage_fmap_sizes(num_mel_bins: int, target_length: int, patch_size: int = 4) -> list[tuple[int, int]]:
    """Feature-map (H, W) of the four stages for a (mel, time) input."""
    h, w = num_mel_bins // patch_size, target_length // patch_size
    sizes = []
    for i in range(4):
        if h < 1 or w < 1:
            raise ValueError(
                f"num_mel_bins/target_length: input {num_mel_bins} x {target_length} is too small for "
                f"stage {i + 1} of the pyramid (needs at least {patch_size * 8} x {patch_size * 8})"
            )
        sizes.append((h, w))
        h, w = h // 2, w // 2
    return sizes


class ConvNorm(nn.Module):
    """Strided conv then LayerNorm over channels: (B, Cin, H, W) -> (B, H', W', Cout).

    Args:
        in_channels: Cin.
        out_channels: Cout.
        kernel_size: kernel = stride (non-overlapping patches).
        bias: whether the conv has a bias (the stem does, DAT's downsampling convs do not).
    """

    def __init__(self, *, in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size, stride=kernel_size, bias=bias)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class DATStage(nn.Module):
    """One pyramid stage: ``depth`` transformer blocks on an (H, W) map.

    Args:
        dim: channels.
        depth: number of blocks.
        num_heads: attention heads.
        fmap_size: (H, W).
        window: configured window; fitted per axis with :func:`fit_window`.
        second: attention of the odd blocks: ``"shifted"`` window or ``"deformable"``.
        groups: offset groups (deformable only).
        offsets: ``"learned"`` or ``"fixed"`` (deformable only).
        offset_range_factor: f (deformable only).
        offset_kernel_size: offset-network kernel (deformable only).
        kv_stride: r (deformable only).
        mlp_ratio: MLP width ratio.
        drop_path: per-block stochastic-depth probabilities (length ``depth``).
    """

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        num_heads: int,
        fmap_size: tuple[int, int],
        window: int,
        second: Literal["shifted", "deformable"],
        groups: int = 1,
        offsets: Literal["learned", "fixed"] = "learned",
        offset_range_factor: float = DEFAULT_OFFSET_RANGE_FACTOR,
        offset_kernel_size: int = 5,
        kv_stride: int = DEFAULT_KV_STRIDE,
        mlp_ratio: float = 4.0,
        drop_path: tuple[float, ...] = (),
    ) -> None:
        super().__init__()
        h, w = fmap_size
        self.fmap_size = (h, w)
        self.window = (fit_window(h, window), fit_window(w, window))
        dpr = drop_path or (0.0,) * depth
        blocks = []
        for i in range(depth):
            if i % 2 == 0 or second == "shifted":
                attn: nn.Module = WindowAttention(
                    dim=dim, num_heads=num_heads, window=self.window, fmap_size=(h, w),
                    mode="local" if i % 2 == 0 else "shifted",
                )
            else:
                attn = DeformableAttention(
                    dim=dim, num_heads=num_heads, groups=groups, fmap_size=(h, w), offsets=offsets,
                    offset_range_factor=offset_range_factor, offset_kernel_size=offset_kernel_size,
                    kv_stride=kv_stride,
                )
            blocks.append(TransformerBlock(dim=dim, attn=attn, mlp_ratio=mlp_ratio, drop_path=dpr[i]))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        for block in self.blocks:
            x = block(x)
        return x


class DATClassifier(nn.Module):
    """DAT / DATAR classifier over (B, T, M) fbank batches.

    Args:
        size: backbone widths and depths.
        num_mel_bins: M (input height after the internal transpose).
        target_length: T frames (input width).
        heads: ``{head name: classes}``.
        offsets: ``"learned"`` (deformable) or ``"fixed"`` (offsets held at 0).
        input_transform: ``"none"``, ``"gaussian"`` / ``"laplace"`` (training-time input
            noise of scale ``noise_scale``) or ``"adaptor"`` (eq. 5 with ``adaptor_lambda``).
        noise_scale: sigma / b of the input noise (required for the noise transforms).
        adaptor_lambda: lambda of the adaptor (required for ``"adaptor"``).
        adaptor_kernel_size: kernel of the adaptor's W.
        windows: configured (maximum) window per stage; the window used along each axis
            is the largest divisor of the feature map not above it.
        offset_range_factor: f of the deformable layers (DAT: 2).
        offset_kernel: offset-network kernels of stages 3 and 4 (DAT: 5, 3).
        kv_stride: key-grid subsampling r of the deformable layers (DAT-T/S/B: 1).
        drop_path_rate: stochastic depth, linearly increasing over the blocks from 0 to
            this value (DAT's rule); None = the size's DAT value.

    Attributes:
        adaptor: :class:`InputAdaptor` or None.
        noise: :class:`InputNoise` or None.
    """

    def __init__(
        self,
        *,
        size: DATSize,
        num_mel_bins: int,
        target_length: int,
        heads: dict[str, int],
        offsets: Literal["learned", "fixed"] = "learned",
        input_transform: Literal["none", "gaussian", "laplace", "adaptor"] = "none",
        noise_scale: float | None = None,
        adaptor_lambda: float | None = None,
        adaptor_kernel_size: int = 3,
        windows: tuple[int, int, int, int] = DEFAULT_WINDOWS,
        offset_range_factor: float = DEFAULT_OFFSET_RANGE_FACTOR,
        offset_kernel: tuple[int, int] = DEFAULT_OFFSET_KERNEL,
        kv_stride: int = DEFAULT_KV_STRIDE,
        drop_path_rate: float | None = None,
    ) -> None:
        super().__init__()
        if input_transform not in ("none", "gaussian", "laplace", "adaptor"):
            raise ValueError(f"input_transform: unknown {input_transform!r}")
        if input_transform in ("gaussian", "laplace") and noise_scale is None:
            raise ValueError(f"noise_scale: required for input_transform={input_transform!r}")
        if input_transform == "adaptor" and adaptor_lambda is None:
            raise ValueError("adaptor_lambda: required for input_transform='adaptor'")
        if len(windows) != 4 or any(int(w) < 1 for w in windows):
            raise ValueError(f"windows: expected 4 positive integers (one per stage), got {windows!r}")
        if len(offset_kernel) != 2:
            raise ValueError(f"offset_kernel: expected 2 kernels (stages 3 and 4), got {offset_kernel!r}")
        self.num_mel_bins = num_mel_bins
        self.target_length = target_length
        self.size = size
        fmaps = stage_fmap_sizes(num_mel_bins, target_length, size.patch_size)
        self.noise = InputNoise(kind=input_transform, scale=noise_scale) if input_transform in ("gaussian", "laplace") else None
        self.adaptor = (
            InputAdaptor(channels=1, lam=adaptor_lambda, kernel_size=adaptor_kernel_size)
            if input_transform == "adaptor"
            else None
        )
        self.stem = ConvNorm(in_channels=1, out_channels=size.dims[0], kernel_size=size.patch_size, bias=True)
        rate = size.drop_path_rate if drop_path_rate is None else float(drop_path_rate)
        total = sum(size.depths)
        dpr = [rate * i / max(total - 1, 1) for i in range(total)]
        stages, downs = [], []
        for i in range(4):
            lo = sum(size.depths[:i])
            stages.append(
                DATStage(
                    dim=size.dims[i], depth=size.depths[i], num_heads=size.heads[i], fmap_size=fmaps[i],
                    window=int(windows[i]), second="shifted" if i < 2 else "deformable",
                    groups=size.groups[i - 2] if i >= 2 else 1, offsets=offsets,
                    offset_range_factor=offset_range_factor,
                    offset_kernel_size=int(offset_kernel[i - 2]) if i >= 2 else 5, kv_stride=kv_stride,
                    mlp_ratio=size.mlp_ratio, drop_path=tuple(dpr[lo: lo + size.depths[i]]),
                )
            )
            if i < 3:
                downs.append(ConvNorm(in_channels=size.dims[i], out_channels=size.dims[i + 1], kernel_size=2, bias=False))
        self.stages = nn.ModuleList(stages)
        self.downsamples = nn.ModuleList(downs)
        self.norm = nn.LayerNorm(size.dims[3])
        self.heads = ClassificationHeads(in_features=size.dims[3], heads=heads)

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        """Check and transpose a fbank batch: (B, T, M) -> (B, 1, M, T)."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.target_length, self.num_mel_bins):
            raise ValueError(
                f"x: expected (B, T={self.target_length}, M={self.num_mel_bins}), got {tuple(x.shape)}"
            )
        return x.transpose(1, 2).unsqueeze(1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, M) -> pooled features (B, C4)."""
        img = self.to_image(x)
        if self.noise is not None:
            img = self.noise(img)
        if self.adaptor is not None:
            img = self.adaptor(img)
        h = self.stem(img)  # (B, H, W, C)
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if i < 3:
                h = self.downsamples[i](h.permute(0, 3, 1, 2))
        return self.norm(h).mean(dim=(1, 2))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, T, M) -> {head: logits (B, n_classes)}."""
        return self.heads(self.forward_features(x))
