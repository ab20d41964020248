"""Figures on a tiny real checkpoint and a tiny real feature shard: files exist and show the right data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from datar.checkpoint import save_checkpoint
from datar.cli import figure_adaptor, figure_curves, figure_deform
from datar.config import load_config
from datar.errors import CheckpointError, DataError
from datar.features.shards import ShardData, write_shard
from datar.features.stats import Stats, write_stats
from datar.models import adapted_input, build_model
from datar.report.fig_adaptor import adaptor_figure
from datar.report.fig_common import sample_test_clips
from datar.report.fig_curves import read_log
from datar.report.fig_deform import to_input_coords

ROOT = Path(__file__).resolve().parents[1]
M, T, N_CLIPS = 32, 64, 3


def _save_run(root: Path, variant: str, raw: dict) -> Path:
    torch.manual_seed(0)
    model = build_model(variant, size="tiny", heads={"label": 4}, num_mel_bins=M, target_length=T)
    run = root / "results" / "runs" / "kinetics_sounds" / variant / "seed0"
    run.mkdir(parents=True)
    save_checkpoint(run / "checkpoint.pt", {
        "model": model.state_dict(), "variant": variant, "size": "tiny", "heads": {"label": 4},
        "num_mel_bins": M, "target_length": T, "dataset": "kinetics_sounds", "seed": 0, "epoch": 1,
        "config": raw, "pretrained": False})
    return run


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig")
    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"], raw["results_dir"] = str(root / "data"), str(root / "results")
    (root / "config.yaml").write_text(yaml.safe_dump(raw))
    g = torch.Generator().manual_seed(1)
    t = torch.arange(T).float()[:, None]
    m = torch.arange(M).float()[None, :]
    fb = torch.stack([-6 + 3 * torch.exp(-((m - 5 - 8 * i) ** 2) / 8) * (1 + torch.sin(t / 4)) + 0.2 * torch.randn(T, M, generator=g)
                      for i in range(N_CLIPS)])
    ds = root / "data" / "kinetics_sounds"
    (ds / "fbank").mkdir(parents=True)
    (ds / "shards.json").write_text(json.dumps({"shards": [{"name": "test-00000", "split": "test", "n": N_CLIPS}]}))
    write_shard(ds / "fbank" / "test-00000.safetensors", ShardData(
        fbank=fb.half(), labels={"label": torch.arange(N_CLIPS)}, n_frames=torch.full((N_CLIPS,), T, dtype=torch.int32),
        clip_ids=[f"clip{i}" for i in range(N_CLIPS)], dataset="kinetics_sounds", shard="test-00000", fbank_config={}))
    write_stats(ds / "fbank" / "stats.json", Stats(mean=-5.0, std=2.0, n_clips=N_CLIPS, shards=["test-00000"]))
    runs = {v: _save_run(root, v, raw) for v in ("datar", "dat_fixed")}
    return {"root": root, "config": root / "config.yaml", "runs": runs, "fbank": fb}


def _assert_files(prefix: Path) -> None:
    png, pdf = prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000


def test_figure_adaptor_cli_writes_png_and_pdf(work):
    prefix = work["root"] / "figures" / "fig1_adaptor"
    assert figure_adaptor.main(["--config", str(work["config"]), "--run", str(work["runs"]["datar"]),
                                "--out-prefix", str(prefix), "--clips", "2"]) == 0
    _assert_files(prefix)


def test_clips_are_normalised_with_stats(work):
    clips = sample_test_clips(load_config(work["config"]), "kinetics_sounds", ["label"], 2, target_length=T, num_mel_bins=M)
    assert clips.clip_ids == ["clip0", "clip2"]  # evenly spread over the test split
    expected = (work["fbank"][[0, 2]].half().float() + 5.0) / (2 * 2.0)
    torch.testing.assert_close(clips.fbank, expected)


def test_adaptor_panels_show_input_adapted_and_difference(work):
    from datar.checkpoint import model_from_checkpoint

    model, _ = model_from_checkpoint(work["runs"]["datar"] / "checkpoint.pt")
    x = torch.randn(2, T, M)
    adapted, added = adapted_input(model, x)
    fig = adaptor_figure(x, adapted, added, clip_ids=["a", "b"], frame_shift_ms=10.0, lam=0.005, title="DEMO t")
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 6
    for i in range(2):
        a_in, a_out, a_diff = axes[3 * i : 3 * i + 3]
        torch.testing.assert_close(torch.as_tensor(a_in.images[0].get_array().data), x[i].T)
        torch.testing.assert_close(torch.as_tensor(a_out.images[0].get_array().data), adapted[i].T)
        torch.testing.assert_close(torch.as_tensor(a_diff.images[0].get_array().data), (adapted[i] - x[i]).T,
                                   atol=1e-6, rtol=1e-5)
        assert a_in.images[0].get_clim() == a_out.images[0].get_clim()  # one shared colour scale
        lo, hi = a_diff.images[0].get_clim()
        assert lo == -hi and hi > 0
        for ax in (a_in, a_out, a_diff):
            assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "mel bin"
            assert ax.get_xlim()[1] == pytest.approx((T - 0.5) * 0.01)
    assert len(fig.axes) == 12  # six panels + six colour bars


def test_adaptor_figure_needs_an_adaptor(work):
    with pytest.raises(CheckpointError, match="no input adaptor"):
        figure_adaptor.main(["--config", str(work["config"]), "--run", str(work["runs"]["dat_fixed"]),
                             "--out-prefix", str(work["root"] / "x")])


def test_figure_deform_cli(work):
    prefix = work["root"] / "figures" / "deform_points"
    assert figure_deform.main(["--config", str(work["config"]), "--run", str(work["runs"]["datar"]),
                               "--out-prefix", str(prefix)]) == 0
    _assert_files(prefix)


def test_sampling_point_coordinates():
    pts = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    out = to_input_coords(pts, (4, 8), n_mel=64, n_frames=256)
    assert out[0].tolist() == pytest.approx([7.5, 15.5])  # centre of the first 16 x 32 cell
    assert out[1].tolist() == pytest.approx([55.5, 239.5])  # centre of the last cell
    assert out[2].tolist() == pytest.approx([31.5, 127.5])  # centre of the map


def test_figure_curves_cli_and_bad_log(work):
    logs = []
    for variant, seed in (("datar", 0), ("datar", 1), ("ast", 0)):
        p = work["root"] / "results" / "runs" / "kinetics_sounds" / variant / f"seed{seed}" / "log.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("epoch,step,train_loss,lr,val_top1,samples_per_s,seconds\n" + "".join(
            f"{e},{10 * e},{2 * math.exp(-e / (3 + seed))},0.001,{'' if variant == 'ast' else 25 + 4 * e},40,{e}\n"
            for e in range(1, 8)))
        logs.append(str(p))
    curve = read_log(logs[1])
    assert curve.label == "datar seed 1" and curve.epoch == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert math.isnan(read_log(logs[2]).val_top1[0])
    prefix = work["root"] / "figures" / "curves_kinetics_sounds"
    assert figure_curves.main(["--config", str(work["config"]), "--out-prefix", str(prefix), *logs]) == 0
    _assert_files(prefix)
    bad = work["root"] / "bad_log.csv"
    bad.write_text("epoch,lr\n1,0.1\n")
    with pytest.raises(DataError, match="bad_log.csv.*train_loss"):
        read_log(bad)
