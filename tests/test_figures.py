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
            assert ax.get_xlabel() == "time in the model's input window (s)" and ax.get_ylabel() == "mel bin"
            assert ax.get_xlim()[1] == pytest.approx((T - 0.5) * 0.01)
    assert len(fig.axes) == 12  # six panels + six colour bars


def test_fig1_rows_name_true_and_predicted_class_and_padding(work):
    """Each row's title: clip, true class, predicted class; a padded clip says so and shades the padding."""
    from datar.checkpoint import model_from_checkpoint
    from datar.report.fig_adaptor import row_titles

    model, _ = model_from_checkpoint(work["runs"]["datar"] / "checkpoint.pt")
    x = work["fbank"][:2].float()
    names = {"label": ["dog", "cat", "bird", "car"]}
    titles = row_titles(model, x, ["clip0", "clip1"], {"label": [0, 1]}, names)
    with torch.no_grad():
        pred = model(x)["label"].argmax(1).tolist()
    for i, t in enumerate(titles):
        assert t.startswith(f"clip{i} — true: {names['label'][i]}, predicted: {names['label'][pred[i]]}")
        assert t.endswith("(right)" if pred[i] == i else "(wrong)")
    adapted, added = adapted_input(model, x)
    fig = adaptor_figure(x, adapted, added, clip_ids=["clip0", "clip1"], frame_shift_ms=10.0, lam=0.005, title="t",
                         row_titles=titles, n_frames=[40, 100])
    first = [ax for ax in fig.axes if ax.images]
    assert first[0].get_title(loc="left").startswith(titles[0])
    assert "0.40 s of audio, zero-padded to the 0.64 s window" in first[0].get_title(loc="left")
    assert "cropped to the first 0.64 s of 1.00 s" in first[3].get_title(loc="left")
    assert any(p.get_hatch() == "//" for p in first[0].patches)  # the padding is shaded
    assert not any(p.get_hatch() == "//" for p in first[3].patches)


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
    assert curve.label == "DATAR (deformable + adaptor, λ=0.005), seed 1"  # the tables' row names
    assert curve.epoch == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert math.isnan(read_log(logs[2]).val_top1[0])
    prefix = work["root"] / "figures" / "curves_kinetics_sounds"
    assert figure_curves.main(["--config", str(work["config"]), "--out-prefix", str(prefix), *logs]) == 0
    _assert_files(prefix)
    bad = work["root"] / "bad_log.csv"
    bad.write_text("epoch,lr\n1,0.1\n")
    with pytest.raises(DataError, match="bad_log.csv.*train_loss"):
        read_log(bad)


def test_curves_without_validation_have_no_empty_panel_and_an_outside_legend(tmp_path):
    from datar.report.fig_curves import Curve, curves_figure

    c = [Curve(label=f"deformable + N(0, 0.005), seed {s}", variant="dat_deform_gauss", epoch=[1.0, 2.0, 3.0],
               step=[1.0, 2.0, 3.0], train_loss=[3.0, 2.0, 1.5], val_top1=[math.nan] * 3) for s in (0, 1)]
    fig = curves_figure(c, title="t", heads=("verb", "noun"))
    assert len(fig.axes) == 1 and fig.axes[0].has_data()  # no blank validation panel
    assert fig.axes[0].get_ylabel() == "training loss (sum of cross-entropy over heads verb + noun)"
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1  # the legend is the figure's, outside
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [x.label for x in c]
    with_val = [Curve(label="a", variant="datar", epoch=[1.0, 2.0], step=[1.0, 2.0], train_loss=[1.0, 0.5],
                      val_top1=[20.0, 30.0])]
    fig = curves_figure(with_val, title="t")
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    assert fig.axes[0].get_ylabel() == "training loss (cross-entropy)"


def test_figure_classes_cli_per_head_accuracy_and_confusion(tmp_path):
    from datar.cli import figure_classes

    raw = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"], raw["results_dir"] = str(tmp_path / "data"), str(tmp_path / "results")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    (tmp_path / "data" / "epic100").mkdir(parents=True)
    (tmp_path / "data" / "epic100" / "classes.json").write_text(json.dumps(
        {"heads": {"verb": ["open", "close", "cut"], "noun": ["door", "knife"]}}))
    rows = ["clip_id,verb_true,verb_pred,verb_top5,noun_true,noun_pred,noun_top5",
            "a,open,open,open|cut,door,door,door|knife", "b,open,cut,cut|open,door,knife,knife|door",
            "c,cut,cut,cut|open,knife,knife,knife|door", "d,close,open,open|close,knife,knife,knife|door"]
    paths = []
    for seed in (0, 1):
        p = tmp_path / f"seed{seed}" / "predictions.csv"
        p.parent.mkdir()
        p.write_text("\n".join(rows) + "\n")
        paths.append(str(p))
    prefix = tmp_path / "out" / "datar"
    assert figure_classes.main(["--config", str(cfg), "--dataset", "epic100", "--variant", "datar",
                                "--out-prefix", str(prefix), *paths]) == 0
    png = prefix.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    table = {(r["head"], r["class"]): r for r in __import__("csv").DictReader(open(prefix.with_suffix(".csv")))}
    assert table[("verb", "open")]["accuracy"] == "50.0" and table[("verb", "open")]["clips"] == "2.0"
    assert table[("verb", "open")]["most_confused_with"] == "cut"
    assert table[("verb", "close")]["accuracy"] == "0.0" and table[("verb", "cut")]["accuracy"] == "100.0"
    assert table[("noun", "door")]["accuracy"] == "50.0" and table[("noun", "knife")]["correct"] == "4"
