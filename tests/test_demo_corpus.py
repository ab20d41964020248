"""The embedded demo corpus: determinism, real ffmpeg decodes, broken entries as declared."""

from __future__ import annotations

import csv
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
import yaml

from datar.cli.demo_corpus import main as demo_main
from datar.config import Config, config_from_mapping, load_config
from datar.data.demo import CONTAINERS, FILE_RATES, PATTERNS, SOURCES, DemoClip, plan_corpus
from datar.data.manifest import make_manifest
from datar.errors import ConfigError
from datar.io import sha256_file

REPO = Path(__file__).resolve().parent.parent
CODECS = {"wav": "pcm_s16le", "flac": "flac", "ogg": "vorbis", "mp4": "aac"}


def make_cfg(tmp_path: Path, corpus: dict[str, Any], heads: list[str] | None = None) -> Config:
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    entry = raw["datasets"]["vggsound"]
    entry["demo_corpus"] = corpus
    entry["sources"] = [{"path": str(tmp_path / "data" / "demo" / "vggsound" / "source.csv")}]
    if heads:
        entry["heads"] = heads
    return config_from_mapping(raw, origin="test")


def write_yaml(cfg: Config, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(cfg.raw)), encoding="utf-8")
    return path


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
                         capture_output=True, check=False)
    return json.loads(out.stdout or b"{}") if out.returncode == 0 else {}


def decode(path: Path) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "pipe:1"],
                         capture_output=True, check=True)
    return np.frombuffer(out.stdout, dtype="<f4")


def local(url: str) -> Path:
    parts = urlsplit(url)
    assert parts.scheme == "file"
    return Path(unquote(parts.path))


SMALL = {"seed": 5, "classes": {"label": 3}, "train_clips": 4, "test_clips": 2}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[dict[str, str]], list[DemoClip]]:
    tmp = tmp_path_factory.mktemp("demo")
    cfg = make_cfg(tmp, SMALL)
    assert demo_main(["--config", str(write_yaml(cfg, tmp / "c.yaml")), "--dataset", "vggsound"]) == 0
    rows = rows_of(Path(cfg.data_dir) / "demo" / "vggsound" / "source.csv")
    ds = cfg.dataset("vggsound")
    assert ds.demo_corpus is not None
    return cfg, rows, plan_corpus(ds.demo_corpus, ds.heads, dataset="vggsound")


def test_source_csv_lists_every_planned_clip(corpus: tuple[Config, list[dict[str, str]], list[DemoClip]]) -> None:
    cfg, rows, plan = corpus
    assert [r["clip_id"] for r in rows] == [c.clip_id for c in plan]
    assert len(rows) == 4 + 2 + 4
    assert Counter(r["split"] for r in rows) == {"train": 4 + 2, "test": 2 + 2}
    assert {r["label"] for r in rows} <= {s.name for s in SOURCES[:3]}
    for r in rows:
        assert float(r["end"]) - float(r["start"]) == pytest.approx(cfg.audio.clip_seconds)


def test_ok_files_decode_in_their_declared_format(corpus: tuple[Config, list[dict[str, str]], list[DemoClip]]) -> None:
    cfg, rows, plan = corpus
    for row, clip in zip(rows, plan):
        if clip.kind != "ok":
            continue
        path = local(row["source"])
        assert path.suffix == f".{clip.container}"
        info = probe(path)
        (stream,) = info["streams"]
        assert stream["codec_name"] == CODECS[clip.container]
        assert int(stream["sample_rate"]) == clip.sample_rate and stream["channels"] == clip.channels
        assert float(info["format"]["duration"]) >= float(row["end"]) - 0.05
        assert "tags" not in info["format"] or not set(info["format"]["tags"]) & {"encoder", "creation_time"}
        x = decode(path)
        assert 20 * np.log10(np.sqrt(np.mean(x**2))) > -50


def test_broken_entries_are_as_declared(corpus: tuple[Config, list[dict[str, str]], list[DemoClip]]) -> None:
    cfg, rows, plan = corpus
    kinds = {c.kind: (r, c) for r, c in zip(rows, plan)}
    assert set(kinds) == {"ok", "dead", "corrupt", "silent", "short"}
    assert not local(kinds["dead"][0]["source"]).exists()
    corrupt = local(kinds["corrupt"][0]["source"])
    assert corrupt.stat().st_size > 1000 and probe(corrupt).get("streams") in (None, [])
    silent = decode(local(kinds["silent"][0]["source"]))
    assert len(silent) > 0 and float(np.abs(silent).max()) == 0.0
    short = probe(local(kinds["short"][0]["source"]))
    assert float(short["format"]["duration"]) < 0.25 * cfg.audio.clip_seconds
    assert float(kinds["short"][0]["end"]) == pytest.approx(cfg.audio.clip_seconds)


