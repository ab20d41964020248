"""An independent float64 implementation of DAT's formulas (DESIGN.md §4b), for the tests.

Written from the formulas, not from ``datar.models``: it reads an official-layout DAT
state dict (``patch_proj.0.weight``, ``stages.{i}.attns.{j}.proj_q.weight``,
``...conv_offset.{0,1,3}``, ``...rpe_table``, ...) directly, works on one (C, H, W) map at
a time, and does every bilinear sample by explicit arithmetic (floor, four corners,
weights, zero outside the map) instead of ``grid_sample``. Convolutions, softmax and GELU
are torch's. Nothing here imports ``datar``.

Conventions (DAT's official module):
- normalised coordinates with align_corners=True: u in [-1, 1] is pixel (u + 1) / 2 * (n - 1);
- reference points and the query grid at pixel centres ((i + 0.5) / n) * 2 - 1;
- offsets tanh(raw) * (1/Hk, 1/Wk) * f; displacement (q - pos) * 0.5 into the
  (heads, 2H - 1, 2W - 1) table; zero padding everywhere;
- shifted windows rolled by ceil(w / 2), -100 across the seam regions; an axis whose window
  spans the whole map is not shifted (Swin's rule; DAT's own maps never have one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@dataclass(frozen=True)
class DATSpec:
    """The architecture of one DAT: per-stage depths, heads, windows; groups/kernels of stages 3-4."""

    dims: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    heads: tuple[int, int, int, int]
    groups: tuple[int, int]
    windows: tuple[int, int, int, int]
    offset_kernels: tuple[int, int] = (5, 3)
    offset_range_factor: float = 2.0


DAT_T = DATSpec(dims=(96, 192, 384, 768), depths=(2, 2, 6, 2), heads=(3, 6, 12, 24), groups=(3, 6),
                windows=(8, 8, 8, 4))


# ----------------------------------------------------------------------------- primitives
def bilinear(img: Tensor, py: Tensor, px: Tensor) -> Tensor:
    """Sample ``img`` (C, H, W) at pixel coordinates ``py``, ``px`` (any equal shape S).

    Returns (C, *S): the four-corner weighted sum, corners outside the map count as 0.
    """
    _, h, w = img.shape
    y0, x0 = torch.floor(py), torch.floor(px)
    fy, fx = py - y0, px - x0
    out = torch.zeros((img.shape[0], *py.shape), dtype=img.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yi, xi = (y0 + dy).long(), (x0 + dx).long()
            inside = ((yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)).to(img.dtype)
            corner = img[:, yi.clamp(0, h - 1), xi.clamp(0, w - 1)]
            out = out + corner * (wy * wx * inside)
    return out


def to_pixels(u: Tensor, n: int) -> Tensor:
    """Normalised coordinate (align_corners=True) -> pixel coordinate on an axis of n samples."""
    return (u + 1) / 2 * (n - 1)


def centres(n: int) -> Tensor:
    """Pixel-centre coordinates of an axis of n cells: ((i + 0.5) / n) * 2 - 1."""
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n * 2 - 1


def layer_norm_channels(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """LayerNorm over the channel axis of (C, H, W)."""
    mean = x.mean(0, keepdim=True)
    var = ((x - mean) ** 2).mean(0, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight[:, None, None] + bias[:, None, None]


def pointwise(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A 1x1 conv / linear layer over the channels of (C, H, W); weight (Cout, Cin[, 1, 1])."""
    out = torch.einsum("oc,chw->ohw", weight.reshape(weight.shape[0], -1), x)
    return out if bias is None else out + bias[:, None, None]


