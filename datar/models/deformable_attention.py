"""Deformable multi-head attention (paper eqs. 2-4) in DAT's exact conventions.

DAT (Xia et al., CVPR 2022) is what the paper fine-tunes, so this module computes the
function of DAT's official module on the same weights (``../shared/DESIGN.md`` §4b).
For a query map H x W and a key grid Hk x Wk = ceil(H / r) x ceil(W / r):

- offset network, per group of C/G channels: depthwise k x k conv (stride r, padding
  k // 2) -> LayerNorm over the channels (affine, channels-last) -> GELU -> 1x1 conv to
  2 channels without bias;
- reference points at pixel centres, ``y_i = ((i + 0.5) / Hk) * 2 - 1`` (x likewise),
  used with ``grid_sample(..., align_corners=True)`` (so zero-offset keys sit a fraction
  of a pixel off the feature grid: DAT's convention);
- offsets ``tanh(raw) * f * (1/Hk, 1/Wk)`` in normalised units, f = ``offset_range_factor``;
- keys / values: projections of ``grid_sample`` (bilinear, zero padding) of the group's
  channels at reference + offset;
- position bias: the query grid by the same centre formula over H x W, displacement
  ``(q - pos) * 0.5``, bilinear ``grid_sample`` (zero padding, ``align_corners=True``) of
  the group's heads of the (heads, 2H - 1, 2W - 1) table, added to the scaled logits.

Positions are (y, x) = (mel, time) in the last dimension. Coordinates are float32 even
under bf16 autocast (float64 when the input is float64): bf16 cannot hold a 64-wide grid.
The grids are cached per (shape, device, dtype), so nothing is built on the host per call.
On CPU the displacement grid is a matrix product (:func:`outer_difference`, bit-identical)
and the bias + attention run in chunks of queries (:data:`CPU_BIAS_CHUNK_ELEMENTS`): the
same function, written the way a CPU computes it fast (``benchmarks/models_cost.md``).
"""

from __future__ import annotations

import contextlib
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


# On CPU the bias + attention run in chunks of queries whose bias holds at most this many
# elements (16 MiB in float32): below glibc's mmap threshold and near cache size.
CPU_BIAS_CHUNK_ELEMENTS = 1 << 22


def coordinate_dtype(dtype: torch.dtype) -> torch.dtype:
    """Coordinates are float64 for float64 inputs and float32 otherwise (bf16 / fp16 / fp32)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def centre_grid(h: int, w: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre grid of an h x w map in DAT's normalised coordinates.

    Returns:
        (h, w, 2) tensor of (y, x), ``y_i = ((i + 0.5) / h) * 2 - 1``, ``x_j`` likewise.
    """
    ys = (torch.arange(h, device=device, dtype=torch.float64) + 0.5) / h * 2 - 1
    xs = (torch.arange(w, device=device, dtype=torch.float64) + 0.5) / w * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gy, gx], dim=-1).to(dtype)


_PLAIN_COORDINATES = False


@contextlib.contextmanager
def plain_coordinates():
    """Within it, :func:`outer_difference` is the broadcast subtraction on every device.

    For :func:`datar.models.macs.count_macs`: a MAC counter sees matrix products, and the
    CPU form's product is coordinate arithmetic (a subtraction), not a MAC of the model.
    """
    global _PLAIN_COORDINATES
    before, _PLAIN_COORDINATES = _PLAIN_COORDINATES, True
    try:
        yield
    finally:
        _PLAIN_COORDINATES = before


