"""MAC counting: AST at 128 x 1024 is the paper's 103.4 GMACs (conv + linear)."""

from __future__ import annotations

import json

import pytest
from torch import nn

from datar.cli.macs import main as macs_main
from datar.models import build_model
from datar.models.macs import count_macs


def test_ast_base_is_paper_figure():
    model = build_model("ast", size="B", heads={"label": 309}, num_mel_bins=128, target_length=1024)
    r = count_macs(model, (1, 1024, 128))
    assert abs(r["conv_linear"] / 1e9 - 103.4) / 103.4 < 0.01
    # attention products: 12 layers x 2 x 1214^2 x 768 (sdpa counted too)
    assert r["attention"] == 12 * 2 * 1214 ** 2 * 768
    assert r["total"] == r["conv_linear"] + r["attention"]
    assert "conv_linear" in r["convention"]


def test_counts_linear_and_conv_exactly():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 5 * 6, 7))
    r = count_macs(model, (1, 1, 5, 6))
    assert r["conv_linear"] == 4 * 5 * 6 * 9 + 120 * 7
    assert r["attention"] == 0


def test_dat_counts_attention_products():
    model = build_model("datar", size="tiny", heads={"label": 2}, num_mel_bins=64, target_length=256)
    r = count_macs(model, (1, 256, 64))
    assert r["conv_linear"] > 0 and r["attention"] > 0
    assert model.training  # mode restored


def test_cli(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert macs_main(["--variant", "datar", "--size", "tiny", "--frames", "256", "--mel", "64", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "conv+linear" in text and "convention" in text
    data = json.loads(out.read_text())
    assert data["gmacs_total"] >= data["gmacs_conv_linear"] > 0
    with pytest.raises(SystemExit):
        macs_main(["--variant", "nope", "--size", "tiny", "--frames", "256"])


def test_cli_reads_paper_gmacs_from_the_paper_file(tmp_path, capsys):
    paper = tmp_path / "paper.yaml"
    paper.write_text("source: test\ntables: {}\ncompute_gmacs: {ast: 1.5}\n")
    out = tmp_path / "m.json"
    assert macs_main(["--variant", "ast", "--size", "tiny", "--frames", "1024", "--paper", str(paper),
                      "--json", str(out)]) == 0
    assert json.loads(out.read_text())["paper_gmacs"] == 1.5
    assert "| 1.5 |" in capsys.readouterr().out


def test_deformable_attention_counts_only_its_attention_products():
    """q.k^T and attn.v, nothing else (the CPU's matrix-product form of the coordinate grid is no MAC)."""
    from datar.models.deformable_attention import DeformableAttention

    dim, heads, (h, w) = 32, 4, (6, 10)
    attn = DeformableAttention(dim=dim, num_heads=heads, groups=2, fmap_size=(h, w))
    r = count_macs(attn, (1, h, w, dim))
    n = h * w  # queries = keys (kv_stride 1)
    assert r["attention"] == 2 * heads * n * n * (dim // heads), r


def test_counting_on_the_meta_device_gives_the_cpu_counts():
    """The tables count MACs on the meta device (shapes only): the same numbers as a CPU forward pass."""
    import torch

    from datar.models import build_model
    from datar.models.macs import count_macs

    for variant in ("datar", "dat_fixed", "ast"):
        kw = dict(size="tiny", heads={"label": 5}, num_mel_bins=64, target_length=256)
        cpu = count_macs(build_model(variant, **kw), (1, 256, 64))
        with torch.device("meta"):
            meta = count_macs(build_model(variant, **kw), (1, 256, 64))
        assert meta == cpu, variant
