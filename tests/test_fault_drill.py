"""Fault drill (issue 7): SIGKILL the whole Snakemake process group mid-download, mid-fbank and
mid-training; the reruns complete and the final table equals an uninterrupted run's.

Dir A: ``results/tables/table1.md`` on the tiny demo config (Kinetics-Sounds slot only; two
runs, AST and DATAR, seed 0; 6 epochs so that a training job can be caught after its first
``last.ckpt``), uninterrupted. Dir B: the same target; Snakemake (started in a new session)
is killed with ``SIGKILL`` to its process group while (1) a download shard has finished
clips in its work dir, (2) an fbank job is running, (3) a training job has written
``last.ckpt``; after each kill ``snakemake --unlock`` then a rerun resumes. Checks: the table
csv equals dir A's, every run's metrics and every feature shard are identical, every
manifest row has a status, the download work dir is gone, and the reruns together executed
no more jobs than a fresh run plus the killed ones. Figures are printed (``pytest -s``) and
recorded in docs/hardening.md.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest


from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_demo_config, write_config

DS = "kinetics_sounds"
TARGET = "results/tables/table1.md"
EPOCHS = 6


def drill_config(path: Path) -> Path:
    cfg = tiny_demo_config()
    cfg["datasets"] = {DS: cfg["datasets"][DS]}
    cfg["tables"] = {"table1": cfg["tables"]["table1"]}
    cfg["train"]["epochs"] = {DS: EPOCHS}
    path.mkdir(parents=True, exist_ok=True)
    return write_config(path / "tiny.yaml", cfg)


def finished_jobs(text: str) -> list[str]:
    """Rule names of the jobs one Snakemake invocation finished (from its log)."""
    return re.findall(r"Finished jobid: \d+ \(Rule: ([A-Za-z_]+)\)", text)


def start(work: Path, cfg: Path) -> tuple[subprocess.Popen, Path]:
    log = work / f"snakemake-{time.monotonic_ns()}.log"
    fh = open(log, "w")
    proc = subprocess.Popen(
        [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(cfg),
         "--cores", "2", "--rerun-incomplete", TARGET],
        cwd=work, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
    )
    fh.close()
    return proc, log


def kill_when(work: Path, cfg: Path, ready, what: str, timeout: float = 240) -> dict:
    """Start Snakemake, SIGKILL its process group once ``ready()`` is true, unlock."""
    t0 = time.monotonic()
    proc, log = start(work, cfg)
    try:
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"snakemake ended before the {what} kill point:\n{log.read_text()[-3000:]}")
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"{what} kill point not reached in {timeout} s")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = time.monotonic() - t0
    # Children that left the group (none expected) would keep the lock alive; wait a moment.
    time.sleep(0.5)
    unlock = run_snakemake(work, cfg, "--unlock", check=False)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    return {"what": what, "killed_after_s": round(killed_at, 1), "finished": finished_jobs(log.read_text())}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fbank_checksums(path: Path) -> tuple[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    return meta["sha256_fbank"], meta["sha256_rest"]


def snapshot(work: Path) -> dict:
    data = work / "data" / DS
    runs = work / "results" / "runs" / DS
    with open(work / "results/tables/table1.csv", encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    return {
        "table": table,
        # Content checksums recorded in each shard (the file bytes are not compared: safetensors
        # writes the metadata keys in a per-process order, so equal shards differ byte-wise).
        "fbank": {p.name: fbank_checksums(p) for p in sorted((data / "fbank").glob("*.safetensors"))},
        "metrics": {p.parent.parent.name: json.loads(p.read_text())["metrics"] for p in sorted(runs.glob("*/seed0/metrics.json"))},
        "predictions": {p.parent.parent.name: sha256(p) for p in sorted(runs.glob("*/seed0/predictions.csv"))},
        # Reasons quote absolute paths (of the demo's file URLs): compare with the work dir masked.
        "status": {p.name: p.read_text(encoding="utf-8").replace(str(work), "<WORK>")
                   for p in sorted((data / "clips").glob("*.status.csv"))},
    }


REPRODUCED = ("row", "n", "seeds", "top1_mean", "top1_std", "top1_n", "top5_mean", "top5_std", "top5_n")


@pytest.mark.slow
def test_kill9_at_three_points_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    figures: dict = {}

    # ---- A: uninterrupted
    a = tmp_path / "A"
    cfg_a = drill_config(a)
    t0 = time.monotonic()
    fresh = run_snakemake(a, cfg_a, "--cores", "2", TARGET, timeout=900)
    figures["fresh_s"] = round(time.monotonic() - t0, 1)
    fresh_jobs = finished_jobs(fresh.stdout + fresh.stderr)
    figures["fresh_jobs"] = len(fresh_jobs)

    # ---- B: the same, killed three times
    b = tmp_path / "B"
    cfg_b = drill_config(b)
    clips, fbank_logs = b / "data" / DS / "clips", b / "results" / "logs" / "fbank" / DS
    runs = b / "results" / "runs" / DS
    t0 = time.monotonic()
    kills = [
        kill_when(b, cfg_b, lambda: any((clips / ".work").glob("*/*.flac")) if (clips / ".work").is_dir() else False,
                  "download"),
        kill_when(b, cfg_b, lambda: fbank_logs.is_dir() and any(
            not (b / "data" / DS / "fbank" / f"{p.stem}.safetensors").exists() for p in fbank_logs.glob("*.log")),
            "fbank"),
        # After a completed save: last.ckpt and its sidecar both present (save_checkpoint writes
        # the sidecar first, so the sidecar alone can be seen before the first last.ckpt lands).
        # A kill inside save_checkpoint itself is covered by
        # test_kill_inside_save_checkpoint_leaves_a_resumable_last_ckpt below.
        kill_when(b, cfg_b, lambda: any(p.with_name("last.ckpt").is_file() for p in runs.glob("*/seed0/last.ckpt.sha256"))
                  and not any(runs.glob("*/seed0/checkpoint.pt")), "train"),
    ]
    # What the kills left behind, before the final rerun.
    left = {
        "work_dir_clips": len(list((clips / ".work").glob("*/*.flac"))) if (clips / ".work").is_dir() else 0,
        "last_ckpt": sorted(p.parent.parent.name for p in runs.glob("*/seed0/last.ckpt")),
        "tmp_files": sorted(str(p.relative_to(b)) for p in b.rglob(".*.tmp")),
    }
    proc, log = start(b, cfg_b)
    assert proc.wait(timeout=900) == 0, log.read_text()[-4000:]
    rerun_jobs = finished_jobs(log.read_text())
    figures["drill_s"] = round(time.monotonic() - t0, 1)
    figures["kills"] = kills
    figures["left_by_kills"] = left
    figures["final_rerun_jobs"] = len(rerun_jobs)
    figures["jobs_all_invocations"] = sum(len(k["finished"]) for k in kills) + len(rerun_jobs)
    train_log = (b / "results/logs/train" / DS).glob("*/seed0.log")
    figures["resumed_runs"] = sorted(p.parent.name for p in train_log if "resum" in p.read_text().lower())
    print("\nFAULT DRILL", json.dumps(figures, indent=1))

    # ---- checks
    snap_a, snap_b = snapshot(a), snapshot(b)
    assert [{k: r[k] for k in REPRODUCED} for r in snap_b["table"]] == [{k: r[k] for k in REPRODUCED} for r in snap_a["table"]]
    assert snap_b["table"] == snap_a["table"]
    assert snap_b["metrics"] == snap_a["metrics"] and len(snap_b["metrics"]) == 2
    assert snap_b["predictions"] == snap_a["predictions"]
    assert snap_b["fbank"] == snap_a["fbank"] and snap_b["status"] == snap_a["status"]
    # Nothing lost: every manifest row has exactly one status row.
    with open(b / "data" / DS / "manifest.csv", encoding="utf-8", newline="") as fh:
        manifest_ids = sorted(r["clip_id"] for r in csv.DictReader(fh))
    status_ids = []
    for p in sorted(clips.glob("*.status.csv")):
        with open(p, encoding="utf-8", newline="") as fh:
            status_ids += [r["clip_id"] for r in csv.DictReader(fh)]
    assert sorted(status_ids) == manifest_ids
    # The download work dir is gone once every shard finished.
    assert not (clips / ".work").exists() or not any((clips / ".work").rglob("*"))
    # Only what was missing was redone: no job finished twice across all of B's invocations,
    # except jobs that were running when killed (their outputs never appeared).
    assert figures["jobs_all_invocations"] == figures["fresh_jobs"], figures
    assert left["last_ckpt"], "the train kill did not leave a last.ckpt to resume from"


# Regression test for the bug the drill hit (fixed in 43a8e9d): a SIGKILL inside save_checkpoint
# left last.ckpt without its sidecar and every rerun of the train rule failed.
def test_kill_inside_save_checkpoint_leaves_a_resumable_last_ckpt(tmp_path: Path, monkeypatch) -> None:
    """A kill at any point of saving last.ckpt leaves a checkpoint that resume can load."""
    import datar.checkpoint as ck

    path = tmp_path / "last.ckpt"
    ck.save_checkpoint(path, {"model": {"w": __import__("torch").zeros(3)}, "epoch": 1})

    class Killed(BaseException):
        pass

    def killed(*_a, **_k):
        raise Killed  # SIGKILL while the new checkpoint's bytes are being written

    monkeypatch.setattr(ck, "atomic_write", killed)
    with pytest.raises(Killed):
        ck.save_checkpoint(path, {"model": {"w": __import__("torch").ones(3)}, "epoch": 2})
    monkeypatch.undo()
    ck.verify_checkpoint(path)  # the previous generation must still verify