def outer_difference(a: torch.Tensor, b: torch.Tensor, *, parts: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor:
    """``a[i] - b[g, k]`` for every i, g, k: (n, 2), (G, Nk, 2) -> (G, n, Nk, 2), exactly.

    On CUDA (and for dtypes other than float32 / float64) a broadcast subtraction. On CPU
    that subtraction runs an inner loop of 2 elements (the broadcast pattern of the last
    dimension keeps the loops from merging) and writes about 1 GB/s; there it is one
    batched matrix product ``[a, 1] @ [[I I ... I], -b]`` (inner dimension 3) instead,
    which writes the same numbers at memory speed: each output is ``a_c * 1 + a_c' * 0 +
    1 * (-b_c)``, in which every product is exact and only one sum is inexact, so any
    summation order, with or without FMA, rounds it as ``a_c - b_c`` does (bit-identical;
    ``tests/test_models.py`` checks it). Autocast is off for it: coordinates must not pass
    through bf16.

    Args:
        a: (n, 2).
        b: (G, Nk, 2).
        parts: ``([a, 1], [I I ... I])`` if the caller caches them (see :func:`difference_parts`).
    """
    g, nk, _ = b.shape
    n = a.shape[0]
    if (_PLAIN_COORDINATES or a.device.type != "cpu" or a.dtype not in (torch.float32, torch.float64)
            or b.dtype != a.dtype):
        return a.view(1, n, 1, 2) - b.view(g, 1, nk, 2)
    lhs, select = parts if parts is not None else difference_parts(a, nk)
    with torch.autocast("cpu", enabled=False):
        rhs = torch.cat([select.expand(g, 2, 2 * nk), -b.reshape(g, 1, 2 * nk)], dim=1)  # (G, 3, Nk*2)
        return torch.matmul(lhs, rhs).view(g, n, nk, 2)


def difference_parts(a: torch.Tensor, nk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The constant factors of :func:`outer_difference`'s product: ``[a, 1]`` (n, 3) and (2, Nk*2)."""
    lhs = torch.cat([a, a.new_ones(a.shape[0], 1)], dim=1)
    select = torch.eye(2, dtype=a.dtype, device=a.device).repeat(1, nk)  # row c: 1 where the column is axis c
    return lhs, select


class SharedDepthwiseConv2d(nn.Conv2d):
    """A depthwise conv of C/G channels applied to each of G channel groups (one kernel set).

    Holds DAT's (C/G, 1, k, k) kernel; :meth:`forward` runs it on all C = G x C/G channels
    at once with the kernel repeated G times, which is running it on each group's slice.
    (As an ``nn.Conv2d`` it is counted by :func:`datar.models.macs.count_macs`: output
    elements x k x k.)
    """

    def forward(self, x: torch.Tensor, groups: int = 1) -> torch.Tensor:  # type: ignore[override]
        """(B, G * C/G, H, W) -> (B, G * C/G, Hk, Wk)."""
        w = self.weight.repeat(groups, 1, 1, 1)
        b = self.bias.repeat(groups) if self.bias is not None else None
        return F.conv2d(x, w, b, stride=self.stride, padding=self.padding, groups=x.shape[1])


class OffsetNetwork(nn.Module):
    """DAT's offset network theta_offset for one group: dwconv k x k -> LN -> GELU -> 1x1 (no bias).

    Args:
        channels: channels per offset group (C / G).
        kernel_size: depthwise kernel k (DAT: 5 in stage 3, 3 in stage 4).
        stride: key-grid subsampling factor r.
    """

    def __init__(self, *, channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: must be a positive odd integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"stride: must be >= 1, got {stride}")
        self.dwconv = SharedDepthwiseConv2d(channels, channels, kernel_size, stride=stride,
                                            padding=kernel_size // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.act = nn.GELU()
        self.pointwise = nn.Linear(channels, 2, bias=False)  # DAT's 1x1 conv, applied channels-last

    def forward(self, q: torch.Tensor, groups: int) -> torch.Tensor:
        """(B, H, W, C) queries of ``groups`` groups -> raw offsets (B*G, Hk, Wk, 2), last dim (y, x).

        The network is shared by the groups, so its depthwise kernel runs on all C channels
        at once (the kernel repeated G times), channels-last as the queries come: the same
        function as running it on each group's (C/G, H, W) slice, without copying them out.
        """
        b, _, _, c = q.shape
        z = self.dwconv(q.permute(0, 3, 1, 2), groups).permute(0, 2, 3, 1)  # (B, Hk, Wk, C)
        hk, wk = z.shape[1:3]
        raw = self.pointwise(self.act(self.norm(z.reshape(b, hk, wk, groups, c // groups))))  # (B, Hk, Wk, G, 2)
        return raw.permute(0, 3, 1, 2, 4).reshape(b * groups, hk, wk, 2)


class DeformableAttention(nn.Module):
    """Deformable multi-head attention over a (B, H, W, C) feature map (DAT's module).

    Args:
        dim: channels C.
        num_heads: attention heads M (divisible by ``groups``).
        groups: offset groups G; group g owns channels [g C/G, (g+1) C/G) and heads
            [g M/G, (g+1) M/G), and shares one set of sampling points.
        fmap_size: (H, W) of the query map; the bias table is (M, 2H - 1, 2W - 1).
        offsets: ``"learned"`` (deformable) or ``"fixed"`` (offsets held at 0: keys and
            values at the reference points; no offset network is built).
        offset_range_factor: f, the offset bound in units of (1/Hk, 1/Wk) (DAT: 2).
        offset_kernel_size: depthwise kernel of the offset network (DAT: 5 / 3).
        kv_stride: r, subsampling of the key grid (DAT-T/S/B: 1).

    Attributes:
        record_points: when True, each forward stores ``last_points`` (B, G, Hk, Wk, 2)
            (y, x) and ``last_reference`` (Hk, Wk, 2), detached.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_heads: int,
        groups: int,
        fmap_size: tuple[int, int],
        offsets: Literal["learned", "fixed"] = "learned",
        offset_range_factor: float = 2.0,
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
        if not offset_range_factor > 0:
            raise ValueError(f"offset_range_factor: must be > 0, got {offset_range_factor}")
        if kv_stride < 1:
            raise ValueError(f"kv_stride: must be >= 1, got {kv_stride}")
        self.dim = dim
        self.num_heads = num_heads
        self.groups = groups
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.fmap_size = (int(fmap_size[0]), int(fmap_size[1]))
        self.offsets = offsets
        self.offset_range_factor = float(offset_range_factor)
        self.offset_kernel_size = offset_kernel_size
        self.kv_stride = kv_stride
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.offset_net = (
            OffsetNetwork(channels=dim // groups, kernel_size=offset_kernel_size, stride=kv_stride)
            if offsets == "learned"
            else None
        )
        h, w = self.fmap_size
        self.rpe_table = nn.Parameter(torch.zeros(num_heads, 2 * h - 1, 2 * w - 1))
        nn.init.trunc_normal_(self.rpe_table, std=0.01)
        self._grids: dict[tuple, torch.Tensor] = {}
        self.bias_chunk_elements: int | None = None  # None: the device's default (CPU_BIAS_CHUNK_ELEMENTS on CPU)
        self.record_points = False
        self.last_points: torch.Tensor | None = None
        self.last_reference: torch.Tensor | None = None

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.num_heads}, groups={self.groups}, offsets={self.offsets}, "
            f"f={self.offset_range_factor}, k={self.offset_kernel_size}, r={self.kv_stride}, fmap={self.fmap_size}"
        )

    def key_grid_size(self) -> tuple[int, int]:
        """Key grid (Hk, Wk) = (ceil(H / r), ceil(W / r)) of the query map."""
        r = self.kv_stride
        h, w = self.fmap_size
        return (h - 1) // r + 1, (w - 1) // r + 1

    def _grid(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Cached :func:`centre_grid` (h, w, 2)."""
        key = (h, w, device, dtype)
        grid = self._grids.get(key)
        if grid is None:
            grid = self._grids[key] = centre_grid(h, w, device=device, dtype=dtype)
        return grid

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:3]) != self.fmap_size or x.shape[3] != self.dim:
            raise ValueError(f"x: expected (B, {self.fmap_size[0]}, {self.fmap_size[1]}, {self.dim}), "
                             f"got {tuple(x.shape)}")

    def sampling_positions(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Deformed sampling points from the queries.

        Args:
            q: queries (B, H, W, C).

        Returns:
            ``(pos, ref)``: pos (B*G, Hk, Wk, 2) = ref + offsets, ref (Hk, Wk, 2); (y, x),
            in :func:`coordinate_dtype` of ``q``.
        """
        b, h, w, c = q.shape
        hk, wk = self.key_grid_size()
        cd = coordinate_dtype(q.dtype)
        ref = self._grid(hk, wk, q.device, cd)
        if self.offset_net is None:
            return ref.expand(b * self.groups, hk, wk, 2), ref
        raw = self.offset_net(q, self.groups).to(cd)  # (B*G, Hk, Wk, 2)
        assert raw.shape[1:3] == (hk, wk), "offset grid must match the key grid"
        return torch.addcmul(ref, raw.tanh(), self._offset_scale(q.device, cd)), ref  # ref + tanh(raw) f/(Hk, Wk)

    def _offset_scale(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """f * (1/Hk, 1/Wk), cached: (2,)."""
        key = ("offset_scale", device, dtype)
        scale = self._grids.get(key)
        if scale is None:
            hk, wk = self.key_grid_size()
            f = self.offset_range_factor
            scale = self._grids[key] = torch.tensor([f / hk, f / wk], dtype=torch.float64).to(device, dtype)
        return scale

    def _half_query_grid_xy(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """0.5 x the query grid, (x, y) order: (H*W, 2), cached (scaling by 0.5 is exact)."""
        key = ("half_query_xy", device, dtype)
        grid = self._grids.get(key)
        if grid is None:
            h, w = self.fmap_size
            grid = self._grids[key] = (self._grid(h, w, device, dtype).flip(-1) * 0.5).reshape(h * w, 2)
        return grid

    def position_bias(self, pos: torch.Tensor, queries: slice = slice(None)) -> torch.Tensor:
        """Deformable relative position bias phi(B_hat; R).

        Args:
            pos: key positions (B*G, Hk, Wk, 2), (y, x), from :meth:`sampling_positions`.
            queries: the rows (flattened query indices, H*W order) to compute; all by default.

        Returns:
            (B*G, M/G, n, Hk*Wk) for the n selected queries: the group's heads of the table
            sampled bilinearly (zero padding, ``align_corners=True``) at ``(q - pos) * 0.5``,
            in ``pos``'s dtype.

        The displacement grid is written once, already in grid_sample's (x, y) order, as
        ``0.5 q - 0.5 pos``: bit-identical to ``(q - pos) * 0.5`` (a power-of-two scale
        commutes with rounding) without a second pass or an (y, x) -> (x, y) copy over the
        (H*W) x (Hk*Wk) grid. See :func:`outer_difference` for how it is written on CPU.
        """
        bg = pos.shape[0]
        h, w = self.fmap_size
        half_q = self._half_query_grid_xy(pos.device, pos.dtype)  # (HW, 2)
        half_pos = (pos.flip(-1) * 0.5).reshape(bg, -1, 2)  # small: (B*G, Nk, 2)
        key = ("difference_parts", half_pos.shape[1], pos.device, pos.dtype)
        parts = self._grids.get(key)
        if parts is None:
            parts = self._grids[key] = difference_parts(half_q, half_pos.shape[1])
        lhs, select = parts
        displacement = outer_difference(half_q[queries], half_pos, parts=(lhs[queries], select))  # (B*G, n, Nk, 2), (x, y)
        table = self.rpe_table.to(pos.dtype)[None].expand(bg // self.groups, -1, -1, -1)
        table = table.reshape(bg, self.num_heads // self.groups, 2 * h - 1, 2 * w - 1)
        return F.grid_sample(table, displacement, mode="bilinear", padding_mode="zeros", align_corners=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C).

        ``softmax(q k^T * scale + bias) v`` per head as one fused
        ``scaled_dot_product_attention`` with the bias as its additive mask.
        """
        self._check_input(x)
        b, h, w, c = x.shape
        g, m, d = self.groups, self.num_heads, self.head_dim
        q = self.q(x)
        pos, ref = self.sampling_positions(q)
        if self.record_points:
            self.last_points = pos.detach().view(b, g, *pos.shape[1:])
            self.last_reference = ref.detach()
        x_groups = x.permute(0, 3, 1, 2).reshape(b * g, c // g, h, w).to(pos.dtype)
        sampled = F.grid_sample(x_groups, pos.flip(-1), mode="bilinear", padding_mode="zeros",
                                align_corners=True)  # (B*G, C/G, Hk, Wk)
        nk = sampled.shape[-2] * sampled.shape[-1]
        sampled = sampled.reshape(b, c, nk).transpose(1, 2).contiguous()  # (B, Nk, C), once for k and v
        k = self.k(sampled).view(b, nk, m, d).transpose(1, 2)  # (B, M, Nk, d)
        v = self.v(sampled).view(b, nk, m, d).transpose(1, 2)
        qh = q.reshape(b, h * w, m, d).transpose(1, 2)  # (B, M, HW, d)
        rows = self._query_chunk(b, h * w, nk, x.device)
        outs = []
        for start in range(0, h * w, rows):
            sel = slice(start, min(start + rows, h * w))
            bias = self.position_bias(pos, sel).view(b, m, -1, nk)
            outs.append(F.scaled_dot_product_attention(qh[:, :, sel], k, v, attn_mask=bias.to(qh.dtype),
                                                       scale=self.scale))  # (B, M, n, d)
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, c))

    def _query_chunk(self, b: int, n_queries: int, n_keys: int, device: torch.device) -> int:
        """Queries per chunk of the bias + attention: a bias of at most ``bias_chunk_elements``
        (default: :data:`CPU_BIAS_CHUNK_ELEMENTS` on CPU, no chunks on other devices).

        The bias is B x M x queries x keys; in chunks of queries each chunk is built, added
        and dropped while it is still in cache, and the allocator reuses its memory instead
        of mapping fresh pages for a tensor of hundreds of MB every layer. Each query's row
        is the same function either way (same ops, same order along the keys).
        """
        budget = self.bias_chunk_elements
        if budget is None:
            budget = CPU_BIAS_CHUNK_ELEMENTS if device.type == "cpu" else None
        if budget is None:
            return n_queries
        return max(1, min(n_queries, budget // max(1, b * self.num_heads * n_keys)))
