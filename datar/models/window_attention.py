"""Local window attention and shifted-window attention (Swin / DAT stages 1-4).

Windows may be rectangular: a feature map of H x W (mel x time) is split into
``(H / wh) x (W / ww)`` windows. :func:`fit_window` picks, per axis, the largest
divisor of the feature-map size that does not exceed the configured window, so that
any input size works without padding.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


def fit_window(size: int, window: int) -> int:
    """Largest divisor of ``size`` that is <= ``window``.

    Args:
        size: feature-map length along one axis (>= 1).
        window: configured (maximum) window length (>= 1).

    Returns:
        The window length to use along that axis.
    """
    if size < 1:
        raise ValueError(f"size: feature-map length must be >= 1, got {size}")
    if window < 1:
        raise ValueError(f"window: window length must be >= 1, got {window}")
    for w in range(min(size, window), 0, -1):
        if size % w == 0:
            return w
    raise AssertionError("unreachable: 1 divides every size")


def relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """Index into a flattened (2 wh - 1) x (2 ww - 1) table for every query/key pair.

    Returns:
        Long tensor (wh*ww, wh*ww): entry [i, j] = (dy + wh - 1) * (2 ww - 1) + (dx + ww - 1)
        with (dy, dx) = position(i) - position(j) (query minus key, Swin convention).
    """
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N)
    return (rel[0] + wh - 1) * (2 * ww - 1) + (rel[1] + ww - 1)


def shifted_window_mask(h: int, w: int, wh: int, ww: int, sh: int, sw: int) -> torch.Tensor:
    """Additive mask that stops tokens from attending across the roll seam.

    Returns:
        Float tensor (nW, wh*ww, wh*ww) with 0 inside a region and -100 across regions,
        nW = (h / wh) * (w / ww).
    """
    region = torch.zeros(h, w)
    hs = [slice(0, h - wh), slice(h - wh, h - sh), slice(h - sh, h)] if sh > 0 else [slice(0, h)]
    ws = [slice(0, w - ww), slice(w - ww, w - sw), slice(w - sw, w)] if sw > 0 else [slice(0, w)]
    label = 0
    for a in hs:
        for b in ws:
            region[a, b] = label
            label += 1
    win = region.view(h // wh, wh, w // ww, ww).permute(0, 2, 1, 3).reshape(-1, wh * ww)
    diff = win[:, None, :] - win[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside non-overlapping (optionally shifted) windows.

    The relative position bias table has shape (heads, 2 wh - 1, 2 ww - 1).

    Args:
        dim: channels C.
        num_heads: attention heads (must divide ``dim``).
        window: (wh, ww) window size; must divide the feature map at forward time.
        mode: ``"local"`` (plain windows) or ``"shifted"`` (the map rolled by ceil(w / 2)
            per axis as DAT does, with a -100 mask across the roll seam; an axis whose
            window spans the whole map is not shifted).
        fmap_size: (H, W) feature-map size this layer is built for (the shift and the
            seam mask depend on it; forward checks it).
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        window: tuple[int, int],
        mode: Literal["local", "shifted"] = "local",
        fmap_size: tuple[int, int],
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"num_heads: {num_heads} does not divide dim {dim}")
        if mode not in ("local", "shifted"):
            raise ValueError(f"mode: expected 'local' or 'shifted', got {mode!r}")
        wh, ww = window
        h, w = fmap_size
        if h % wh or w % ww:
            raise ValueError(f"window: {window} does not divide fmap_size {fmap_size}")
        self.dim = dim
        self.num_heads = num_heads
        self.window = (wh, ww)
        self.mode = mode
        self.fmap_size = (h, w)
        # DAT shifts by ceil(w / 2); an axis whose window spans the whole map is not shifted.
        self.shift = (
            (math.ceil(wh / 2) if 1 < wh < h else 0, math.ceil(ww / 2) if 1 < ww < w else 0)
            if mode == "shifted" else (0, 0)
        )
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_table = nn.Parameter(torch.zeros(num_heads, 2 * wh - 1, 2 * ww - 1))
        nn.init.trunc_normal_(self.rel_pos_table, std=0.01)
        self.register_buffer("rel_pos_index", relative_position_index(wh, ww), persistent=False)
        sh, sw = self.shift
        self.register_buffer("attn_mask", shifted_window_mask(h, w, wh, ww, sh, sw) if sh or sw else None,
                             persistent=False)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.num_heads}, window={self.window}, mode={self.mode}, shift={self.shift}"

    def relative_bias(self) -> torch.Tensor:
        """Bias added to the logits: (heads, wh*ww, wh*ww)."""
        n = self.window[0] * self.window[1]
        table = self.rel_pos_table.flatten(1)  # (heads, (2wh-1)(2ww-1))
        return table[:, self.rel_pos_index.flatten()].view(self.num_heads, n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        b, h, w, c = x.shape
        if (h, w) != self.fmap_size:
            raise ValueError(f"x: expected a {self.fmap_size[0]} x {self.fmap_size[1]} map, got {h} x {w}")
        wh, ww = self.window
        sh, sw = self.shift
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        nh, nw = h // wh, w // ww
        win = x.view(b, nh, wh, nw, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, wh * ww, c)
        n = wh * ww
        qkv = self.qkv(win).view(-1, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B*nW, heads, n, d)
        mask = self.relative_bias().unsqueeze(0)  # (1, heads, n, n)
        if sh or sw:  # + the seam mask of each window, the same for every batch item
            mask = (mask + self.attn_mask.to(mask.dtype)[:, None]).unsqueeze(0)  # (1, nW, heads, n, n)
            mask = mask.expand(b, -1, -1, -1, -1).reshape(b * nh * nw, self.num_heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype), scale=self.scale)
        out = out.transpose(1, 2).reshape(-1, n, c)
        out = self.proj(out)
        out = out.view(b, nh, nw, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        if sh or sw:
            out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
        return out
