"""Availability report: counts per split on a small hand-built example."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from datar.cli.availability import main as availability_main
from datar.config import Config, config_from_mapping
from datar.data.availability import count_availability, write_availability
from datar.errors import DataError

REPO = Path(__file__).resolve().parent.parent
STATUS_HEADER = "clip_id,status,reason,attempts,bytes\n"
VALID_HEADER = "clip_id,status,reason,duration,sample_rate,channels,rms_dbfs\n"


def make_cfg(tmp_path: Path) -> Config:
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    return config_from_mapping(raw, origin="test")


def build(tmp_path: Path) -> Config:
    """Train: 5 clips in 2 shards (1 dead, 1 silent); test: 2 clips (1 corrupt)."""
    cfg = make_cfg(tmp_path)
    root = Path(cfg.data_dir) / "vggsound"
    (root / "clips").mkdir(parents=True)
    manifest = ["clip_id,source,start,end,split,shard,label"]
    shards = {"train-00000": ["a", "b", "c"], "train-00001": ["d", "e"], "test-00000": ["t1", "t2"]}
    for shard, ids in shards.items():
        manifest += [f"{i},https://x.org/{i}.wav,0.0,3.0,{shard[:-6]},{shard},dog" for i in ids]
    (root / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    files = {
        "train-00000": (["a,ok,,1,100", "b,unavailable,HTTP Error 404,3,0", "c,ok,,1,100"],
                        ["a,ok,,3.0,16000,1,-20", "b,unavailable,HTTP Error 404,,,,", "c,invalid,silent,3.0,16000,1,-99"]),
        "train-00001": (["d,ok,,1,100", "e,ok,,1,100"], ["d,ok,,3.0,16000,1,-20", "e,ok,,3.0,16000,1,-25"]),
        "test-00000": (["t1,ok,,1,100", "t2,invalid,cannot decode,1,50"],
                       ["t1,ok,,3.0,16000,1,-20", "t2,invalid,cannot decode,,,,"]),
    }
    for shard, (status, valid) in files.items():
        (root / "clips" / f"{shard}.status.csv").write_text(STATUS_HEADER + "\n".join(status) + "\n", encoding="utf-8")
        (root / "clips" / f"{shard}.valid.csv").write_text(VALID_HEADER + "\n".join(valid) + "\n", encoding="utf-8")
    return cfg


def test_counts_per_split(tmp_path: Path) -> None:
    cfg = build(tmp_path)
    counts = {c.split: c for c in count_availability(cfg, "vggsound")}
    assert list(counts) == ["train", "test", "total"]
    tr, te, tot = counts["train"], counts["test"], counts["total"]
    # the paper's counts: config/paper.yaml's VGGSound (the demo's vggsound declares it stands for it)
    assert (tr.manifest, tr.downloaded, tr.valid, tr.paper) == (5, 4, 3, 159223)
    assert (te.manifest, te.downloaded, te.valid, te.paper) == (2, 1, 1, 12790)
    assert (tot.manifest, tot.downloaded, tot.valid, tot.paper) == (7, 5, 4, 172013)
    assert tr.reasons == {"download: unavailable: HTTP Error 404": 1, "validate: invalid: silent": 1}
    assert te.reasons == {"download: invalid: cannot decode": 1}
    assert tr.valid_pct_of_paper == pytest.approx(300.0 / 159223)


def test_writes_md_and_csv(tmp_path: Path) -> None:
    cfg = build(tmp_path)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(dict(cfg.raw)), encoding="utf-8")
    assert availability_main(["--config", str(cfg_path), "--dataset", "vggsound"]) == 0
    out = Path(cfg.results_dir) / "data"
    with open(out / "vggsound_availability.csv", encoding="utf-8", newline="") as fh:
        rows = {r["split"]: r for r in csv.DictReader(fh)}
    assert rows["train"]["valid"] == "3" and rows["train"]["paper"] == "159223" and rows["train"]["valid_pct_of_paper"] == "0.00"
    assert "validate: invalid: silent (1)" in rows["train"]["reasons"]
    md = (out / "vggsound_availability.md").read_text(encoding="utf-8")
    assert "| train | 5 | 0 (0.0%) | 4 (80.0%) | 1 (20.0%) | 0 | 3 (60.0%) | 159223 | 0.0% |" in md
    assert "DEMO" in md and "HTTP Error 404" in md


def test_missing_status_file_is_an_error_naming_it(tmp_path: Path) -> None:
    cfg = build(tmp_path)
    missing = Path(cfg.data_dir) / "vggsound" / "clips" / "train-00001.status.csv"
    missing.unlink()
    with pytest.raises(DataError, match=str(missing)):
        write_availability(cfg, "vggsound")


def test_stale_status_file_is_an_error(tmp_path: Path) -> None:
    cfg = build(tmp_path)
    path = Path(cfg.data_dir) / "vggsound" / "clips" / "test-00000.status.csv"
    path.write_text(STATUS_HEADER + "t1,ok,,1,100\nzz,ok,,1,100\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test-00000.status.csv: clip 'zz' is not in shard"):
        count_availability(cfg, "vggsound")
