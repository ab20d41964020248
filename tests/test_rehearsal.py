"""The paper-scale rehearsal (config/rehearsal.yaml): real formats, local copies, the whole DAG at size B.

The fast tests check what stands on its own: the committed source csvs parse with the
manifest parsers (the Kinetics-Sounds filter cuts), the generated media are named, laid out
and decodable as the real datasets' files, and the config keeps every per-clip number of the
paper's. The rehearsal itself (``snakemake --configfile config/rehearsal.yaml --cores 2 all``:
every rule of the paper's DAG at size B) is the whole-DAG run of ``tests/test_e2e.py``.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_snakemake
from datar.cli.manifest import main as manifest_main
from datar.config import load_config
from datar.data.ffmpeg_audio import probe_audio
from datar.data.rehearsal import source_manifest, write_rehearsal_corpus

REHEARSAL = REPO / "config" / "rehearsal.yaml"
PAPER = REPO / "config" / "config.yaml"


def rehearsal_raw() -> dict:
    return yaml.safe_load(REHEARSAL.read_text())


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    """A scratch directory laid out like a clone (config/rehearsal/ copied), as the cwd."""
    shutil.copytree(REPO / "config" / "rehearsal", tmp_path / "config" / "rehearsal")
    shutil.copy(REHEARSAL, tmp_path / "config" / "rehearsal.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_config_keeps_every_per_clip_number_of_the_paper():
    paper, reh = yaml.safe_load(PAPER.read_text()), rehearsal_raw()
    for section in ("audio", "fbank", "manifest", "validate", "model", "tables", "figures"):
        assert reh[section] == paper[section], section
    differ = {k for k in paper["train"] if reh["train"].get(k) != paper["train"][k]}
    assert differ == {"batch_size", "max_steps"} and reh["train"]["batch_size"] < paper["train"]["batch_size"]
    assert paper["train"]["max_steps"] is None
    assert 1 <= reh["train"]["max_steps"] <= 5 and len(reh["seeds"]) == 1
    assert reh["kind"] == "rehearsal" and reh["demo"] is False
    for name, ds in paper["datasets"].items():
        r = reh["datasets"][name]
        assert (r["format"], r.get("classes"), r.get("heads")) == (ds["format"], ds.get("classes"), ds.get("heads")), name
        assert all(s["path"].startswith("config/rehearsal/") for s in r["sources"])
        if name != "epic100":
            assert r["local_source"]["fallback"] == "none" and r["local_source"]["contains"] == "clip"


def test_source_csvs_parse_with_the_real_parsers(workdir, capsys):
    for dataset in ("kinetics_sounds", "vggsound", "epic100"):
        assert manifest_main(["--config", "config/rehearsal.yaml", "--dataset", dataset]) == 0
    out = capsys.readouterr().out
    assert "kinetics_sounds: 9 rows" in out and "filtered 5 rows of other classes" in out
    classes = set(rehearsal_raw()["datasets"]["kinetics_sounds"]["classes"])
    kinetics = [r for p in sorted((workdir / "config/rehearsal").glob("kinetics400_*.csv"))
                for r in csv.DictReader(p.read_text().splitlines())]
    assert len(kinetics) == 14 and sum(r["label"] not in classes for r in kinetics) == 5
    for dataset in ("kinetics_sounds", "vggsound", "epic100"):
        shards = json.loads((workdir / "data" / dataset / "shards.json").read_text())
        assert shards["n_skipped"] == 0
        heads = json.loads((workdir / "data" / dataset / "classes.json").read_text())["heads"]
        recs = list(csv.DictReader((workdir / "data" / dataset / "manifest.csv").read_text().splitlines()))
        for head in heads:
            train = {r[head] for r in recs if r["split"] == "train"}
            test = {r[head] for r in recs if r["split"] == "test"}
            assert test and test <= train, (dataset, head, test - train)
        if dataset == "kinetics_sounds":
            assert len(heads["label"]) == 32 and all(r["label"] in classes for r in recs)
        if dataset == "vggsound":
            assert "bee, wasp, etc. buzzing" in heads["label"]  # the quoted label with commas, whole
            assert {r["split"] for r in recs} == {"train", "test"}
        if dataset == "epic100":
            assert (len(heads["verb"]), len(heads["noun"])) == (97, 300)
            seg = next(r for r in recs if r["clip_id"] == "P02_02_2")
            assert (float(seg["start"]), float(seg["end"])) == (58.5, 63.25)  # 00:00:58.50 -> 00:01:03.25
            assert seg["source"].endswith("/data/rehearsal/epic100/P02/videos/P02_02.MP4")


def _streams(path: Path) -> dict[str, dict]:
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                          capture_output=True, text=True, check=True)
    meta = json.loads(proc.stdout)
    return {s["codec_type"]: s for s in meta["streams"]} | {"format": meta["format"]}


def _clip_templates() -> dict[str, str]:
    return {n: ds["local_source"]["template"] for n, ds in rehearsal_raw()["datasets"].items() if "local_source" in ds}


def test_generated_media_are_named_and_decode_like_the_real_files(workdir):
    cfg = load_config("config/rehearsal.yaml")
    templates = _clip_templates()
    listings = {}
    for dataset in ("kinetics_sounds", "vggsound", "epic100"):
        out = write_rehearsal_corpus(cfg, dataset, clip_template=templates.get(dataset), workers=2)
        listings[dataset] = json.loads(out.read_text())
    names = {
        "vggsound": re.compile(r"data/rehearsal/vggsound/clips/[A-Za-z0-9_-]{11}_\d{6}\.mp4$"),
        "kinetics_sounds": re.compile(r"data/rehearsal/kinetics_sounds/clips/[A-Za-z0-9_-]{11}_\d{6}_\d{6}\.mp4$"),
        "epic100": re.compile(r"data/rehearsal/epic100/P\d\d/videos/P\d\d_\d\d\.MP4$"),
    }
    for dataset, listing in listings.items():
        manifest = source_manifest(cfg, dataset)
        for f in listing["files"]:
            assert names[dataset].search(f["path"]), f["path"]
            s = _streams(Path(f["path"]))
            assert "mp4" in s["format"]["format_name"]
            assert s["audio"]["codec_name"] == "aac" and s["audio"]["channels"] == 2
            assert s["video"]["codec_name"] == "h264"
            assert float(s["audio"]["duration"]) == pytest.approx(f["seconds"], abs=0.05)
        held = {c for f in listing["files"] for c in f["clip_ids"]}
        expected = {e.clip_id for e in manifest.entries} - set(listing["missing"])
        assert held == expected
        if dataset != "epic100":
            for e in manifest.entries:
                if e.clip_id in held:
                    f = next(f for f in listing["files"] if e.clip_id in f["clip_ids"])
                    assert f["seconds"] == e.end - e.start == 10.0
                    start = f"_{int(e.start):06d}"
                    assert start in Path(f["path"]).name
    vgg = listings["vggsound"]
    assert vgg["missing"] == ["4kL7jH9gF2d_000090"]
    assert not list((workdir / "data/rehearsal/vggsound/clips").glob("4kL7jH9gF2d_*"))
    # EPIC: long videos holding their segments; one is cut in place by input seeking
    videos = {Path(f["path"]).stem: f for f in listings["epic100"]["files"]}
    assert set(videos) == {"P01_01", "P02_02", "P01_11"} and videos["P02_02"]["seconds"] >= 63.25
    assert len(videos["P01_01"]["clip_ids"]) == 4
    cut = workdir / "cut.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "58.5", "-to", "63.25", "-i", videos["P02_02"]["path"],
                    "-vn", "-ac", "1", "-ar", "16000", str(cut)], check=True)
    assert probe_audio(cut).duration == pytest.approx(4.75, abs=0.03)


def test_generation_is_deterministic(tmp_path, monkeypatch):
    digests = []
    for k in (0, 1):
        d = tmp_path / f"copy{k}"
        shutil.copytree(REPO / "config" / "rehearsal", d / "config" / "rehearsal")
        monkeypatch.chdir(d)
        cfg = load_config(REHEARSAL)
        listing = json.loads(write_rehearsal_corpus(cfg, "epic100", workers=1).read_text())
        digests.append([(Path(f["path"]).relative_to(d), f["sha256"]) for f in listing["files"]])
    assert digests[0] == digests[1]


def test_the_workflow_makes_the_media_before_downloading(workdir):
    """EPIC's rule chain today: rehearsal_corpus -> manifest -> download through video_source."""
    proc = run_snakemake(workdir, workdir / "config/rehearsal.yaml", "--cores", "2", "data/epic100/clips/test-00000.tar")
    jobs = proc.stdout.split("Job stats:", 1)[1] if "Job stats:" in proc.stdout else proc.stderr.split("Job stats:", 1)[1]
    assert re.search(r"^rehearsal_corpus\s+1$", jobs, re.M) and re.search(r"^download\s+1$", jobs, re.M), jobs
    assert (workdir / "data/rehearsal/epic100/files.json").is_file()
    status = (workdir / "data/epic100/clips/test-00000.status.csv").read_text().splitlines()[1:]
    assert [line.split(",")[:2] for line in status] == [[f"P01_11_{k}", "ok"] for k in range(3)]


