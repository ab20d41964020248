"""DAT's exact function: the deformable module and whole DATs against an independent float64
implementation of DAT's formulas (tests/dat_reference.py), on the same weights.

Also: the per-head bias would catch a group/head permutation, the offset network's LayerNorm
makes offsets independent of the dwconv's scale, and coordinates stay float32 under bf16
autocast.
"""

from __future__ import annotations

import math
import time

import pytest
import torch

from datar.models import build_model
from datar.models.deformable_attention import DeformableAttention
from datar.models.weights import load_pretrained

from dat_reference import (DAT_T, DATSpec, dat_forward, deformable_attention, deformable_bias,
                           official_state_dict, to_pixels)

H, W, DIM, HEADS, GROUPS, KERNEL = 6, 10, 48, 6, 3, 5


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative error of ``a`` against ``b``: max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max())


def layer_state(*, h: int = H, w: int = W, dim: int = DIM, heads: int = HEADS, groups: int = GROUPS,
                kernel: int = KERNEL, seed: int = 0, offset_gain: float = 2.0) -> dict[str, torch.Tensor]:
    """One deformable layer's tensors in DAT's official key layout (prefix ``a``)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s, std=1.0, mean=0.0: torch.randn(*s, generator=g) * std + mean  # noqa: E731
    cg = dim // groups
    sd = {f"a.proj_{n}.weight": r(dim, dim, 1, 1, std=dim ** -0.5) for n in ("q", "k", "v", "out")}
    sd.update({f"a.proj_{n}.bias": r(dim, std=0.1) for n in ("q", "k", "v", "out")})
    sd["a.conv_offset.0.weight"] = r(cg, 1, kernel, kernel, std=1.0 / kernel)
    sd["a.conv_offset.0.bias"] = r(cg, std=0.1)
    sd["a.conv_offset.1.norm.weight"] = r(cg, std=0.1, mean=1.0)
    sd["a.conv_offset.1.norm.bias"] = r(cg, std=0.1)
    sd["a.conv_offset.3.weight"] = r(2, cg, 1, 1, std=offset_gain * cg ** -0.5)
    sd["a.rpe_table"] = r(heads, 2 * h - 1, 2 * w - 1, std=0.5)
    return sd


def module_from(sd: dict[str, torch.Tensor], *, h: int = H, w: int = W, dim: int = DIM, heads: int = HEADS,
                groups: int = GROUPS, kernel: int = KERNEL) -> DeformableAttention:
    """Our module with the official layer's tensors (copied by hand, not by the loader)."""
    m = DeformableAttention(dim=dim, num_heads=heads, groups=groups, fmap_size=(h, w), offset_kernel_size=kernel)
    with torch.no_grad():
        for ours, theirs in (("q", "proj_q"), ("k", "proj_k"), ("v", "proj_v"), ("proj", "proj_out")):
            getattr(m, ours).weight.copy_(sd[f"a.{theirs}.weight"].flatten(1))
            getattr(m, ours).bias.copy_(sd[f"a.{theirs}.bias"])
        m.offset_net.dwconv.weight.copy_(sd["a.conv_offset.0.weight"])
        m.offset_net.dwconv.bias.copy_(sd["a.conv_offset.0.bias"])
        m.offset_net.norm.weight.copy_(sd["a.conv_offset.1.norm.weight"])
        m.offset_net.norm.bias.copy_(sd["a.conv_offset.1.norm.bias"])
        m.offset_net.pointwise.weight.copy_(sd["a.conv_offset.3.weight"].flatten(1))
        m.rpe_table.copy_(sd["a.rpe_table"])
    return m.eval()


