"""The paper-scale rehearsal (config/rehearsal.yaml): real formats, local copies, the whole DAG at size B.

The fast tests check what stands on its own: the committed source csvs parse with the
manifest parsers (the Kinetics-Sounds filter cuts), the generated media are named, laid out
and decodable as the real datasets' files, and the config keeps every per-clip number of the
paper's. ``test_rehearsal_all`` runs ``snakemake --configfile config/rehearsal.yaml --cores 2
all``: every rule of the paper's DAG at size B.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import time
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
BUDGET_S = 15 * 60


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


def _rules(stdout: str) -> set[str]:
    """The rules of the first "Job stats" table (the DAG as known before any checkpoint ran)."""
    table = stdout.split("Job stats:", 1)[1]
    return set(re.findall(r"^(\w+)\s+\d+$", table, re.M)) - {"total"}


def _jobs_run(log: str) -> dict[str, int]:
    """How many jobs of each rule a run executed, from its "rule X:" / "localcheckpoint X:" headers."""
    counts: dict[str, int] = {}
    for name in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", log, re.M):
        counts[name] = counts.get(name, 0) + 1
    return counts


def _all_rules(workdir: Path, configfile: Path) -> set[str]:
    listing = run_snakemake(workdir, configfile, "--list-rules").stdout
    return set(re.findall(r"^(\w+)", listing, re.M))


@pytest.mark.slow
def test_rehearsal_all(tmp_path):
    """The whole paper DAG at size B, 128 x 1024, on the rehearsal's local copies, in 15 minutes."""
    shutil.copytree(REPO / "config" / "rehearsal", tmp_path / "config" / "rehearsal")
    cfg = tmp_path / "config" / "rehearsal.yaml"
    shutil.copy(REHEARSAL, cfg)
    (tmp_path / "paper-dry").mkdir()
    paper = run_snakemake(tmp_path / "paper-dry", PAPER, "-n", "--cores", "1", "all")
    t0 = time.perf_counter()
    try:
        proc = run_snakemake(tmp_path, cfg, "--cores", "2", "all", timeout=BUDGET_S + 600)
        elapsed = time.perf_counter() - t0
        _check_rehearsal(tmp_path, cfg, proc, paper, elapsed)
    finally:  # 11 size-B runs leave ~15 GB of checkpoints; pytest keeps its last 3 temp dirs
        for ckpt in (tmp_path / "results/runs").glob("*/*/seed*/*"):
            if ckpt.suffix in (".pt", ".ckpt"):
                ckpt.unlink()


def _check_rehearsal(tmp_path: Path, cfg: Path, proc: subprocess.CompletedProcess, paper: subprocess.CompletedProcess,
                     elapsed: float) -> None:
    ran = _jobs_run(proc.stdout + proc.stderr)
    # every rule of the workflow ran except the embedded demo's generator and the archive reader
    # (the rehearsal's local copies are loose files; tests/test_datasets_real.py runs `archive`);
    # the paper's own DAG (as far as a dry run sees it, up to the manifest checkpoint) is a part of it
    assert set(ran) == _all_rules(tmp_path, cfg) - {"demo_corpus", "archive"}, ran
    assert _rules(paper.stdout) <= set(ran), _rules(paper.stdout) - set(ran)
    assert ran["train"] == ran["evaluate"] == 11 and ran["rehearsal_corpus"] == 3, ran
    assert elapsed < BUDGET_S, f"rehearsal took {elapsed:.0f} s (budget {BUDGET_S} s)"
    for name in ("table1", "table2", "table3", "table4", "claims"):
        md = (tmp_path / f"results/tables/{name}.md").read_text()
        assert "REHEARSAL" in md and "DEMO" not in md, name
    reh = rehearsal_raw()
    variants = {"kinetics_sounds": ["ast", "dat_fixed", "dat_deform", "dat_deform_gauss", "dat_deform_laplace",
                                    "datar_l0.2", "datar"], "vggsound": ["ast", "datar"], "epic100": ["ast", "datar"]}
    import torch

    from datar.checkpoint import load_checkpoint
    from datar.features.shards import read_shard

    for dataset, names in variants.items():
        shard = read_shard(tmp_path / f"data/{dataset}/fbank/train-00000.safetensors")
        assert tuple(shard.fbank.shape[1:]) == (1024, 128)
        for v in names:
            run = tmp_path / f"results/runs/{dataset}/{v}/seed0"
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["n_clips"] == 3
            payload = load_checkpoint(run / "checkpoint.pt")
            assert payload["size"] == "B" and payload["target_length"] == 1024 and payload["num_mel_bins"] == 128
            assert payload["global_step"] == reh["train"]["max_steps"]
            assert isinstance(payload["model"], dict) and all(isinstance(t, torch.Tensor) for t in payload["model"].values())
    status = "".join(p.read_text() for p in (tmp_path / "data/vggsound/clips").glob("*.status.csv"))
    assert re.search(r"4kL7jH9gF2d_000090,unavailable,[^\n]*local", status), status
    shards = json.loads((tmp_path / "data/kinetics_sounds/shards.json").read_text())
    assert shards["n_filtered"] == 5
    for name in ("fig1_adaptor.png", "deform_points.png", "curves_kinetics_sounds.png"):
        assert (tmp_path / "results/figures" / name).stat().st_size > 1000
