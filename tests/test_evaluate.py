"""Evaluation: exact accuracies on hand-made logits, and the verb on a real EPIC-style checkpoint."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch
import yaml

from datar.__main__ import main as datar_main
from datar.checkpoint import load_checkpoint, save_checkpoint
from datar.cli import evaluate as evaluate_cli
from datar.errors import CheckpointError, DataError
from datar.features.shards import read_shard
from datar.features.stats import load_stats
from datar.features.version import write_data_version
from datar.models import build_model
from datar.train.accuracy import action_topk_hits, epic_metrics, single_label_metrics, topk_hits
from synthetic_data import write_synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
MEL, FRAMES = 32, 64


def test_single_label_top1_top5_exact():
    logits = torch.tensor([
        [9.0, 1, 2, 3, 4, 5],   # true 0: rank 1
        [9.0, 8, 1, 2, 3, 4],   # true 1: rank 2
        [6.0, 5, 0, 4, 3, 2],   # true 2: rank 6 (last)
        [6.0, 5, 4, 2, 3, 0],   # true 3: rank 5
    ])
    target = torch.tensor([0, 1, 2, 3])
    assert topk_hits(logits, target, 1).tolist() == [True, False, False, False]
    assert topk_hits(logits, target, 5).tolist() == [True, True, False, True]
    assert single_label_metrics(logits, target) == {"top1": 25.0, "top5": 75.0}


def test_epic_verb_noun_action_exact():
    verb = torch.tensor([[3.0, 0, 0], [0.0, 8, 1], [10.0, 5, 0], [10.0, 5, 0]])
    noun = torch.tensor([[0.0, 0, 0, 5], [5.0, 0, 9, 1], [10.0, -1, -3, -6], [10.0, -1, -3, -6]])
    tv = torch.tensor([0, 1, 2, 2])
    tn = torch.tensor([3, 0, 0, 3])
    # clip 0: both right. clip 1: noun wrong, pair ranked 2nd. clip 2: verb wrong, pair
    # ranked 3rd (log-prob sums 0, -5, -10, -11, ...). clip 3: both wrong, pair far down.
    assert action_topk_hits(verb, noun, tv, tn, 1).tolist() == [True, False, False, False]
    assert action_topk_hits(verb, noun, tv, tn, 5).tolist() == [True, True, True, False]
    assert epic_metrics({"verb": verb, "noun": noun}, {"verb": tv, "noun": tn}) == {
        "verb_top1": 50.0, "verb_top5": 100.0, "noun_top1": 50.0, "noun_top5": 100.0,
        "action_top1": 25.0, "action_top5": 75.0,
    }


def _config(tmp: Path, data: Path) -> Path:
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    raw["data_dir"] = str(data)
    raw["fbank"].update(num_mel_bins=MEL, target_length=FRAMES, freq_mask=4, time_mask=8)
    raw["train"]["batch_size"] = 4
    path = tmp / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_evaluate_epic_run_writes_metrics_and_predictions(tmp_path):
    data = tmp_path / "data"
    heads = {"verb": 3, "noun": 4}
    write_synthetic_dataset(data, "epic100", heads=heads, splits={"train": 8, "test": 10},
                            frames=FRAMES, mel=MEL, shard_size=4)
    cfg = _config(tmp_path, data)
    torch.manual_seed(0)
    model = build_model("dat_deform", size="tiny", heads=heads, num_mel_bins=MEL, target_length=FRAMES)
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoint.pt", {
        "model": model.state_dict(), "variant": "dat_deform", "size": "tiny", "heads": heads,
        "num_mel_bins": MEL, "target_length": FRAMES, "dataset": "epic100", "seed": 3, "epoch": 12,
        "config": {}, "pretrained": False,
    })
    assert evaluate_cli.main(["--config", str(cfg), "--run", str(run), "--device", "cpu"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())

    # Independent reference: read the shards directly, normalise, run the model.
    stats = load_stats(data / "epic100" / "fbank" / "stats.json")
    shards = [read_shard(data / "epic100" / "fbank" / f"test-{k:05d}.safetensors") for k in range(3)]
    x = (torch.cat([s.fbank for s in shards]).float() - stats.mean) / (2 * stats.std)
    model.eval()
    with torch.no_grad():
        out = model(x)
    labels = {h: torch.cat([s.labels[h] for s in shards]) for h in heads}
    expect = epic_metrics(out, labels)
    assert metrics["metrics"] == pytest.approx(expect, abs=1e-3)
    assert metrics["n_clips"] == 10 and metrics["seed"] == 3 and metrics["variant"] == "dat_deform"
    assert metrics["split"] == "test" and metrics["pretrained"] is False and metrics["demo"] is True
    assert metrics["size"] == "tiny" and len(metrics["config_sha256"]) == 64
    version = json.loads((data / "epic100" / "version.json").read_text())["data_version"]
    assert metrics["data_version"] == version  # the one data version: version.json's

    preds = list(csv.DictReader(io.StringIO((run / "predictions.csv").read_text())))
    assert list(preds[0]) == ["clip_id", "verb_true", "verb_pred", "verb_top5", "noun_true", "noun_pred",
                              "noun_top5"]
    assert [p["clip_id"] for p in preds] == [c for s in shards for c in s.clip_ids]
    assert [p["noun_pred"] for p in preds] == [f"noun_{i}" for i in out["noun"].argmax(1).tolist()]
    assert all(len(p["noun_top5"].split("|")) == 4 for p in preds)  # 4 classes: all of them

    (data / "epic100" / "version.json").unlink()
    with pytest.raises(DataError, match=r"version\.json: not found \(run `snakemake .*version\.json`"):
        evaluate_cli.main(["--config", str(cfg), "--run", str(run), "--device", "cpu"])
    write_data_version(data, "epic100")
    payload = load_checkpoint(run / "checkpoint.pt")
    save_checkpoint(run / "checkpoint.pt", {**payload, "data_version": "0" * 64})
    with pytest.raises(CheckpointError, match=r"trained on data version 000000000000 but .*retrain it"):
        evaluate_cli.main(["--config", str(cfg), "--run", str(run), "--device", "cpu"])


def test_evaluate_corrupt_checkpoint_is_a_clear_cli_error(tmp_path, capsys):
    data = tmp_path / "data"
    write_synthetic_dataset(data, "kinetics_sounds", heads={"label": 2}, splits={"train": 4, "test": 4},
                            frames=FRAMES, mel=MEL)
    cfg = _config(tmp_path, data)
    run = tmp_path / "run"
    model = build_model("ast", size="tiny", heads={"label": 2}, num_mel_bins=MEL, target_length=FRAMES)
    save_checkpoint(run / "checkpoint.pt", {
        "model": model.state_dict(), "variant": "ast", "size": "tiny", "heads": {"label": 2},
        "num_mel_bins": MEL, "target_length": FRAMES, "dataset": "kinetics_sounds", "seed": 0, "epoch": 1,
        "config": {}, "pretrained": False,
    })
    blob = bytearray((run / "checkpoint.pt").read_bytes())
    blob[-100] ^= 0xFF
    (run / "checkpoint.pt").write_bytes(bytes(blob))
    assert datar_main(["evaluate", "--config", str(cfg), "--run", str(run), "--device", "cpu"]) == 2
    assert "checkpoint.pt: checksum mismatch" in capsys.readouterr().err
    assert not (run / "metrics.json").exists()
