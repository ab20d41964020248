"""Pretrained-weight loading from synthetic state dicts in the official key layouts."""

from __future__ import annotations

import pytest
import torch

from datar.models import build_model
from datar.models.dat import DAT_SIZES
from datar.models.weights import LoadReport, detect_format, load_pretrained

M, T = 64, 256


def official_dat_state_dict(size: str = "tiny", *, window: int = 7, fmap: tuple[int, int] = (14, 14)) -> dict:
    """Tensors named and shaped as the official DAT repo's ImageNet checkpoint (224 px input).

    Stage spec L,S | L,S | L,D,... | L,D; offset kernels 5 (stage 3) and 3 (stage 4);
    ``fmap`` is the stage-3 map (stage 4 is half of it).
    """
    s = DAT_SIZES[size]
    g = torch.Generator().manual_seed(0)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    sd = {"patch_proj.0.weight": r(s.dims[0], 3, 4, 4), "patch_proj.0.bias": r(s.dims[0]),
          "patch_proj.1.norm.weight": r(s.dims[0]), "patch_proj.1.norm.bias": r(s.dims[0])}
    for i in range(4):
        c, heads = s.dims[i], s.heads[i]
        for d in range(s.depths[i]):
            p = f"stages.{i}"
            sd[f"{p}.layer_norms.{2 * d}.norm.weight"] = r(c)
            sd[f"{p}.layer_norms.{2 * d}.norm.bias"] = r(c)
            sd[f"{p}.layer_norms.{2 * d + 1}.norm.weight"] = r(c)
            sd[f"{p}.layer_norms.{2 * d + 1}.norm.bias"] = r(c)
            sd[f"{p}.mlps.{d}.chunk.linear1.weight"] = r(4 * c, c)
            sd[f"{p}.mlps.{d}.chunk.linear1.bias"] = r(4 * c)
            sd[f"{p}.mlps.{d}.chunk.linear2.weight"] = r(c, 4 * c)
            sd[f"{p}.mlps.{d}.chunk.linear2.bias"] = r(c)
            a = f"{p}.attns.{d}"
            if i < 2 or d % 2 == 0:
                sd[f"{a}.proj_qkv.weight"] = r(3 * c, c)
                sd[f"{a}.proj_qkv.bias"] = r(3 * c)
                sd[f"{a}.proj_out.weight"] = r(c, c)
                sd[f"{a}.proj_out.bias"] = r(c)
                sd[f"{a}.relative_position_bias_table"] = r((2 * window - 1) ** 2, heads)
                sd[f"{a}.relative_position_index"] = torch.zeros(window ** 2, window ** 2, dtype=torch.long)
                if d % 2 == 1:
                    sd[f"{a}.attn_mask"] = torch.zeros(4, window ** 2, window ** 2)
            else:
                groups = s.groups[i - 2]
                cg, k = c // groups, 5 if i == 2 else 3
                h, w = (fmap[0], fmap[1]) if i == 2 else (fmap[0] // 2, fmap[1] // 2)
                for n in "qkv":
                    sd[f"{a}.proj_{n}.weight"] = r(c, c, 1, 1)
                    sd[f"{a}.proj_{n}.bias"] = r(c)
                sd[f"{a}.proj_out.weight"] = r(c, c, 1, 1)
                sd[f"{a}.proj_out.bias"] = r(c)
                sd[f"{a}.conv_offset.0.weight"] = r(cg, 1, k, k)
                sd[f"{a}.conv_offset.0.bias"] = r(cg)
                sd[f"{a}.conv_offset.1.norm.weight"] = r(cg)
                sd[f"{a}.conv_offset.1.norm.bias"] = r(cg)
                sd[f"{a}.conv_offset.3.weight"] = r(2, cg, 1, 1)
                sd[f"{a}.rpe_table"] = r(heads, 2 * h - 1, 2 * w - 1)
        if i < 3:
            sd[f"down_projs.{i}.0.weight"] = r(s.dims[i + 1], c, 2, 2)
            sd[f"down_projs.{i}.1.norm.weight"] = r(s.dims[i + 1])
            sd[f"down_projs.{i}.1.norm.bias"] = r(s.dims[i + 1])
    sd["cls_norm.norm.weight"] = r(s.dims[3])
    sd["cls_norm.norm.bias"] = r(s.dims[3])
    sd["cls_head.weight"] = r(1000, s.dims[3])
    sd["cls_head.bias"] = r(1000)
    return sd


def test_dat_official_layout_loads_and_adapts():
    model = build_model("datar", size="tiny", heads={"label": 5}, num_mel_bins=M, target_length=T)
    sd = official_dat_state_dict()
    assert detect_format(sd) == "dat"
    report = load_pretrained(model, {"model": sd, "optimizer": {}, "lr_scheduler": {}, "max_accuracy": 82.0,
                                     "epoch": 299, "config": "..."})  # the official checkpoint wrapper
    assert isinstance(report, LoadReport) and report.source_format == "dat"
    assert not report.unexpected and not report.mismatched, report
    # Only the new parts keep their initialisation: the adaptor and the label head.
    assert report.missing == sorted(["adaptor.conv.weight", "adaptor.conv.bias",
                                     "heads.heads.label.fc.weight", "heads.heads.label.fc.bias"])
    assert report.mismatched == {} and "cls_head.weight" in report.skipped
    # Skipped: only derived buffers and the ImageNet head; the offset LNs are filled.
    assert set(report.skipped.values()) == {"derived buffer (recomputed)",
                                            "source classifier (class count or number of heads differs)"}
    for stage, block in ((2, 1), (3, 1)):
        norm = model.stages[stage].blocks[block].attn.offset_net.norm
        torch.testing.assert_close(norm.weight, sd[f"stages.{stage}.attns.{block}.conv_offset.1.norm.weight"])
        torch.testing.assert_close(norm.bias, sd[f"stages.{stage}.attns.{block}.conv_offset.1.norm.bias"])
    pw = model.stages[2].blocks[1].attn.offset_net.pointwise.weight
    torch.testing.assert_close(pw, sd["stages.2.attns.1.conv_offset.3.weight"].flatten(1))
    # RGB stem summed to one channel.
    torch.testing.assert_close(model.stem.proj.weight, sd["patch_proj.0.weight"].sum(1, keepdim=True))
    assert "summed" in report.adapted["stem.proj.weight"]
    # 1x1 conv projections became linear weights.
    torch.testing.assert_close(model.stages[2].blocks[1].attn.k.weight, sd["stages.2.attns.1.proj_k.weight"].flatten(1))
    # Window table 13x13 -> (2*8-1)^2 = 15x15 for the tiny model's 8x8 windows (stage 1: 16x64 map).
    assert model.stages[0].blocks[0].attn.rel_pos_table.shape == (1, 15, 15)
    assert "13x13 -> 15x15" in report.adapted["stages.0.blocks.0.attn.rel_pos_table"]
    # rpe table interpolated from the 14x14 map (27x27) to this model's 4x16 stage-3 map (7x31).
    rpe = model.stages[2].blocks[1].attn.rpe_table
    assert rpe.shape == (4, 7, 31) and "stages.2.blocks.1.attn.rpe_table" in report.adapted
    # DAT's kernels (5 in stage 3, 3 in stage 4) load as they are.
    torch.testing.assert_close(model.stages[3].blocks[1].attn.offset_net.dwconv.weight,
                               sd["stages.3.attns.1.conv_offset.0.weight"])
    assert not any("offset_net" in k for k in report.adapted)
    with torch.no_grad():
        assert torch.isfinite(model(torch.randn(1, T, M))["label"]).all()


def test_rel_pos_interpolation_is_identity_at_same_size():
    model = build_model("dat_deform", size="tiny", heads={"label": 2}, num_mel_bins=32, target_length=32)
    # 32x32 input -> stage maps 8x8, 4x4, 2x2, 1x1; windows 8, 4, 2, 1.
    sd = official_dat_state_dict(window=8, fmap=(2, 2))
    report = load_pretrained(model, sd)
    torch.testing.assert_close(model.stages[0].blocks[0].attn.rel_pos_table,
                               sd["stages.0.attns.0.relative_position_bias_table"].t().reshape(1, 15, 15))
    torch.testing.assert_close(model.stages[2].blocks[1].attn.rpe_table, sd["stages.2.attns.1.rpe_table"])
    assert "stages.2.blocks.1.attn.rpe_table" not in report.adapted


def test_offset_kernel_of_another_size_is_padded():
    model = build_model("dat_deform", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T,
                        offset_kernel=(5, 5))
    sd = official_dat_state_dict()
    report = load_pretrained(model, sd)
    dw = model.stages[3].blocks[1].attn.offset_net.dwconv.weight  # 3x3 zero-padded to 5x5: same function
    torch.testing.assert_close(dw[:, :, 1:4, 1:4], sd["stages.3.attns.1.conv_offset.0.weight"])
    assert dw[:, :, 0].abs().sum() == 0 and "(3, 3) -> (5, 5)" in report.adapted["stages.3.blocks.1.attn.offset_net.dwconv.weight"]


def test_dat_fixed_skips_the_offset_network_and_single_head_loads_matching_head():
    model = build_model("dat_fixed", size="tiny", heads={"label": 1000}, num_mel_bins=M, target_length=T)
    sd = official_dat_state_dict()
    report = load_pretrained(model, sd)
    assert not report.unexpected
    offset_keys = [k for k in sd if ".conv_offset." in k]
    assert offset_keys and all("offsets at 0" in report.skipped[k] for k in offset_keys)
    assert "heads.heads.label.fc.weight" in report.loaded
    assert report.missing == []


def _deit_state_dict(dim=64, layers=2, grid=14, distilled=True, prefix=""):
    g = torch.Generator().manual_seed(1)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    extra = 2 if distilled else 1
    sd = {"cls_token": r(1, 1, dim), "pos_embed": r(1, grid * grid + extra, dim),
          "patch_embed.proj.weight": r(dim, 3, 16, 16), "patch_embed.proj.bias": r(dim),
          "norm.weight": r(dim), "norm.bias": r(dim), "head.weight": r(1000, dim), "head.bias": r(1000)}
    if distilled:
        sd["dist_token"] = r(1, 1, dim)
        sd["head_dist.weight"] = r(1000, dim)
        sd["head_dist.bias"] = r(1000)
    for i in range(layers):
        b = f"blocks.{i}"
        for n in ("norm1", "norm2"):
            sd[f"{b}.{n}.weight"], sd[f"{b}.{n}.bias"] = r(dim), r(dim)
        sd[f"{b}.attn.qkv.weight"], sd[f"{b}.attn.qkv.bias"] = r(3 * dim, dim), r(3 * dim)
        sd[f"{b}.attn.proj.weight"], sd[f"{b}.attn.proj.bias"] = r(dim, dim), r(dim)
        sd[f"{b}.mlp.fc1.weight"], sd[f"{b}.mlp.fc1.bias"] = r(256, dim), r(256)
        sd[f"{b}.mlp.fc2.weight"], sd[f"{b}.mlp.fc2.bias"] = r(dim, 256), r(dim)
    return {prefix + k: v for k, v in sd.items()}


def test_deit_weights_for_ast():
    model = build_model("ast", size="tiny", heads={"label": 3}, num_mel_bins=128, target_length=1024)
    sd = _deit_state_dict()
    report = load_pretrained(model, sd)
    assert report.source_format == "deit"
    assert not report.unexpected and not report.mismatched, report
    assert report.missing == sorted(f"heads.heads.label.{p}.{w}" for p in ("norm", "fc") for w in ("weight", "bias"))
    ast = model.audio_spectrogram_transformer
    torch.testing.assert_close(ast.layers[1].attention.k_proj.weight, sd["blocks.1.attn.qkv.weight"][64:128])
    torch.testing.assert_close(ast.embeddings.patch_embeddings.projection.weight,
                               sd["patch_embed.proj.weight"].sum(1, keepdim=True))
    pos = ast.embeddings.position_embeddings
    assert pos.shape == (1, 12 * 101 + 2, 64)
    torch.testing.assert_close(pos[:, :2], sd["pos_embed"][:, :2])
    # frequency axis 14 -> 12 is a centre crop (rows 1..12); time 14 -> 101 is interpolated.
    assert "14x14 -> 12x101" in report.adapted["audio_spectrogram_transformer.embeddings.position_embeddings"]
    with torch.no_grad():
        assert torch.isfinite(model(torch.randn(1, 1024, 128))["label"]).all()


def test_ast_checkpoint_layouts_roundtrip():
    src = build_model("ast", size="tiny", heads={"label": 3}, num_mel_bins=M, target_length=T)
    dst = build_model("ast", size="tiny", heads={"label": 3}, num_mel_bins=M, target_length=T)
    # transformers ASTForAudioClassification naming (new layout) with its classifier.
    sd = {}
    for k, v in src.state_dict().items():
        k = k.replace("heads.heads.label.norm", "classifier.layernorm").replace("heads.heads.label.fc", "classifier.dense")
        sd[k] = v
    report = load_pretrained(dst, sd)
    assert report.source_format == "hf_ast" and not report.missing and not report.unexpected, report
    x = torch.randn(2, T, M)
    with torch.no_grad():
        torch.testing.assert_close(dst.eval()(x)["label"], src.eval()(x)["label"])
    # The original AST repo layout: module.v.<timm keys>, module.mlp_head.{0,1}.
    ast_repo = _deit_state_dict(prefix="module.v.")
    ast_repo["module.mlp_head.0.weight"], ast_repo["module.mlp_head.0.bias"] = torch.ones(64), torch.zeros(64)
    ast_repo["module.mlp_head.1.weight"], ast_repo["module.mlp_head.1.bias"] = torch.zeros(3, 64), torch.zeros(3)
    report = load_pretrained(dst, ast_repo)
    assert not report.missing and not report.unexpected, report


def test_wrong_family_and_garbage_raise():
    dat = build_model("datar", size="tiny", heads={"label": 2}, num_mel_bins=M, target_length=T)
    with pytest.raises(ValueError, match="state_dict"):
        load_pretrained(dat, _deit_state_dict())
    with pytest.raises(ValueError, match="state_dict"):
        load_pretrained(dat, {"foo.bar": torch.zeros(1)})