def test_rerun_is_byte_identical(corpus: tuple[Config, list[dict[str, str]], list[DemoClip]], tmp_path: Path) -> None:
    cfg, rows, plan = corpus
    cfg2 = make_cfg(tmp_path, SMALL)
    demo_main(["--config", str(write_yaml(cfg2, tmp_path / "c.yaml")), "--dataset", "vggsound", "--workers", "1"])
    rows2 = rows_of(Path(cfg2.data_dir) / "demo" / "vggsound" / "source.csv")
    strip = lambda rs: [{**r, "source": local(r["source"]).name} for r in rs]  # noqa: E731
    assert strip(rows2) == strip(rows)
    checked = set()
    for r1, r2, clip in zip(rows, rows2, plan):
        if clip.kind in ("ok", "corrupt") and clip.container not in checked:
            checked.add(clip.container)
            assert sha256_file(local(r1["source"])) == sha256_file(local(r2["source"])), clip
    assert len(checked) >= 2


def test_demo_source_csv_passes_the_manifest(corpus: tuple[Config, list[dict[str, str]], list[DemoClip]]) -> None:
    cfg, rows, _ = corpus
    m = make_manifest(cfg, "vggsound")
    assert m.info["n_rows"] == len(rows) and m.info["n_skipped"] == 0


def test_two_heads_are_patterns_and_sources(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, {"seed": 1, "classes": {"verb": 3, "noun": 2}, "train_clips": 12, "test_clips": 6,
                              "broken": {"dead": 0, "corrupt": 0, "silent": 0, "short": 0}}, heads=["verb", "noun"])
    ds = cfg.dataset("vggsound")
    assert ds.demo_corpus is not None
    plan = plan_corpus(ds.demo_corpus, ds.heads, dataset="vggsound")
    pairs = Counter(c.labels for c in plan if c.split == "train")
    assert set(pairs) == {(p, s.name) for p in PATTERNS[:3] for s in SOURCES[:2]}
    assert all(n == 2 for n in pairs.values())
    assert all(c.pattern == c.labels[0] and c.source == c.labels[1] for c in plan)


def test_plans_of_the_shipped_demo_config_are_mixed() -> None:
    cfg = load_config(REPO / "config" / "demo.yaml")
    for name, ds in cfg.datasets.items():
        assert ds.demo_corpus is not None
        plan = plan_corpus(ds.demo_corpus, ds.heads, dataset=name)
        ok = [c for c in plan if c.kind == "ok"]
        assert len(ok) == ds.demo_corpus.train_clips + ds.demo_corpus.test_clips
        assert {c.container for c in ok} == set(CONTAINERS)
        assert {c.channels for c in ok} == {1, 2}
        assert {c.sample_rate for c in ok} <= set(FILE_RATES) and len({c.sample_rate for c in ok}) >= 5
        for i, head in enumerate(ds.heads):
            assert len({c.labels[i] for c in ok if c.split == "train"}) == ds.demo_corpus.classes[head]
        assert plan == plan_corpus(ds.demo_corpus, ds.heads, dataset=name)


def test_too_many_classes_is_a_config_error(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, {**SMALL, "classes": {"label": len(SOURCES) + 1}})
    ds = cfg.dataset("vggsound")
    assert ds.demo_corpus is not None
    with pytest.raises(ConfigError, match=r"demo_corpus.classes.label: at most"):
        plan_corpus(ds.demo_corpus, ds.heads, dataset="vggsound")


def test_a_smaller_rerun_removes_stale_files(tmp_path: Path) -> None:
    none = {"dead": 0, "corrupt": 0, "silent": 0, "short": 0}
    cfg = make_cfg(tmp_path, {**SMALL, "train_clips": 3, "test_clips": 1, "broken": none})
    write_yaml(cfg, tmp_path / "c.yaml")
    assert demo_main(["--config", str(tmp_path / "c.yaml"), "--dataset", "vggsound"]) == 0
    audio = Path(cfg.data_dir) / "demo" / "vggsound" / "audio"
    (audio / "notes.txt").write_text("mine", encoding="utf-8")
    assert len(list(audio.iterdir())) == 5
    cfg = make_cfg(tmp_path, {**SMALL, "train_clips": 2, "test_clips": 1, "broken": none})
    write_yaml(cfg, tmp_path / "c.yaml")
    assert demo_main(["--config", str(tmp_path / "c.yaml"), "--dataset", "vggsound"]) == 0
    rows = rows_of(Path(cfg.data_dir) / "demo" / "vggsound" / "source.csv")
    assert sorted(p.name for p in audio.iterdir()) == sorted([*(local(r["source"]).name for r in rows), "notes.txt"])
