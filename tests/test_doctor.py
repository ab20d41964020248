"""``python -m datar doctor`` (issue 22): each blocker gives its line and exit status 1.

Real tools throughout: the real ffmpeg hidden by PATH, a source list whose bytes do not match
its pinned sha256, a SLURM client pointed at a controller that is not there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import one_dataset_config, write_config
from datar.cli import doctor


def _config(tmp_path: Path, **source) -> Path:
    raw = one_dataset_config(["datar"])
    csv = tmp_path / "source.csv"
    csv.write_text("clip_id,source,start,end,label,split\n")
    raw["datasets"]["kinetics_sounds"]["sources"] = [{"path": str(csv), **source}]
    raw["datasets"]["kinetics_sounds"].pop("demo_corpus")
    raw["data_dir"], raw["results_dir"] = str(tmp_path / "data"), str(tmp_path / "results")
    return write_config(tmp_path / "cfg.yaml", raw)


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"| {name} |"))


def test_a_ready_machine_without_gpu_says_cpu_and_its_hours(tmp_path, capsys):
    assert doctor.main(["--config", str(_config(tmp_path)), "--offline"]) == 0
    out = capsys.readouterr().out
    gpu = _line(out, "gpus")
    assert "WARNING" in gpu and "no GPU: training would run on the CPU" in gpu and " hours on these " in gpu
    assert "| ffmpeg | ok |" in out and out.rstrip().endswith("0 blocker(s)")


def test_missing_ffmpeg_is_a_blocker(tmp_path, capsys, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("nvidia-smi", "sinfo", "sacct"):  # whatever else the machine has, but no ffmpeg
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bindir / tool)
    monkeypatch.setenv("PATH", str(bindir))
    assert doctor.main(["--config", str(_config(tmp_path)), "--offline"]) == 1
    out = capsys.readouterr().out
    assert _line(out, "ffmpeg") == "| ffmpeg | BLOCKER | not on PATH | apt-get install ffmpeg (or conda install -c conda-forge ffmpeg) |"
    assert "| ffprobe | BLOCKER | not on PATH |" in out


def test_a_source_of_another_hash_is_a_blocker(tmp_path, capsys):
    from datar.io import sha256_bytes

    wrong = "0" * 64
    assert doctor.main(["--config", str(_config(tmp_path, sha256=wrong)), "--offline"]) == 1
    have = sha256_bytes(b"clip_id,source,start,end,label,split\n")
    line = _line(capsys.readouterr().out, "datasets.kinetics_sounds.sources[0]")
    assert line == (f"| datasets.kinetics_sounds.sources[0] | BLOCKER | {tmp_path / 'source.csv'} has sha256 {have}, "
                    f"the config pins {wrong} | use the pinned file or change datasets.kinetics_sounds.sources[0]."
                    "sha256 |")


@pytest.mark.skipif(shutil.which("sinfo") is None and not os.environ.get("DATAR_REQUIRE_SLURM"),
                    reason="no SLURM client here (CI installs one)")
def test_an_unreachable_slurm_is_a_blocker(tmp_path, capsys, monkeypatch):
    conf = tmp_path / "slurm.conf"  # a controller on a port where nothing listens
    conf.write_text("ClusterName=nowhere\nSlurmctldHost=nowhere(127.0.0.1)\nSlurmctldPort=9\n"
                    "NodeName=nowhere CPUs=1 State=UNKNOWN\nPartitionName=gpu Nodes=nowhere\n")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    profile = Path(__file__).resolve().parents[1] / "slurm"
    assert doctor.main(["--config", str(_config(tmp_path)), "--offline", "--profile", str(profile)]) == 1
    line = _line(capsys.readouterr().out, "sinfo")
    assert line.startswith("| sinfo | BLOCKER | SLURM does not answer: ") and "submit host" in line


def test_the_build_for_a_driver_and_setup_sh_agree(tmp_path):
    import subprocess

    from datar.doctor import TORCH_BUILDS, build_for_driver

    assert build_for_driver("580.65.06") == "default" and build_for_driver("575.51.03") == "cu128"
    assert build_for_driver("535.104.05") == "cu126" and build_for_driver("470.42.01") == "cpu"
    assert build_for_driver(None) == "cpu"
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "scripts" / "setup.sh").read_text()
    assert f'BUILDS="{" ".join(TORCH_BUILDS)}"' in text
    for build in ("cu126", "cu128", "cu130", "cpu"):  # the command it would run, without network
        out = subprocess.run(["bash", "scripts/setup.sh", "--torch", build, "--dry-run"], cwd=repo,
                             capture_output=True, text=True, check=True).stdout
        assert f"torch==2.11.0 torchaudio==2.11.0 --index-url https://download.pytorch.org/whl/{build}" in out
    out = subprocess.run(["bash", "scripts/setup.sh", "--dry-run"], cwd=repo, capture_output=True, text=True,
                         check=True).stdout
    assert "--index-url" not in out and "pip install --quiet -e .[test]" in out
    bad = subprocess.run(["bash", "scripts/setup.sh", "--torch", "cu117", "--dry-run"], cwd=repo,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown build; choose one of: default cu130 cu128 cu126 cpu" in bad.stderr
