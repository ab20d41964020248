"""Validate stage: real FLAC clips made with ffmpeg, packed in a shard tar, checked by full decode."""

from __future__ import annotations

import csv
import dataclasses
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from datar.__main__ import main as datar_main
from datar.config import Config, config_from_mapping
from datar.data.clip_status import ClipStatus, write_status_csv
from datar.data.ffmpeg_audio import read_tar_member_audio
from datar.data.validate import VALID_COLUMNS, rms_dbfs, validate_shard
from datar.errors import DataError

sys.path.insert(0, str(Path(__file__).parent))
from httpserver import make_media  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARD = "test-00000"


def make_config(tmp_path: Path) -> Config:
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    raw["data_dir"] = str(tmp_path / "data")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return config_from_mapping(raw)


def build_shard(cfg: Config, tmp_path: Path) -> Path:
    """Manifest + tar + status csv for six clips: ok, silent, short, wrong rate, stereo, dead."""
    rate = cfg.audio.sample_rate
    clips = tmp_path / "clips_src"
    clips.mkdir()
    specs = {  # clip_id: (seconds, rate, channels, volume, manifest end)
        "good": (2.0, rate, 1, 0.8, 2.0),
        "quiet": (2.0, rate, 1, 0.0, 2.0),
        "short": (1.0, rate, 1, 0.8, 2.0),
        "lowrate": (2.0, rate // 2, 1, 0.8, 2.0),
        "stereo": (2.0, rate, 2, 0.8, 2.0),
        "noend": (cfg.audio.clip_seconds, rate, 1, 0.8, ""),
    }
    for clip_id, (sec, r, ch, vol, _) in specs.items():
        make_media(str(clips / f"{clip_id}.flac"), seconds=sec, rate=r, channels=ch, volume=vol)
    root = Path(cfg.data_dir) / "vggsound"
    (root / "clips").mkdir(parents=True)
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", "label"])
        for clip_id, spec in specs.items():
            w.writerow([clip_id, f"file:///src/{clip_id}.wav", 0, spec[4], "test", SHARD, "tone"])
        w.writerow(["dead", "dQw4w9WgXcQ", 0, 2, "test", SHARD, "tone"])
    tar_path = root / "clips" / f"{SHARD}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for clip_id in specs:
            tar.add(clips / f"{clip_id}.flac", arcname=f"{clip_id}.flac")
    statuses = [ClipStatus(c, "ok", "", 1, (clips / f"{c}.flac").stat().st_size) for c in specs]
    statuses.append(ClipStatus("dead", "unavailable", "HTTP Error 404: Not Found", 1, 0))
    write_status_csv(root / "clips" / f"{SHARD}.status.csv", statuses)
    return root / "clips" / f"{SHARD}.valid.csv"


def read_valid(path: Path) -> dict[str, dict[str, str]]:
    with open(path) as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == VALID_COLUMNS
        return {r["clip_id"]: r for r in reader}


def test_validate_flags_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(tmp_path)
    valid = build_shard(cfg, tmp_path)
    assert datar_main(["validate", "--config", str(tmp_path / "config.yaml"), "--dataset", "vggsound",
                       "--shard", SHARD]) == 0
    assert "1 unavailable" in capsys.readouterr().out
    rows = read_valid(valid)
    assert list(rows) == ["good", "quiet", "short", "lowrate", "stereo", "noend", "dead"]
    assert {k: r["status"] for k, r in rows.items()} == {
        "good": "ok", "quiet": "invalid", "short": "invalid", "lowrate": "invalid", "stereo": "invalid",
        "noend": "ok", "dead": "unavailable"}
    good = rows["good"]
    assert good["reason"] == "" and good["sample_rate"] == str(cfg.audio.sample_rate) and good["channels"] == "1"
    assert abs(float(good["duration"]) - 2.0) < 0.01 and -40 < float(good["rms_dbfs"]) < -10
    assert "silent" in rows["quiet"]["reason"] and rows["quiet"]["rms_dbfs"] == "-inf"
    assert "too short" in rows["short"]["reason"]
    assert "sample rate" in rows["lowrate"]["reason"] and rows["lowrate"]["sample_rate"] == str(cfg.audio.sample_rate // 2)
    assert "channels" in rows["stereo"]["reason"] and rows["stereo"]["channels"] == "2"
    assert rows["dead"]["reason"] == "HTTP Error 404: Not Found" and rows["dead"]["duration"] == ""


def test_thresholds_change_without_redownload(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    valid = build_shard(cfg, tmp_path)
    lenient = dataclasses.replace(cfg, validate=dataclasses.replace(cfg.validate, min_duration_fraction=0.4))
    validate_shard(lenient, "vggsound", SHARD)
    assert read_valid(valid)["short"]["status"] == "ok"
    strict = dataclasses.replace(cfg, validate=dataclasses.replace(cfg.validate, silence_dbfs=-5.0))
    validate_shard(strict, "vggsound", SHARD)
    assert "silent" in read_valid(valid)["good"]["reason"]


def test_corrupt_member_and_missing_inputs(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    valid = build_shard(cfg, tmp_path)
    tar_path = valid.with_name(f"{SHARD}.tar")
    junk = tmp_path / "good.flac"
    junk.write_bytes(b"fLaC" + bytes(range(256)) * 20)
    with tarfile.open(tar_path) as tar:
        others = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.name != "good.flac"}  # type: ignore[union-attr]
    with tarfile.open(tar_path, "w") as tar:  # 'good' is now corrupt
        tar.add(junk, arcname="good.flac")
        for name, data in others.items():
            (tmp_path / name).write_bytes(data)
            tar.add(tmp_path / name, arcname=name)
    validate_shard(cfg, "vggsound", SHARD)
    rows = read_valid(valid)
    assert rows["good"]["status"] == "invalid" and "undecodable" in rows["good"]["reason"]
    assert rows["noend"]["status"] == "ok"
    with tarfile.open(tar_path, "w") as tar:  # every ok clip but 'good' is now missing
        tar.add(junk, arcname="good.flac")
    with pytest.raises(DataError, match="no member quiet.flac"):
        validate_shard(cfg, "vggsound", SHARD)
    tar_path.unlink()
    with pytest.raises(DataError, match="tar not found"):
        validate_shard(cfg, "vggsound", SHARD)
    with pytest.raises(DataError, match="no member good.flac|not found"):
        read_tar_member_audio(tar_path, "good", cfg.audio.sample_rate)


def test_rms_dbfs() -> None:
    assert rms_dbfs(np.zeros((100, 1), np.float32)) == float("-inf")
    assert abs(rms_dbfs(np.ones((100, 1), np.float32)) - 0.0) < 1e-9
    assert abs(rms_dbfs(np.full((100, 1), 0.1, np.float32)) + 20.0) < 1e-4
