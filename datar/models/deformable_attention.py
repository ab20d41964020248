"""Deformable multi-head attention (paper eqs. 2-4; DAT, Xia et al. 2022).

Coordinate convention (used everywhere in this module, and by
:func:`datar.models.collect_sampling_points`): positions are normalised to [-1, 1]
per axis with ``align_corners=True`` semantics, i.e. -1 is the *centre* of the first
row/column of the feature map and +1 the centre of the last. Reference points are
``linspace(-1, 1, n)`` per axis, so with zero offsets and ``kv_stride = 1`` bilinear
sampling returns exactly the features at the grid points. The last dimension of a
point tensor is ``(y, x)`` = (mel, time).

Offsets are in units of the reference-grid spacing: ``offset = s * tanh(raw)`` cells,
so no point moves further than ``s`` cells from its reference point along either axis
(one cell = ``2 / (n - 1)`` in normalised units; an axis with a single reference point
cannot move). Note that DAT's ``offset_range_factor = f`` equals ``s = f / 2`` here.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


def reference_points(h: int, w: int, *, device=None, dtype=None) -> torch.Tensor:
    """Uniform grid of reference points.

    Returns:
        (h, w, 2) tensor of (y, x) in [-1, 1]; a single point along an axis sits at 0.
    """
    ys = torch.linspace(-1.0, 1.0, h, device=device, dtype=dtype) if h > 1 else torch.zeros(1, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=device, dtype=dtype) if w > 1 else torch.zeros(1, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gy, gx], dim=-1)


def _half_extent(n: int) -> float:
    """(n - 1) / 2: pixels per normalised unit along an axis of n samples."""
    return (n - 1) / 2.0


class OffsetGenerator(nn.Module):
    """Audio offset generator theta_offset: depthwise k x k conv, GELU, 1x1 conv to 2 (no bias).

    Args:
        channels: channels per offset group (C / groups).
        kernel_size: depthwise kernel (paper: 5).
        stride: reference-grid subsampling factor r.
    """

    def __init__(self, *, channels: int, kernel_size: int = 5, stride: int = 1) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be a positive odd integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"stride: must be >= 1, got {stride}")
        self.dwconv = nn.Conv2d(channels, channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=channels)
        self.act = nn.GELU()
        self.pointwise = nn.Conv2d(channels, 2, 1, bias=False)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        """(B*G, C/G, H, W) -> raw offsets (B*G, 2, Hk, Wk), channel order (y, x)."""
        return self.pointwise(self.act(self.dwconv(q)))


class DeformableAttention(nn.Module):
    """Deformable multi-head attention over a (B, H, W, C) feature map.

    q = X W_q; offsets = s * tanh(theta_offset(q)) per offset group; keys and values
    are projections of X sampled bilinearly at reference + offset (eq. 2-3); the logits
    get a relative position bias sampled bilinearly from a (2 H0 - 1) x (2 W0 - 1) table
    per head at the continuous query-key displacements (eq. 4).

    Args:
        dim: channels C.
        num_heads: attention heads M (divisible by ``groups``).
        groups: offset groups G; each group of C/G channels (M/G heads) shares offsets.
        fmap_size: (H0, W0) feature-map size the bias table is built for.
        offsets: ``"learned"`` (the deformable attention) or ``"fixed"`` (offsets held
            at 0: keys/values at the reference grid; no offset network is built).
        offset_scale: s, the largest offset in reference-grid cells.
        offset_kernel_size: depthwise kernel of the offset generator (paper: 5).
        kv_stride: subsampling factor r of the reference grid (1 = one key per token).

    Attributes:
        record_points: when True, each forward stores ``last_points`` (B, G, Hk, Wk, 2)
            (y, x) in [-1, 1] and ``last_reference`` (Hk, Wk, 2), detached.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        groups: int,
        fmap_size: tuple[int, int],
        offsets: Literal["learned", "fixed"] = "learned",
        offset_scale: float = 2.0,
        offset_kernel_size: int = 5,
        kv_stride: int = 1,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"num_heads: {num_heads} does not divide dim {dim}")
        if groups < 1 or num_heads % groups != 0:
            raise ValueError(f"groups: {groups} must be >= 1 and divide num_heads {num_heads}")
        if offsets not in ("learned", "fixed"):
            raise ValueError(f"offsets: expected 'learned' or 'fixed', got {offsets!r}")
        if offset_scale < 0:
            raise ValueError(f"offset_scale: must be >= 0, got {offset_scale}")
        if kv_stride < 1:
            raise ValueError(f"kv_stride: must be >= 1, got {kv_stride}")
        self.dim = dim
        self.num_heads = num_heads
        self.groups = groups
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.fmap_size = tuple(fmap_size)
        self.offsets = offsets
        self.offset_scale = float(offset_scale)
        self.kv_stride = kv_stride
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.offset_net = (
            OffsetGenerator(channels=dim // groups, kernel_size=offset_kernel_size, stride=kv_stride)
            if offsets == "learned"
            else None
        )
        self.offset_kernel_size = offset_kernel_size
        h0, w0 = self.fmap_size
        self.rpe_table = nn.Parameter(torch.zeros(num_heads, 2 * h0 - 1, 2 * w0 - 1))
        nn.init.trunc_normal_(self.rpe_table, std=0.01)
        self.record_points = False
        self.last_points: torch.Tensor | None = None
        self.last_reference: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.num_heads}, groups={self.groups}, offsets={self.offsets}, "
            f"s={self.offset_scale}, r={self.kv_stride}, fmap={self.fmap_size}"
        )

    def key_grid_size(self, h: int, w: int) -> tuple[int, int]:
        """Reference grid (Hk, Wk) = ceil(H / r), ceil(W / r)."""
        r = self.kv_stride
        return (h - 1) // r + 1, (w - 1) // r + 1

    def sampling_positions(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Deformed sampling positions from the queries.

        Args:
            q: queries (B, H, W, C).

        Returns:
            ``(pos, ref)``: pos (B*G, Hk, Wk, 2) = ref + offsets, ref (Hk, Wk, 2); (y, x) in [-1, 1].
        """
        b, h, w, c = q.shape
        hk, wk = self.key_grid_size(h, w)
        ref = reference_points(hk, wk, device=q.device, dtype=q.dtype)
        if self.offset_net is None:
            return ref.expand(b * self.groups, hk, wk, 2), ref
        q_groups = q.permute(0, 3, 1, 2).reshape(b * self.groups, c // self.groups, h, w)
        raw = self.offset_net(q_groups)  # (B*G, 2, Hk, Wk)
        assert raw.shape[-2:] == (hk, wk), "offset grid must match the reference grid"
        cell = torch.tensor(
            [2.0 / (hk - 1) if hk > 1 else 0.0, 2.0 / (wk - 1) if wk > 1 else 0.0], device=q.device, dtype=q.dtype
        )
        offset = self.offset_scale * torch.tanh(raw).permute(0, 2, 3, 1) * cell  # (B*G, Hk, Wk, 2)
        return ref + offset, ref

    def position_bias(self, pos: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Deformable relative position bias phi(B_hat; R).

        Args:
            pos: key positions (B*G, Hk, Wk, 2), (y, x) in [-1, 1] of an (h, w) map.
            h: query-map height.
            w: query-map width.

        Returns:
            (B*G, M/G, h*w, Hk*Wk) bias: the table bilinearly sampled at the displacement
            (query - key) in pixels; an integer displacement (dy, dx) reads entry
            [dy + H0 - 1, dx + W0 - 1] exactly.
        """
        bg = pos.shape[0]
        h0, w0 = self.fmap_size
        qgrid = reference_points(h, w, device=pos.device, dtype=pos.dtype).view(1, h * w, 1, 2)
        disp_norm = qgrid - pos.reshape(bg, 1, -1, 2)  # (B*G, hw, Nk, 2)
        pix = disp_norm * torch.tensor([_half_extent(h), _half_extent(w)], device=pos.device, dtype=pos.dtype)
        # Table coordinate: pixel displacement d sits at index d + (n0 - 1) of 2 n0 - 1 entries.
        to_table = torch.tensor(
            [1.0 / (h0 - 1) if h0 > 1 else 0.0, 1.0 / (w0 - 1) if w0 > 1 else 0.0], device=pos.device, dtype=pos.dtype
        )
        grid = (pix * to_table)[..., (1, 0)]  # grid_sample wants (x, y)
        table = self.rpe_table.to(pos.dtype).view(self.groups, self.num_heads // self.groups, 2 * h0 - 1, 2 * w0 - 1)
        table = table.repeat(bg // self.groups, 1, 1, 1)  # (B*G, M/G, 2H0-1, 2W0-1)
        return F.grid_sample(table, grid, mode="bilinear", padding_mode="border", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        b, h, w, c = x.shape
        g, m, d = self.groups, self.num_heads, self.head_dim
        q = self.q(x)
        pos, ref = self.sampling_positions(q)
        if self.record_points:
            self.last_points = pos.detach().view(b, g, *pos.shape[1:])
            self.last_reference = ref.detach()
        x_groups = x.permute(0, 3, 1, 2).reshape(b * g, c // g, h, w)
        sampled = F.grid_sample(x_groups, pos[..., (1, 0)], mode="bilinear", padding_mode="zeros", align_corners=True)
        nk = sampled.shape[-2] * sampled.shape[-1]
        sampled = sampled.view(b, c, nk).transpose(1, 2)  # (B, Nk, C)
        k = self.k(sampled).view(b, nk, m, d).transpose(1, 2)  # (B, M, Nk, d)
        v = self.v(sampled).view(b, nk, m, d).transpose(1, 2)
        qh = q.view(b, h * w, m, d).transpose(1, 2)  # (B, M, HW, d)
        logits = (qh * self.scale) @ k.transpose(-2, -1)  # (B, M, HW, Nk)
        logits = logits + self.position_bias(pos, h, w).reshape(b, m, h * w, nk)
        out = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, h, w, c)
        return self.proj(out)
