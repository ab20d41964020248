"""Models: every variant runs; deformable attention matches its equations (CPU, tiny sizes)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from datar.models import VARIANTS, adapted_input, build_model, collect_sampling_points, describe
from datar.models.adaptor import InputAdaptor
from datar.models.deformable_attention import DeformableAttention, reference_points
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
    with pytest.raises(ValueError, match="overrides"):
        build_model("datar", **kw, typo_key=1)
    with pytest.raises(ValueError, match="num_mel_bins"):
        build_model("datar", **{**kw, "num_mel_bins": 8})
    model = build_model("datar", **kw)
    with pytest.raises(ValueError, match="x: expected"):
        model(torch.randn(1, M, T))


def _fixed_reference(attn: DeformableAttention, x: torch.Tensor) -> torch.Tensor:
    """Plain full attention over every token + table-lookup relative position bias."""
    b, h, w, c = x.shape
    m, d = attn.num_heads, attn.head_dim
    q = attn.q(x).view(b, h * w, m, d).transpose(1, 2)
    k = attn.k(x).view(b, h * w, m, d).transpose(1, 2)
    v = attn.v(x).view(b, h * w, m, d).transpose(1, 2)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + h - 1
    dx = xs[:, None] - xs[None, :] + w - 1
    bias = attn.rpe_table[:, dy, dx]  # (M, hw, hw): table lookup at integer displacements
    logits = q @ k.transpose(-2, -1) / math.sqrt(d) + bias
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, h, w, c)
    return attn.proj(out)


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
        learned.offset_net.pointwise.weight.zero_()
        torch.testing.assert_close(learned(x), fixed(x), rtol=1e-5, atol=1e-6)
        # ... and both equal explicit full attention with an integer table lookup.
        torch.testing.assert_close(fixed(x), _fixed_reference(fixed, x), rtol=1e-5, atol=1e-5)


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


def test_zero_offsets_sample_features_at_reference_points():
    h, w, c = 5, 7, 3
    feat = torch.randn(1, c, h, w)
    ref = reference_points(h, w)  # (h, w, 2) as (y, x)
    sampled = F.grid_sample(feat, ref[None][..., (1, 0)], mode="bilinear", align_corners=True)
    torch.testing.assert_close(sampled, feat, rtol=0, atol=1e-5)  # float32 rounding only
    assert ref[0, 0].tolist() == [-1.0, -1.0] and ref[-1, -1].tolist() == [1.0, 1.0]


def test_position_bias_interpolation_is_table_lookup_at_integer_displacements():
    h, w = 4, 6
    attn = DeformableAttention(dim=8, num_heads=2, groups=1, fmap_size=(h, w), offsets="fixed")
    with torch.no_grad():
        attn.rpe_table.normal_()
    pos = reference_points(h, w)[None]  # keys on the integer grid
    bias = attn.position_bias(pos, h, w)[0]  # (heads, hw, hw)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    expect = attn.rpe_table[:, ys[:, None] - ys[None, :] + h - 1, xs[:, None] - xs[None, :] + w - 1]
    torch.testing.assert_close(bias, expect.detach(), rtol=1e-5, atol=1e-5)
    # A half-pixel displacement reads the average of the two neighbouring entries.
    shifted = pos.clone()
    shifted[..., 1] += 0.5 * 2 / (w - 1)  # keys half a pixel to the right
    b2 = attn.position_bias(shifted, h, w)[0]
    q0, k0 = 0, 0  # query (0,0), key (0,0)+0.5 -> dx = -0.5
    mid = 0.5 * (attn.rpe_table[:, h - 1, w - 1] + attn.rpe_table[:, h - 1, w - 2])
    torch.testing.assert_close(b2[:, q0, k0], mid.detach(), rtol=1e-5, atol=1e-5)


def test_offset_conv_has_no_bias_and_offsets_bounded_by_s():
    s = 1.5
    attn = DeformableAttention(dim=16, num_heads=4, groups=2, fmap_size=(6, 10), offset_scale=s)
    assert attn.offset_net.pointwise.bias is None
    assert attn.offset_net.dwconv.kernel_size == (5, 5) and attn.offset_net.dwconv.groups == 8
    with torch.no_grad():
        attn.offset_net.pointwise.weight.mul_(1000.0)  # saturate tanh
        pos, ref = attn.sampling_positions(attn.q(torch.randn(2, 6, 10, 16) * 10))
    cells = (pos - ref) / torch.tensor([2 / 5, 2 / 9])  # normalised -> reference-grid cells
    assert cells.abs().max() <= s + 1e-5
    assert cells.abs().max() > 0.9 * s  # saturated: the bound is reached, not just respected


def test_kv_stride_subsamples_reference_grid():
    attn = DeformableAttention(dim=8, num_heads=2, groups=1, fmap_size=(8, 16), kv_stride=4)
    pos, ref = attn.sampling_positions(torch.randn(1, 8, 16, 8))
    assert ref.shape == (2, 4, 2) and pos.shape == (1, 2, 4, 2)
    assert attn(torch.randn(1, 8, 16, 8)).shape == (1, 8, 16, 8)


def test_shifted_window_attention_masks_the_seam():
    attn = WindowAttention(dim=8, num_heads=2, window=(4, 4), mode="shifted", fmap_size=(8, 8))
    assert attn.shift == (2, 2)
    partial = WindowAttention(dim=8, num_heads=2, window=(4, 4), mode="shifted", fmap_size=(4, 8))
    assert partial.shift == (0, 2)  # an axis covered by one window is not shifted
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


def test_registry_matches_torch_free_variant_names():
    from datar.variants import MODEL_VARIANTS

    assert tuple(VARIANTS) == tuple(MODEL_VARIANTS)


@pytest.mark.parametrize("edge", [0.0, 1.0 - 2**-24])
def test_laplace_noise_is_finite_at_the_edges_of_rand(monkeypatch, edge):
    """torch.rand can return exactly 0 (and values just below 1): the noise must stay finite."""
    from datar.models.noise import InputNoise

    noise = InputNoise(kind="laplace", scale=0.005).train()
    monkeypatch.setattr(torch, "rand_like", lambda x: torch.full_like(x, edge))
    out = noise(torch.zeros(4, 8))
    assert torch.isfinite(out).all()
    assert out.abs().max() < 0.005 * 20  # |log(eps)| is about 16