def gelu(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


# ----------------------------------------------------------------------------- attention
def window_attention(x: Tensor, sd: dict, prefix: str, *, heads: int, window: tuple[int, int],
                     shifted: bool) -> Tensor:
    """DAT's LocalAttention / ShiftWindowAttention on (C, H, W)."""
    c, h, w = x.shape
    wh, ww = window
    sh = math.ceil(wh / 2) if shifted and 1 < wh < h else 0
    sw = math.ceil(ww / 2) if shifted and 1 < ww < w else 0
    if sh or sw:
        x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    d = c // heads
    qkv = pointwise(x, sd[f"{prefix}.proj_qkv.weight"], sd[f"{prefix}.proj_qkv.bias"])
    q, k, v = qkv[:c] * d ** -0.5, qkv[c: 2 * c], qkv[2 * c:]
    table = sd[f"{prefix}.relative_position_bias_table"]  # ((2wh-1)(2ww-1), heads)
    # Seam regions of the rolled map (DAT's three slices per axis).
    rows = torch.zeros(h, dtype=torch.long)
    cols = torch.zeros(w, dtype=torch.long)
    if sh:
        rows[h - wh: h - sh], rows[h - sh:] = 1, 2
    if sw:
        cols[w - ww: w - sw], cols[w - sw:] = 1, 2
    region = (rows[:, None] * 3 + cols[None, :]).flatten()
    ii, jj = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    ii, jj = ii.flatten(), jj.flatten()
    rel = (ii[:, None] - ii[None, :] + wh - 1) * (2 * ww - 1) + (jj[:, None] - jj[None, :] + ww - 1)
    bias = table[rel].permute(2, 0, 1)  # (heads, n, n)
    # Flat indices of every window's tokens, window (r1, r2) row-major: (nW, n).
    r1, r2 = torch.meshgrid(torch.arange(h // wh), torch.arange(w // ww), indexing="ij")
    idx = ((r1.reshape(-1, 1) * wh + ii) * w + (r2.reshape(-1, 1) * ww + jj))
    lab = region[idx]  # (nW, n)
    mask = torch.where(lab[:, :, None] == lab[:, None, :], 0.0, -100.0).to(x.dtype)  # (nW, n, n)
    qw, kw, vw = (t.reshape(heads, d, h * w)[:, :, idx] for t in (q, k, v))  # (heads, d, nW, n)
    logits = torch.einsum("hdwm,hdwn->whmn", qw, kw) + bias[None] + mask[:, None]
    o = torch.einsum("whmn,hdwn->hdwm", logits.softmax(-1), vw).reshape(c, -1, idx.shape[1])
    out = torch.zeros(c, h * w, dtype=x.dtype)
    out[:, idx] = o
    out = out.reshape(c, h, w)
    out = pointwise(out, sd[f"{prefix}.proj_out.weight"], sd[f"{prefix}.proj_out.bias"])
    if sh or sw:
        out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
    return out


def deformable_points(q: Tensor, sd: dict, prefix: str, *, groups: int, kernel: int, factor: float) -> Tensor:
    """Sampling points of every group: (G, Hk, Wk, 2) as (y, x) normalised (r = 1)."""
    c, h, w = q.shape
    cg = c // groups
    ref_y, ref_x = centres(h), centres(w)
    points = []
    for g in range(groups):
        z = F.conv2d(q[g * cg: (g + 1) * cg][None], sd[f"{prefix}.conv_offset.0.weight"],
                     sd[f"{prefix}.conv_offset.0.bias"], stride=1, padding=kernel // 2, groups=cg)[0]
        z = gelu(layer_norm_channels(z, sd[f"{prefix}.conv_offset.1.norm.weight"],
                                     sd[f"{prefix}.conv_offset.1.norm.bias"]))
        raw = pointwise(z, sd[f"{prefix}.conv_offset.3.weight"], None)  # (2, Hk, Wk)
        py = ref_y[:, None] + torch.tanh(raw[0]) * (1.0 / h) * factor
        px = ref_x[None, :] + torch.tanh(raw[1]) * (1.0 / w) * factor
        points.append(torch.stack([py, px], dim=-1))
    return torch.stack(points)


def deformable_bias(table: Tensor, points: Tensor) -> Tensor:
    """Position bias of a group's heads: tables (heads, 2H-1, 2W-1), its points (H, W, 2) -> (heads, H*W, Nk)."""
    _, th, tw = table.shape
    h, w = (th + 1) // 2, (tw + 1) // 2
    qy = centres(h)[:, None].expand(h, w).reshape(-1, 1)
    qx = centres(w)[None, :].expand(h, w).reshape(-1, 1)
    dy = (qy - points[..., 0].reshape(1, -1)) * 0.5
    dx = (qx - points[..., 1].reshape(1, -1)) * 0.5
    return bilinear(table, to_pixels(dy, th), to_pixels(dx, tw))


def deformable_attention(x: Tensor, sd: dict, prefix: str, *, heads: int, groups: int, kernel: int,
                         factor: float, points_out: list | None = None) -> Tensor:
    """DAT's DAttentionBaseline (stride 1, rpe bias) on (C, H, W)."""
    c, h, w = x.shape
    cg, d, per = c // groups, c // heads, heads // groups
    q = pointwise(x, sd[f"{prefix}.proj_q.weight"], sd[f"{prefix}.proj_q.bias"])
    points = deformable_points(q, sd, prefix, groups=groups, kernel=kernel, factor=factor)
    if points_out is not None:
        points_out.append(points)
    sampled = torch.cat([
        bilinear(x[g * cg: (g + 1) * cg], to_pixels(points[g, ..., 0], h), to_pixels(points[g, ..., 1], w))
        for g in range(groups)
    ])  # (C, Hk, Wk)
    k = pointwise(sampled, sd[f"{prefix}.proj_k.weight"], sd[f"{prefix}.proj_k.bias"]).reshape(heads, d, -1)
    v = pointwise(sampled, sd[f"{prefix}.proj_v.weight"], sd[f"{prefix}.proj_v.bias"]).reshape(heads, d, -1)
    qh = q.reshape(heads, d, -1)
    table = sd[f"{prefix}.rpe_table"]  # (heads, 2H-1, 2W-1); head m belongs to group m // per
    bias = torch.cat([deformable_bias(table[g * per: (g + 1) * per], points[g]) for g in range(groups)])
    logits = torch.einsum("hdm,hdn->hmn", qh, k) * d ** -0.5 + bias  # (heads, HW, Nk)
    out = torch.einsum("hmn,hdn->hdm", logits.softmax(-1), v).reshape(c, h, w)
    return pointwise(out, sd[f"{prefix}.proj_out.weight"], sd[f"{prefix}.proj_out.bias"])


# ----------------------------------------------------------------------------- network
def mlp(x: Tensor, sd: dict, prefix: str) -> Tensor:
    hid = gelu(pointwise(x, sd[f"{prefix}.linear1.weight"], sd[f"{prefix}.linear1.bias"]))
    return pointwise(hid, sd[f"{prefix}.linear2.weight"], sd[f"{prefix}.linear2.bias"])


def fit_window(n: int, window: int) -> int:
    """The window used along an axis of n cells: the largest divisor of n not above ``window``."""
    return max(v for v in range(1, min(n, window) + 1) if n % v == 0)


def dat_forward(sd: dict, fbank: Tensor, spec: DATSpec = DAT_T, *, points_out: list | None = None) -> Tensor:
    """DAT's classifier on one fbank (T, M): logits of ``cls_head`` (float64).

    The 1-channel spectrogram (M, T) is fed as 3 equal RGB planes to the RGB stem.
    """
    sd = {k: v.double() for k, v in sd.items() if v.is_floating_point()}
    x = fbank.double().T[None].expand(3, -1, -1)
    x = F.conv2d(x[None], sd["patch_proj.0.weight"], sd["patch_proj.0.bias"], stride=4)[0]
    x = layer_norm_channels(x, sd["patch_proj.1.norm.weight"], sd["patch_proj.1.norm.bias"])
    for i in range(4):
        _, h, w = x.shape
        window = (fit_window(h, spec.windows[i]), fit_window(w, spec.windows[i]))
        for j in range(spec.depths[i]):
            p = f"stages.{i}"
            y = layer_norm_channels(x, sd[f"{p}.layer_norms.{2 * j}.norm.weight"], sd[f"{p}.layer_norms.{2 * j}.norm.bias"])
            a = f"{p}.attns.{j}"
            if j % 2 == 0 or i < 2:
                y = window_attention(y, sd, a, heads=spec.heads[i], window=window, shifted=j % 2 == 1)
            else:
                y = deformable_attention(y, sd, a, heads=spec.heads[i], groups=spec.groups[i - 2],
                                         kernel=spec.offset_kernels[i - 2], factor=spec.offset_range_factor,
                                         points_out=points_out)
            x = x + y
            y = layer_norm_channels(x, sd[f"{p}.layer_norms.{2 * j + 1}.norm.weight"],
                                    sd[f"{p}.layer_norms.{2 * j + 1}.norm.bias"])
            x = x + mlp(y, sd, f"{p}.mlps.{j}")
        if i < 3:
            x = F.conv2d(x[None], sd[f"down_projs.{i}.0.weight"], None, stride=2)[0]
            x = layer_norm_channels(x, sd[f"down_projs.{i}.1.norm.weight"], sd[f"down_projs.{i}.1.norm.bias"])
    x = layer_norm_channels(x, sd["cls_norm.norm.weight"], sd["cls_norm.norm.bias"]).mean(dim=(1, 2))
    return sd["cls_head.weight"] @ x + sd["cls_head.bias"]


def official_state_dict(spec: DATSpec, *, mel: int, frames: int, classes: int = 1000, seed: int = 0,
                        rpe_std: float = 0.5, offset_gain: float = 2.0) -> dict[str, Tensor]:
    """Random weights in the official DAT key layout, shaped for a ``mel`` x ``frames`` input.

    Scaled so that a deep network stays well conditioned (1/sqrt(fan_in) weights, LN gains
    near 1) while everything matters: bias tables of std ``rpe_std`` and offset networks
    whose raw outputs are O(``offset_gain``), so offsets reach about a pixel and differ
    per group.
    """
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int, std: float = 1.0, mean: float = 0.0) -> Tensor:
        return torch.randn(*shape, generator=g) * std + mean

    def lin(cout: int, cin: int, *, conv: bool = False) -> Tensor:
        t = r(cout, cin, std=cin ** -0.5)
        return t[:, :, None, None] if conv else t

    sd: dict[str, Tensor] = {}
    d0 = spec.dims[0]
    sd["patch_proj.0.weight"], sd["patch_proj.0.bias"] = r(d0, 3, 4, 4, std=48 ** -0.5), r(d0, std=0.1)
    sd["patch_proj.1.norm.weight"], sd["patch_proj.1.norm.bias"] = r(d0, std=0.1, mean=1.0), r(d0, std=0.1)
    h, w = mel // 4, frames // 4
    for i in range(4):
        c, heads = spec.dims[i], spec.heads[i]
        wh, ww = fit_window(h, spec.windows[i]), fit_window(w, spec.windows[i])
        for j in range(spec.depths[i]):
            p = f"stages.{i}"
            for n in (2 * j, 2 * j + 1):
                sd[f"{p}.layer_norms.{n}.norm.weight"] = r(c, std=0.1, mean=1.0)
                sd[f"{p}.layer_norms.{n}.norm.bias"] = r(c, std=0.1)
            sd[f"{p}.mlps.{j}.linear1.weight"], sd[f"{p}.mlps.{j}.linear1.bias"] = lin(4 * c, c), r(4 * c, std=0.1)
            sd[f"{p}.mlps.{j}.linear2.weight"], sd[f"{p}.mlps.{j}.linear2.bias"] = lin(c, 4 * c), r(c, std=0.1)
            a = f"{p}.attns.{j}"
            if j % 2 == 0 or i < 2:
                sd[f"{a}.proj_qkv.weight"], sd[f"{a}.proj_qkv.bias"] = lin(3 * c, c), r(3 * c, std=0.1)
                sd[f"{a}.proj_out.weight"], sd[f"{a}.proj_out.bias"] = lin(c, c), r(c, std=0.1)
                sd[f"{a}.relative_position_bias_table"] = r((2 * wh - 1) * (2 * ww - 1), heads, std=rpe_std)
                sd[f"{a}.relative_position_index"] = torch.zeros(wh * ww, wh * ww, dtype=torch.long)
            else:
                groups, k = spec.groups[i - 2], spec.offset_kernels[i - 2]
                cg = c // groups
                for n in "qkv":
                    sd[f"{a}.proj_{n}.weight"], sd[f"{a}.proj_{n}.bias"] = lin(c, c, conv=True), r(c, std=0.1)
                sd[f"{a}.proj_out.weight"], sd[f"{a}.proj_out.bias"] = lin(c, c, conv=True), r(c, std=0.1)
                sd[f"{a}.conv_offset.0.weight"] = r(cg, 1, k, k, std=1.0 / k)
                sd[f"{a}.conv_offset.0.bias"] = r(cg, std=0.1)
                sd[f"{a}.conv_offset.1.norm.weight"] = r(cg, std=0.1, mean=1.0)
                sd[f"{a}.conv_offset.1.norm.bias"] = r(cg, std=0.1)
                sd[f"{a}.conv_offset.3.weight"] = r(2, cg, 1, 1, std=offset_gain * cg ** -0.5)
                sd[f"{a}.rpe_table"] = r(heads, 2 * h - 1, 2 * w - 1, std=rpe_std)
        if i < 3:
            sd[f"down_projs.{i}.0.weight"] = r(spec.dims[i + 1], c, 2, 2, std=(4 * c) ** -0.5)
            sd[f"down_projs.{i}.1.norm.weight"] = r(spec.dims[i + 1], std=0.1, mean=1.0)
            sd[f"down_projs.{i}.1.norm.bias"] = r(spec.dims[i + 1], std=0.1)
            h, w = h // 2, w // 2
    sd["cls_norm.norm.weight"], sd["cls_norm.norm.bias"] = r(spec.dims[3], std=0.1, mean=1.0), r(spec.dims[3], std=0.1)
    sd["cls_head.weight"], sd["cls_head.bias"] = lin(classes, spec.dims[3]), r(classes, std=0.1)
    return sd
