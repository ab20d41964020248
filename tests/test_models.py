"""Models: every variant runs; deformable attention matches its equations (CPU, tiny sizes)."""

from __future__ import annotations

import math

import pytest
import torch

from datar.models import VARIANTS, adapted_input, build_model, collect_sampling_points, describe
from datar.models.adaptor import InputAdaptor
import datar.models.deformable_attention as deformable
from datar.models.deformable_attention import DeformableAttention, centre_grid, outer_difference
from datar.models.noise import InputNoise
from datar.models.window_attention import WindowAttention, fit_window

M, T = 64, 256


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("heads", [{"label": 5}, {"verb": 4, "noun": 6}])
def test_forward_backward_finite(variant, heads):
    model = build_model(variant, size="tiny", heads=heads, num_mel_bins=M, target_length=T)
    model.train()
    x = torch.randn(2, T, M)
    out = model(x)
    assert set(out) == set(heads)
    for name, n in heads.items():
        assert out[name].shape == (2, n)
        assert torch.isfinite(out[name]).all()
    sum(o.logsumexp(-1).sum() for o in out.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads), "every parameter gets a finite gradient"
    assert isinstance(describe(variant), str) and describe(variant)


@pytest.mark.parametrize("variant", ["ast", "dat_deform", "datar"])
def test_batch_equals_single(variant):
    model = build_model(variant, size="tiny", heads={"label": 3}, num_mel_bins=M, target_length=T).eval()
    x = torch.randn(3, T, M)
    with torch.no_grad():
        batch = model(x)["label"]
        single = torch.cat([model(x[i: i + 1])["label"] for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=1e-4, atol=1e-5)


def test_other_input_shapes_and_sizes():
    for m_bins, frames in [(128, 512), (128, 1000), (64, 128)]:
        model = build_model("datar", size="tiny", heads={"label": 2}, num_mel_bins=m_bins, target_length=frames)
        assert model(torch.randn(1, frames, m_bins))["label"].shape == (1, 2)
    model = build_model("datar", size="B", heads={"label": 2}, num_mel_bins=128, target_length=1024)
    assert [s.fmap_size for s in model.stages] == [(32, 256), (16, 128), (8, 64), (4, 32)]
    assert [s.window for s in model.stages] == [(8, 8), (8, 8), (8, 8), (4, 4)]


def test_fit_window():
    assert fit_window(32, 8) == 8
    assert fit_window(4, 8) == 4
    assert fit_window(250, 8) == 5
    assert fit_window(31, 8) == 1
    with pytest.raises(ValueError, match="window"):
        fit_window(4, 0)


def test_bad_arguments_name_themselves():
    kw = dict(size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T)
    with pytest.raises(ValueError, match="variant"):
        build_model("nope", **kw)
    with pytest.raises(ValueError, match="size"):
        build_model("datar", **{**kw, "size": "XL"})
    with pytest.raises(ValueError, match="heads"):
        build_model("datar", **{**kw, "heads": {"label": 0}})
    with pytest.raises(TypeError, match="typo_key"):
        build_model("datar", **kw, typo_key=1)
    with pytest.raises(ValueError, match="num_mel_bins"):
        build_model("datar", **{**kw, "num_mel_bins": 8})
    model = build_model("datar", **kw)
    with pytest.raises(ValueError, match="x: expected"):
        model(torch.randn(1, M, T))


def _pair(h=4, w=6, dim=16, heads=4, groups=2):
    learned = DeformableAttention(dim=dim, num_heads=heads, groups=groups, fmap_size=(h, w), offsets="learned")
    fixed = DeformableAttention(dim=dim, num_heads=heads, groups=groups, fmap_size=(h, w), offsets="fixed")
    with torch.no_grad():
        learned.rpe_table.normal_()  # make the bias matter
    missing, unexpected = fixed.load_state_dict(learned.state_dict(), strict=False)
    assert not missing and all(k.startswith("offset_net.") for k in unexpected)
    return learned, fixed


def test_zero_offsets_equal_fixed_grid_attention():
    learned, fixed = _pair()
    x = torch.randn(2, 4, 6, 16)
    with torch.no_grad():
        assert not torch.allclose(learned(x), fixed(x), rtol=1e-4, atol=1e-5)
        learned.offset_net.pointwise.weight.zero_()
        torch.testing.assert_close(learned(x), fixed(x), rtol=1e-5, atol=1e-6)


def test_dat_fixed_is_dat_deform_with_zero_offsets():
    deform = build_model("dat_deform", size="tiny", heads={"label": 3}, num_mel_bins=M, target_length=T).eval()
    fixed = build_model("dat_fixed", size="tiny", heads={"label": 3}, num_mel_bins=M, target_length=T).eval()
    missing, unexpected = fixed.load_state_dict(deform.state_dict(), strict=False)
    assert not missing and unexpected and all(".offset_net." in k for k in unexpected)
    x = torch.randn(2, T, M)
    with torch.no_grad():
        assert not torch.allclose(deform(x)["label"], fixed(x)["label"])
        for name, p in deform.named_parameters():
            if name.endswith("offset_net.pointwise.weight"):
                p.zero_()
        torch.testing.assert_close(deform(x)["label"], fixed(x)["label"], rtol=1e-5, atol=1e-5)


def test_reference_points_are_dat_pixel_centres():
    grid = centre_grid(4, 6)
    assert grid.shape == (4, 6, 2)
    torch.testing.assert_close(grid[:, 0, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(grid[0, :, 1], (torch.arange(6) + 0.5) / 6 * 2 - 1)
    attn = DeformableAttention(dim=8, num_heads=2, groups=1, fmap_size=(4, 6), offsets="fixed")
    pos, ref = attn.sampling_positions(torch.randn(1, 4, 6, 8))
    assert torch.equal(ref, grid) and torch.equal(pos[0], grid)


def test_offset_network_is_dats_and_offsets_bounded_by_f_over_key_grid():
    f = 1.5
    attn = DeformableAttention(dim=16, num_heads=4, groups=2, fmap_size=(6, 10), offset_range_factor=f)
    net = attn.offset_net
    assert net.pointwise.bias is None and isinstance(net.norm, torch.nn.LayerNorm)
    assert net.dwconv.kernel_size == (5, 5) and net.dwconv.groups == 8 and net.norm.normalized_shape == (8,)
    with torch.no_grad():
        net.pointwise.weight.mul_(1000.0)  # saturate tanh
        pos, ref = attn.sampling_positions(attn.q(torch.randn(2, 6, 10, 16) * 10))
    units = (pos - ref) / torch.tensor([f / 6, f / 10])  # in units of f * (1/Hk, 1/Wk)
    assert units.abs().max() <= 1 + 1e-5
    assert units.abs().max() > 0.9  # saturated: the bound is reached, not just respected


def test_kv_stride_subsamples_the_key_grid():
    attn = DeformableAttention(dim=8, num_heads=2, groups=1, fmap_size=(8, 16), kv_stride=4)
    assert attn.key_grid_size() == (2, 4)
    pos, ref = attn.sampling_positions(torch.randn(1, 8, 16, 8))
    assert ref.shape == (2, 4, 2) and pos.shape == (1, 2, 4, 2)
    torch.testing.assert_close(ref, centre_grid(2, 4))
    assert attn(torch.randn(1, 8, 16, 8)).shape == (1, 8, 16, 8)
    with pytest.raises(ValueError, match="x: expected"):
        attn(torch.randn(1, 8, 8, 8))


def test_model_settings_reach_the_layers():
    model = build_model("datar", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T,
                        windows=(4, 4, 4, 2), offset_range_factor=3.0, offset_kernel=(3, 7), kv_stride=2,
                        drop_path_rate=0.3, adaptor_kernel=5)
    assert [s.window for s in model.stages] == [(4, 4), (4, 4), (4, 4), (2, 2)]
    deform = [m for m in model.modules() if isinstance(m, DeformableAttention)]
    assert [m.offset_net.dwconv.kernel_size for m in deform] == [(3, 3), (7, 7)]
    assert {(m.offset_range_factor, m.kv_stride) for m in deform} == {(3.0, 2)}
    assert model.stages[3].blocks[-1].drop_path.p == pytest.approx(0.3)
    assert model.adaptor.conv.kernel_size == (5, 5)
    b = build_model("dat_deform", size="B", heads={"label": 2}, num_mel_bins=128, target_length=1024)
    assert b.stages[3].blocks[-1].drop_path.p == pytest.approx(0.5)  # DAT-B's rate by default
    with pytest.raises(ValueError, match="windows: DAT-family"):
        build_model("ast", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T, windows=(8, 8, 8, 4))


def test_shifted_window_attention_masks_the_seam():
    attn = WindowAttention(dim=8, num_heads=2, window=(4, 4), mode="shifted", fmap_size=(8, 8))
    assert attn.shift == (2, 2)
    partial = WindowAttention(dim=8, num_heads=2, window=(4, 4), mode="shifted", fmap_size=(4, 8))
    assert partial.shift == (0, 2)  # an axis covered by one window is not shifted
    odd = WindowAttention(dim=8, num_heads=2, window=(5, 7), mode="shifted", fmap_size=(10, 14))
    assert odd.shift == (3, 4)  # DAT's ceil(w / 2)
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    attn(x)[0, 0, 0].sum().backward()
    # token (0,0) after the roll shares a window only with tokens of its own region: rows/cols 0-1
    # and the wrapped rows/cols are not attended across the seam.
    touched = x.grad[0].abs().sum(-1) > 1e-12
    assert touched[:2, :2].all() and touched.sum() == 4  # (7, 7) shares its window but not its region


def test_adaptor_lambda_zero_is_identity_and_adaptor_readout():
    adaptor = InputAdaptor(lam=0.0)
    x = torch.randn(2, 1, 16, 32)
    torch.testing.assert_close(adaptor(x), x, rtol=0, atol=0)
    model = build_model("datar_l0.2", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T)
    assert model.adaptor is not None and model.adaptor.lam == 0.2
    assert model.adaptor.conv.kernel_size == (3, 3)
    fb = torch.randn(2, T, M)
    adapted, added = adapted_input(model, fb)
    assert adapted.shape == fb.shape == added.shape
    torch.testing.assert_close(adapted - fb, added)
    assert build_model("dat_deform", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T).adaptor is None
    assert build_model("ast", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T).adaptor is None


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_noise_only_in_training(kind):
    noise = InputNoise(kind=kind, scale=0.005)
    x = torch.zeros(200_000)
    noise.eval()
    assert torch.equal(noise(x), x)
    noise.train()
    y = noise(x)
    expected_std = 0.005 if kind == "gaussian" else 0.005 * math.sqrt(2)
    assert abs(y.std().item() - expected_std) / expected_std < 0.05
    assert abs(y.mean().item()) < 1e-4
    model = build_model(f"dat_deform_{'gauss' if kind == 'gaussian' else 'laplace'}", size="tiny",
                        heads={"label": 2}, num_mel_bins=M, target_length=T).eval()
    fb = torch.randn(1, T, M)
    with torch.no_grad():
        torch.testing.assert_close(model(fb)["label"], model(fb)["label"], rtol=0, atol=0)


def test_collect_sampling_points():
    model = build_model("dat_deform", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T)
    model.train()
    pts = collect_sampling_points(model, torch.randn(2, T, M))
    assert [p["name"] for p in pts] == ["stages.2.blocks.1.attn", "stages.3.blocks.1.attn"]
    for p in pts:
        b, g, hk, wk, two = p["points"].shape
        assert (b, two) == (2, 2) and (hk, wk) == p["fmap_size"] and p["reference"].shape == (hk, wk, 2)
    assert model.training, "collect_sampling_points restores the mode"
    fixed = build_model("dat_fixed", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T)
    for p in collect_sampling_points(fixed, torch.randn(1, T, M)):
        torch.testing.assert_close(p["points"][0, 0], p["reference"])


def test_ast_patch_grid_and_tokens():
    model = build_model("ast", size="tiny", heads={"label": 3}, num_mel_bins=128, target_length=1024)
    assert model.grid == (12, 101)
    emb = model.audio_spectrogram_transformer.embeddings.position_embeddings
    assert emb.shape[1] == 12 * 101 + 2
    # AST / DeiT / timm LayerNorm eps in the encoder (transformers' default is 1e-12).
    norms = [m for m in model.audio_spectrogram_transformer.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and {m.eps for m in norms} == {1e-6}


def test_variant_names_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; from datar.variants import MODEL_VARIANTS, VARIANTS; "
            "assert 'torch' not in sys.modules; print(','.join(MODEL_VARIANTS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.split(",") == list(VARIANTS)


@pytest.mark.parametrize("edge", [0.0, 1.0 - 2**-24])
def test_laplace_noise_is_finite_at_the_edges_of_rand(monkeypatch, edge):
    """torch.rand can return exactly 0 (and values just below 1): the noise must stay finite."""
    from datar.models.noise import InputNoise

    noise = InputNoise(kind="laplace", scale=0.005).train()
    monkeypatch.setattr(torch, "rand_like", lambda x: torch.full_like(x, edge))
    out = noise(torch.zeros(4, 8))
    assert torch.isfinite(out).all()
    assert out.abs().max() < 0.005 * 20  # |log(eps)| is about 16


def _explicit_deformable(attn: DeformableAttention, x: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v with explicit matmuls, from the module's own parts."""
    b, h, w, c = x.shape
    m, d = attn.num_heads, attn.head_dim
    q = attn.q(x)
    pos, _ = attn.sampling_positions(q)
    sampled = torch.nn.functional.grid_sample(
        x.permute(0, 3, 1, 2).reshape(b * attn.groups, c // attn.groups, h, w), pos[..., (1, 0)],
        mode="bilinear", padding_mode="zeros", align_corners=True).reshape(b, c, -1).transpose(1, 2)
    k = attn.k(sampled).view(b, -1, m, d).transpose(1, 2)
    v = attn.v(sampled).view(b, -1, m, d).transpose(1, 2)
    qh = q.reshape(b, h * w, m, d).transpose(1, 2)
    logits = (qh @ k.transpose(-2, -1)) * attn.scale + attn.position_bias(pos).reshape(b, m, h * w, -1)
    return attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(b, h, w, c))


def _explicit_window(attn: WindowAttention, x: torch.Tensor) -> torch.Tensor:
    b, h, w, c = x.shape
    (wh, ww), (sh, sw), heads = attn.window, attn.shift, attn.num_heads
    xs = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    win = xs.view(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, c)
    q, k, v = attn.qkv(win).view(win.shape[0], wh * ww, 3, heads, -1).permute(2, 0, 3, 1, 4)
    logits = (q * attn.scale) @ k.transpose(-2, -1) + attn.relative_bias()
    if sh or sw:
        nw = (h // wh) * (w // ww)
        logits = (logits.view(b, nw, heads, wh * ww, -1) + attn.attn_mask[None, :, None]).view_as(logits)
    out = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, wh * ww, c))
    out = out.view(b, h // wh, w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
    return torch.roll(out, shifts=(sh, sw), dims=(1, 2))


@pytest.mark.parametrize("kind", ["deformable", "local", "shifted"])
def test_fused_attention_equals_the_explicit_form_forward_and_backward(kind):
    """scaled_dot_product_attention with the bias / seam mask as its additive mask: same values, same grads."""
    if kind == "deformable":
        attn = DeformableAttention(dim=24, num_heads=6, groups=3, fmap_size=(6, 10))
        explicit = _explicit_deformable
        with torch.no_grad():
            attn.rpe_table.normal_()
            attn.offset_net.pointwise.weight.mul_(5.0)
    else:
        attn = WindowAttention(dim=24, num_heads=3, window=(4, 4), mode=kind, fmap_size=(8, 12))
        explicit = _explicit_window
        with torch.no_grad():
            attn.rel_pos_table.normal_()
    x = torch.randn(2, *attn.fmap_size, 24, requires_grad=True)
    fused = attn(x)
    grads = torch.autograd.grad(fused.square().sum(), [x, *attn.parameters()])
    ref = explicit(attn, x)
    ref_grads = torch.autograd.grad(ref.square().sum(), [x, *attn.parameters()])
    torch.testing.assert_close(fused, ref, rtol=1e-5, atol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # inference takes the fused CPU kernel
        torch.testing.assert_close(attn(x), ref, rtol=1e-5, atol=1e-5)


def test_forward_builds_no_tensors_from_host_data_after_the_first_call():
    """Grids, scales and masks are buffers or per-shape caches: no torch.tensor(...) per forward
    (on a GPU each would be a host -> device copy)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Factories(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = str(func)
            if any(f in name for f in ("lift_fresh", "scalar_tensor", "arange", "linspace", "empty_strided")):
                self.seen.append(name)
            return func(*args, **(kwargs or {}))

    for variant in ("dat_deform", "datar"):
        model = build_model(variant, size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T).eval()
        x = torch.randn(1, T, M)
        with torch.no_grad():
            model(x)  # fills the per-shape caches
            spy = Factories()
            with spy:
                model(x)
        assert not [n for n in spy.seen if "lift_fresh" in n or "arange" in n or "linspace" in n], spy.seen


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outer_difference_is_bit_identical_to_the_broadcast_subtraction(dtype):
    """The CPU matrix-product form of q - pos: the same bits, the same gradients, float32 under bf16 autocast."""
    n, g, nk = 37, 3, 53
    a = (torch.rand(n, 2, dtype=dtype) * 2 - 1) * torch.tensor([1.0, 1e-3], dtype=dtype)
    b = ((torch.rand(g, nk, 2, dtype=dtype) * 2.2 - 1.1) * torch.tensor([1e-2, 1.0], dtype=dtype)).requires_grad_()
    ref = a.view(1, n, 1, 2) - b.view(g, 1, nk, 2)
    got = outer_difference(a, b)
    assert got.dtype == dtype and got.shape == (g, n, nk, 2)
    assert torch.equal(got, ref), float((got - ref).abs().max())
    w = torch.randn_like(ref)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), b)
    (g_got,) = torch.autograd.grad((got * w).sum(), b)
    # the backward sums over the queries in another order: equal up to that rounding
    torch.testing.assert_close(g_got, g_ref, rtol=1e-5, atol=1e-6 * float(g_ref.abs().max()))
    if dtype == torch.float32:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under = outer_difference(a, b)
        assert under.dtype == torch.float32 and torch.equal(under, ref)


def test_attention_in_chunks_of_queries_is_the_same_function():
    """Bias + attention in chunks of queries (the CPU default for big maps): same outputs and gradients."""
    attn = DeformableAttention(dim=24, num_heads=6, groups=3, fmap_size=(6, 10))
    with torch.no_grad():
        attn.rpe_table.normal_()
        attn.offset_net.pointwise.weight.mul_(5.0)
    x = torch.randn(2, 6, 10, 24, requires_grad=True)
    results = {}
    for budget in (None, 2 * 6 * 60 * 7, 1):  # whole, chunks of 7 queries (60 = 6 x 9 + 6), one query at a time
        attn.bias_chunk_elements = budget if budget is not None else 1 << 40
        out = attn(x)
        results[budget] = (out, torch.autograd.grad(out.square().sum(), [x, *attn.parameters()]))
    assert attn._query_chunk(2, 60, 60, x.device) == 1
    out0, grads0 = results[None]
    for budget in (2 * 6 * 60 * 7, 1):
        out, grads = results[budget]
        torch.testing.assert_close(out, out0, rtol=1e-6, atol=1e-6)
        for gr, g0 in zip(grads, grads0, strict=True):
            torch.testing.assert_close(gr, g0, rtol=1e-5, atol=1e-6 + 1e-5 * float(g0.abs().max()))  # summation order
    attn.bias_chunk_elements = None  # the device default: chunks on CPU once the bias is big
    assert attn._query_chunk(1, 2048, 2048, torch.device("cpu")) == deformable.CPU_BIAS_CHUNK_ELEMENTS // (6 * 2048)
    assert attn._query_chunk(1, 2048, 2048, torch.device("cuda")) == 2048