def test_module_matches_dat_formulas_with_per_group_offsets():
    sd = layer_state()
    m = module_from(sd).double()
    x = torch.randn(2, H, W, DIM, dtype=torch.float64)
    m.record_points = True
    with torch.no_grad():
        ours = m(x)
    pos = m.last_points  # (B, G, H, W, 2)
    for b in range(2):
        pts: list[torch.Tensor] = []
        ref = deformable_attention(x[b].permute(2, 0, 1), {k: v.double() for k, v in sd.items()}, "a",
                                   heads=HEADS, groups=GROUPS, kernel=KERNEL, factor=2.0, points_out=pts)
        assert rel_err(ours[b].permute(2, 0, 1), ref) < 1e-5
        assert rel_err(pos[b], pts[0]) < 1e-12
    # The offsets are not trivially zero and differ between groups (in pixels of the map).
    off = (pos - m.last_reference) * torch.tensor([(H - 1) / 2, (W - 1) / 2], dtype=torch.float64)
    assert off.abs().amax(dim=(0, 2, 3, 4)).min() > 0.3
    for g1 in range(GROUPS):
        for g2 in range(g1 + 1, GROUPS):
            assert (off[:, g1] - off[:, g2]).abs().max() > 0.1


def test_position_bias_per_head_would_catch_a_group_or_head_permutation():
    sd = {k: v.double() for k, v in layer_state(seed=1).items()}
    m = module_from(sd).double()
    x = torch.randn(1, H, W, DIM, dtype=torch.float64)
    with torch.no_grad():
        pos, _ = m.sampling_positions(m.q(x))  # (G, H, W, 2)
        bias = m.position_bias(pos)  # (G, M/G, HW, Nk)
    per = HEADS // GROUPS
    worst, wrong_group, wrong_head = 0.0, math.inf, math.inf
    for head in range(HEADS):
        g = head // per
        got = bias[g, head % per]
        table = sd["a.rpe_table"][head: head + 1]
        worst = max(worst, rel_err(got, deformable_bias(table, pos[g])[0]))
        # Permutations a bug could introduce: another group's points, another head's table.
        wrong_group = min(wrong_group, rel_err(got, deformable_bias(table, pos[(g + 1) % GROUPS])[0]))
        other = sd["a.rpe_table"][(head + 1) % HEADS][None]
        wrong_head = min(wrong_head, rel_err(got, deformable_bias(other, pos[g])[0]))
    assert worst < 1e-12
    assert wrong_group > 1e-2 and wrong_head > 1e-1, (wrong_group, wrong_head)


def test_offsets_do_not_depend_on_the_dwconv_scale():
    """DAT's LayerNorm after the depthwise conv fixes the scale of the pretrained offset weights."""
    sd = layer_state(seed=2)
    x = torch.randn(1, H, W, DIM, dtype=torch.float64)
    base = module_from(sd).double()
    with torch.no_grad():
        pos0, ref = base.sampling_positions(base.q(x))
    px = torch.tensor([(H - 1) / 2, (W - 1) / 2], dtype=torch.float64)
    assert ((pos0 - ref) * px).abs().mean() > 0.2

    def max_move(without_norm: bool) -> float:
        moved = 0.0
        for scale in (0.1, 0.3, 3.0, 10.0):
            m, m0 = module_from(sd).double(), module_from(sd).double()
            if without_norm:  # the generator before DAT's LN was added: dwconv -> GELU -> 1x1
                m.offset_net.norm = m0.offset_net.norm = torch.nn.Identity()
            with torch.no_grad():
                m.offset_net.dwconv.weight.mul_(scale)
                m.offset_net.dwconv.bias.mul_(scale)
                pos, _ = m.sampling_positions(m.q(x))
                pos0, _ = m0.sampling_positions(m0.q(x))
            moved = max(moved, float(((pos - pos0) * px).abs().max()))
        return moved

    moved = max_move(without_norm=False)
    print(f"offset LN scale invariance: dwconv x0.1..x10 moves offsets by at most {moved:.2e} px "
          f"(without the LN: {max_move(without_norm=True):.2f} px)")
    assert moved < 1e-2, f"offsets moved by {moved:.2e} px when the dwconv was scaled 0.1x..10x"
    assert max_move(without_norm=True) > 0.1  # the check is sensitive


