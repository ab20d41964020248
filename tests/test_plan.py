"""``python -m datar plan``: the runs the workflow trains, their steps, disk and hours."""

from __future__ import annotations

import json
import math
import re

import pytest

from conftest import REPO, run_snakemake, tiny_demo_config, write_config
from datar.__main__ import main as datar_main
from datar.cli.plan import main as plan_main
from datar.errors import ConfigError
from datar.plan.budget import run_length
from datar.plan.throughput import parse_samples_per_s

PAPER = REPO / "config" / "config.yaml"


def _plan(tmp_path, config, *args):
    out = tmp_path / "plan.json"
    assert plan_main(["--config", str(config), "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_paper_plan_counts_the_runs_the_workflow_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no data/ here: counts come from paper_counts
    proc = run_snakemake(tmp_path, PAPER, "-n", "--cores", "1", "all")
    dag = set(re.findall(r"results/runs/(\w+)/([\w.]+)/seed(\d+)/checkpoint\.pt", proc.stdout))
    plan = _plan(tmp_path, PAPER, "--samples-per-s", "datar=1669,ast=639")
    planned = {(r["dataset"], r["variant"], str(s)) for r in plan["runs"] for s in r["seeds"]}
    assert planned == dag and plan["totals"]["runs"] == len(dag) == 33
    ks = {r["variant"]: r for r in plan["runs"] if r["dataset"] == "kinetics_sounds"}
    assert ks["datar"]["steps"] == 300 * math.ceil(22914 / 12) == 573_000
    assert ks["datar"]["samples_all_seeds"] == 3 * 300 * 22914
    # 7 x 3 runs x 300 x 22,914 + 2 x 3 x 50 x 159,223 + 2 x 3 x 100 x 67,217 samples
    assert plan["totals"]["samples"] == 21 * 300 * 22914 + 6 * 50 * 159223 + 6 * 100 * 67217 == 232_455_300
    vgg = next(d for d in plan["datasets"] if d["dataset"] == "vggsound")
    assert vgg["counts_from"] == "paper"
    assert vgg["feature_bytes"] == (159223 + 12790) * 1024 * 128 * 2  # float16 fbank, 45.1 GB
    hours = ks["datar"]["samples_all_seeds"] / 1669 / 3600 + 3 * 1585 / (3 * 1669) / 3600
    assert ks["datar"]["hours"] == pytest.approx(hours)
    text = capsys.readouterr().out
    assert "| kinetics_sounds | datar | 3 | 300 | 573,000 |" in text
    assert "given with --samples-per-s" in text and "| paper |" in text


def test_counts_come_from_the_manifest_once_it_exists(tmp_path, monkeypatch):
    cfg = tiny_demo_config()
    cfg["data_dir"] = str(tmp_path / "data")
    path = write_config(tmp_path / "tiny.yaml", cfg)
    kinetics = tmp_path / "data" / "kinetics_sounds"
    kinetics.mkdir(parents=True)
    (kinetics / "shards.json").write_text(json.dumps({"shards": [
        {"name": "train-00000", "split": "train", "n": 16}, {"name": "train-00001", "split": "train", "n": 5},
        {"name": "test-00000", "split": "test", "n": 7}]}))
    (kinetics / "manifest.csv").write_text("clip_id,source,start,end,split,shard,label\n"
                                           + "".join(f"c{i},x,1.0,3.5,train,train-00000,a\n" for i in range(27))
                                           + "c27,x,0.0,,test,test-00000,a\n")
    plan = _plan(tmp_path, path, "--samples-per-s", "100")
    ks = next(d for d in plan["datasets"] if d["dataset"] == "kinetics_sounds")
    assert ks["counts_from"] == "manifest" and ks["splits"] == {"train": 21, "test": 7}
    assert ks["audio_seconds"] == pytest.approx(27 * 2.5 + 1.0)  # an open end counts audio.clip_seconds (1 s)
    vgg = next(d for d in plan["datasets"] if d["dataset"] == "vggsound")
    assert vgg["counts_from"] == "paper"
    run = next(r for r in plan["runs"] if r["dataset"] == "kinetics_sounds" and r["variant"] == "datar")
    assert run["steps_per_epoch"] == math.ceil(21 / 8) and run["steps"] == 2 * 3 and run["samples"] == 2 * 21


def test_one_number_or_one_per_family(tmp_path):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())
    one = _plan(tmp_path, cfg, "--samples-per-s", "10")
    per = _plan(tmp_path, cfg, "--samples-per-s", "datar=10,ast=5")
    for a, b in zip(one["runs"], per["runs"]):
        assert b["hours"] == pytest.approx(a["hours"] * (2 if a["family"] == "ast" else 1))
    run = one["runs"][0]
    assert run["hours"] == pytest.approx(len(run["seeds"]) * (run["samples"] / 10 + run["eval_samples"] / 30) / 3600)
    assert per["throughput"]["ast"]["source"] == "given"


def test_run_length_follows_the_training_loop_and_its_cap():
    assert run_length(7, batch_size=2, epochs=3, max_steps=None) == (4, 12, 21)
    # capped after one full epoch (7 samples) and one more batch of 2
    assert run_length(7, batch_size=2, epochs=3, max_steps=5) == (4, 5, 9)
    assert run_length(7, batch_size=2, epochs=3, max_steps=50) == (4, 12, 21)
    assert run_length(0, batch_size=2, epochs=3, max_steps=None) == (1, 3, 0)


@pytest.mark.parametrize("text, message", [
    ("0", "must be a positive number"), ("fast", "is not a number"), ("datar=3,gpu=2", "'gpu=2' is not NAME=NUMBER"),
    ("datar=3", "no value for ast"), ("ast=-1,datar=2", "must be a positive number"),
])
def test_bad_samples_per_s_is_named(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_samples_per_s(text, ["dat", "ast"])


def test_bad_samples_per_s_exits_2_with_one_line(tmp_path, capsys):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())
    assert datar_main(["plan", "--config", str(cfg), "--samples-per-s", "datar=1"]) == 2
    assert "--samples-per-s: no value for ast" in capsys.readouterr().err


def test_measured_rate_times_the_real_model_here(tmp_path, capsys):
    cfg = write_config(tmp_path / "tiny.yaml", tiny_demo_config())  # size tiny, 32 mel x 64 frames
    plan = _plan(tmp_path, cfg, "--device", "cpu", "--steps", "1", "--warmup", "1")
    for family, variant in (("dat", "datar"), ("ast", "ast")):
        tp = plan["throughput"][family]
        assert tp["source"] == "measured" and tp["device"] == "cpu" and tp["variant"] == variant
        assert tp["batch_size"] == 2 and tp["samples_per_s"] > 0 and tp["eval_samples_per_s"] > 0
    assert all(r["hours"] > 0 for r in plan["runs"])
    assert "measured on cpu" in capsys.readouterr().out