def test_coordinates_are_float32_under_bf16_autocast():
    h, w = 8, 64  # the stage-3 map of DAT at 128 x 1024: bf16 cannot hold this grid
    sd = layer_state(h=h, w=w, seed=3)
    m = module_from(sd, h=h, w=w)
    x = torch.randn(1, h, w, DIM)
    m.record_points = True
    with torch.no_grad():
        out32 = m(x)
        pos32 = m.last_points.clone()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out16 = m(x)
            pos16 = m.last_points.clone()
            bias16 = m.position_bias(pos16.view(-1, h, w, 2))
            assert pos16.dtype == torch.float32 and bias16.dtype == torch.float32
        bias32 = m.position_bias(pos16.view(-1, h, w, 2))  # float32 sampling at the autocast points
    px = torch.tensor([(h - 1) / 2, (w - 1) / 2])
    dpos = float(((pos16 - pos32) * px).abs().max())  # only the bf16 offset network differs
    # What bf16 coordinates would cost: rounding the float32 points to bf16 moves them this much.
    rounding = float(((pos32.bfloat16().float() - pos32) * px).abs().max())
    bias_err = float((bias16 - bias32).abs().max())
    out_err = rel_err(out16.float(), out32)
    print(f"bf16 autocast: points {dpos:.4f} px from float32 (bf16 points would err by {rounding:.3f} px), "
          f"bias max abs. diff vs float32 sampling {bias_err:.1e}, output rel. error {out_err:.2e}")
    assert dpos < 0.05 and rounding > 2 * dpos, (dpos, rounding)
    assert bias_err < 1e-6
    assert out_err < 0.05


def _whole_model_check(spec: DATSpec, size: str, mel: int, frames: int) -> tuple[float, float]:
    """(logits, sampling points) relative errors of our DAT against the reference, float64.

    The weights are float32 (as a checkpoint's); the only rounding between the two is the
    loader's float32 sum of the RGB stem kernel (the reference feeds three equal planes).
    """
    sd = official_state_dict(spec, mel=mel, frames=frames)
    model = build_model("dat_deform", size=size, heads={"label": 1000}, num_mel_bins=mel, target_length=frames)
    report = load_pretrained(model, sd)
    assert not report.missing and not report.unexpected and not report.mismatched, report
    assert set(report.skipped.values()) == {"derived buffer (recomputed)"}, report.skipped
    assert not report.adapted.keys() - {"stem.proj.weight"}, report.adapted  # shapes fit: nothing resized
    model = model.double().eval()
    x = torch.randn(1, frames, mel, dtype=torch.float64)
    points: list[torch.Tensor] = []
    with torch.no_grad():
        ref = dat_forward(sd, x[0], spec, points_out=points)
        from datar.models import collect_sampling_points

        ours = model(x)["label"][0]
        layers = collect_sampling_points(model, x)
    pts_err = max(rel_err(ly["points"][0], p) for ly, p in zip(layers, points, strict=True))
    return rel_err(ours, ref), pts_err


TINY = DATSpec(dims=(16, 32, 64, 128), depths=(2, 2, 2, 2), heads=(1, 2, 4, 8), groups=(2, 4), windows=(8, 8, 8, 4))


def test_whole_tiny_dat_matches_dat_formulas():
    """Every layer type (windows spanning a whole axis included) at 64 x 256, in seconds."""
    err, pts = _whole_model_check(TINY, "tiny", 64, 256)
    assert err < 1e-5 and pts < 1e-6, (err, pts)


@pytest.mark.slow
def test_whole_dat_t_at_128_by_1024_matches_dat_formulas():
    t0 = time.perf_counter()
    err, pts = _whole_model_check(DAT_T, "T", 128, 1024)
    print(f"DAT-T 128 x 1024 float64: logits rel. error {err:.2e}, sampling points {pts:.2e} "
          f"({time.perf_counter() - t0:.1f} s)")
    assert err < 1e-5 and pts < 1e-6, (err, pts)
