"""The SLURM profile against a real SLURM cluster: real sbatch submissions, real status checks.

CI starts a throwaway one-node cluster first (`.ci/slurm/up.sh`: slurmctld, slurmd, munge,
slurmdbd + MariaDB, one fake GPU). Where `sinfo` is missing or the node is not idle these
tests skip, unless DATAR_REQUIRE_SLURM=1 (CI), where they fail.

The profile used is slurm/config.yaml with tests/slurm_profile/config.yaml merged over it
(sizes and timings for a 2-CPU box), written to a temporary directory: GPU requests,
partitions, retries and the status command are the real profile's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, run_snakemake, tiny_demo_config, write_config

pytestmark = pytest.mark.slurm

RUN_ID = re.compile(r"SLURM run ID: (\S+)")
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")


# ----------------------------------------------------------------------------- the cluster


def _node_state() -> str:
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, timeout=6)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else ""


def _accounting_works() -> bool:
    """sacct answers from a database (slurmdbd); without one it says accounting is disabled."""
    if not shutil.which("sacct"):
        return False
    out = subprocess.run(["sacct", "-n", "-X", "-a", "-S", "now-1minutes"], capture_output=True, text=True, timeout=20)
    return out.returncode == 0 and "disabled" not in (out.stdout + out.stderr).lower()


@pytest.fixture(scope="module")
def cluster() -> dict:
    """Skip (or fail, with DATAR_REQUIRE_SLURM=1) unless a SLURM node is idle or mixed."""
    required = os.environ.get("DATAR_REQUIRE_SLURM") == "1"
    why = None
    if not shutil.which("sinfo") or not shutil.which("sbatch"):
        why = "SLURM client commands (sinfo, sbatch) are not installed"
    else:
        state = _node_state()
        if state not in ("idle", "mix", "mixed"):
            why = f"no idle SLURM node (sinfo says {state or 'nothing'}); start one with .ci/slurm/up.sh"
    if why:
        if required:
            pytest.fail(f"DATAR_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)
    return {"status_command": "sacct" if _accounting_works() else "squeue"}


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def ci_profile(tmp: Path, cluster: dict, gres_style: tuple[str, ...] = ()) -> Path:
    """slurm/config.yaml with tests/slurm_profile/config.yaml merged over it, in tmp/profile.
    Rules in ``gres_style`` get the profile's documented alternative: gres instead of gpu."""
    real = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())
    over = yaml.safe_load((REPO / "tests" / "slurm_profile" / "config.yaml").read_text())
    merged = _deep_merge(real, over)
    merged["slurm-status-command"] = cluster["status_command"]
    for rule in gres_style:
        res = merged["set-resources"][rule]
        n = res.pop("gpu")
        res.pop("gpu_model", None)
        res["gres"] = f"gpu:{n}"
    prof = tmp / "profile"
    prof.mkdir()
    (prof / "config.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    return prof


def run_profile(workdir: Path, args: list[str], timeout: int) -> subprocess.CompletedProcess:
    """snakemake under `timeout -s KILL`: a SIGTERM sends Snakemake's SLURM executor into a
    graceful shutdown that can wait for ever; KILL cannot."""
    cmd = ["timeout", "-s", "KILL", str(timeout), *SNAKEMAKE, *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        f"snakemake via SLURM failed (rc {proc.returncode}{', killed by timeout' if proc.returncode == 137 else ''})"
        f":\n{log[-12000:]}\n{_slurm_logs(workdir)}"
    )
    return proc


def _slurm_logs(workdir: Path) -> str:
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    return "\n".join(f"----- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs[-6:])


def slurm_jobs(log: str, cluster: dict) -> dict[str, dict]:
    """The SLURM jobs a Snakemake run submitted: id -> {rule, partition, tres}, read back from
    sacct (accounting) or scontrol (finished jobs stay MinJobAge seconds)."""
    run_id = RUN_ID.search(log)
    assert run_id, "no 'SLURM run ID' in the Snakemake log"
    ids = SUBMITTED.findall(log)
    jobs: dict[str, dict] = {}
    if cluster["status_command"] == "sacct":
        out = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-a", "--name", run_id.group(1), "-S", "now-1days",
             "-o", "JobIDRaw,Comment,Partition,ReqTRES,State,SubmitLine"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        for line in out.splitlines():
            jobid, comment, partition, tres, state, submit = line.split("|", 5)
            jobs[jobid] = {"rule": comment, "partition": partition, "tres": tres, "state": state,
                           "request": submit}
    else:
        for jobid in ids:
            out = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
            fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
            jobs[jobid] = {"rule": fields.get("Comment", ""), "partition": fields.get("Partition", ""),
                           "tres": ",".join(fields.get(k, "") for k in ("TresPerJob", "TresPerNode", "TRES")),
                           "state": fields.get("JobState", ""),
                           # --gpus=N sets TresPerJob, --gres=gpu:N sets TresPerNode
                           "request": " ".join(f"{k}={fields[k]}" for k in ("TresPerJob", "TresPerNode")
                                               if k in fields)}
    assert set(ids) <= set(jobs), f"submitted {ids}, but SLURM knows {sorted(jobs)}"
    return {k: v for k, v in jobs.items() if k in ids}


def job_rules(jobs: dict[str, dict], workdir: Path) -> dict[str, str]:
    """SLURM job id -> rule name: from the job comment (rule_NAME[_wildcards_...]) or, where
    the cluster does not store comments, from the plugin's log path (rule_NAME/.../ID.log)."""
    logs = {p.stem: p for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    rules = {}
    for jobid, job in jobs.items():
        tag = job["rule"]
        if not tag and jobid in logs:
            tag = next((part for part in logs[jobid].relative_to(workdir).parts if part.startswith("rule_")), "")
        rules[jobid] = re.sub(r"^rule_|_wildcards_.*$", "", tag)
    return rules


def asks_for_a_gpu(job: dict) -> bool:
    return bool(re.search(r"gres/gpu=1|gres:gpu:1|gpu:1", job["tres"]))


# ----------------------------------------------------------------------------- a minimal workflow

TOY = textwrap.dedent(
    """
    localrules: fetch

    rule all:
        input: "out/evaluate.txt", "out/prepare.txt"

    rule fetch:                        # a network rule: stays on the submit host
        output: "out/fetch.txt"
        shell: "echo job=${{SLURM_JOB_ID:-none}} > {output}"

    rule prepare:                      # a CPU job that fails once: the profile's retries resubmit it
        output: "out/prepare.txt"
        shell:
            "if [ ! -e out/prepare.failed-once ]; then touch out/prepare.failed-once; exit 3; fi; "
            "echo job=$SLURM_JOB_ID cuda=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"

    rule train:                        # GPU jobs: set-resources in the profile
        input: "out/fetch.txt"
        output: "out/train.txt"
        shell: "echo job=$SLURM_JOB_ID cuda=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"

    rule evaluate:
        input: "out/train.txt"
        output: "out/evaluate.txt"
        shell: "echo job=$SLURM_JOB_ID cuda=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"
    """
)


def test_profile_submits_gpu_jobs_and_keeps_local_rules_local(cluster, tmp_path):
    work = tmp_path / "toy"
    work.mkdir()
    (work / "Snakefile").write_text(TOY)
    prof = ci_profile(tmp_path, cluster, gres_style=("evaluate",))  # train: --gpus=1, evaluate: --gres=gpu:1
    proc = run_profile(work, ["--profile", str(prof)], timeout=300)
    log = proc.stdout + proc.stderr

    out = {name: (work / "out" / f"{name}.txt").read_text().split() for name in ("fetch", "prepare", "train", "evaluate")}
    assert out["fetch"] == ["job=none"], "the local rule ran inside a SLURM job"
    for name in ("prepare", "train", "evaluate"):
        assert re.fullmatch(r"job=\d+", out[name][0]), f"{name} did not run in a SLURM job: {out[name]}"
    assert out["train"][1] == "cuda=0" and out["evaluate"][1] == "cuda=0", "GPU jobs saw no GPU"

    jobs = slurm_jobs(log, cluster)
    rules = job_rules(jobs, work)
    by_rule: dict[str, list[dict]] = {}
    for jobid in sorted(jobs, key=int):
        by_rule.setdefault(rules[jobid], []).append(jobs[jobid])
    assert sorted(by_rule) == ["evaluate", "prepare", "train"], jobs  # fetch stayed local
    for rule in ("train", "evaluate"):
        [job] = by_rule[rule]
        assert asks_for_a_gpu(job), job
        assert job["partition"] == "gpu"
        assert job["state"].startswith("COMPLETED")
    # the two request styles reached sbatch as written in the profile
    gpus_style = "--gpus=1" if cluster["status_command"] == "sacct" else "TresPerJob=gres:gpu:1"
    gres_style = "--gres=gpu:1" if cluster["status_command"] == "sacct" else "TresPerNode=gres:gpu:1"
    assert gpus_style in by_rule["train"][0]["request"], by_rule["train"][0]["request"]
    assert gres_style in by_rule["evaluate"][0]["request"], by_rule["evaluate"][0]["request"]
    # prepare: a CPU job in the default partition, failed once, resubmitted (retries: 2)
    assert [j["state"].split()[0] for j in by_rule["prepare"]] == ["FAILED", "COMPLETED"], by_rule["prepare"]
    for job in by_rule["prepare"]:
        assert not asks_for_a_gpu(job) and job["partition"] == "cpu", job


# ----------------------------------------------------------------------------- the demo's runs


@pytest.fixture(scope="module")
def demo_features(tmp_path_factory):
    """The tiny demo's kinetics_sounds features, built locally (not the subject here)."""
    work = tmp_path_factory.mktemp("slurm-demo")
    cfg = write_config(work / "tiny.yaml", tiny_demo_config())
    run_snakemake(work, cfg, "--cores", "2", "data/kinetics_sounds/fbank/stats.json",
                  "data/kinetics_sounds/version.json", timeout=900)
    return work, cfg


@pytest.mark.slow
def test_demo_train_and_evaluate_run_as_slurm_gpu_jobs(cluster, demo_features, tmp_path):
    work, cfg = demo_features
    prof = ci_profile(tmp_path, cluster)
    run = "results/runs/kinetics_sounds/datar/seed0"
    proc = run_profile(
        work,
        ["-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(cfg),
         "--profile", str(prof), f"{run}/metrics.json", "results/data/kinetics_sounds_availability.md"],
        timeout=900,
    )
    log = proc.stdout + proc.stderr

    metrics = json.loads((work / run / "metrics.json").read_text())
    assert metrics["dataset"] == "kinetics_sounds" and metrics["variant"] == "datar"
    assert metrics["split"] == "test" and metrics["n_clips"] > 0
    top1, top5 = metrics["metrics"]["top1"], metrics["metrics"]["top5"]
    assert 0.0 <= top1 <= top5 <= 100.0
    assert (work / run / "checkpoint.pt").exists()

    jobs = slurm_jobs(log, cluster)
    # availability is a localrule: it ran here, not through sbatch
    assert sorted(job_rules(jobs, work).values()) == ["evaluate", "train"], jobs
    assert (work / "results/data/kinetics_sounds_availability.md").exists()
    for job in jobs.values():
        assert asks_for_a_gpu(job), job
        assert "--gpus=1" in job["request"] or "TresPerJob=gres:gpu:1" in job["request"], job
        assert job["partition"] == "gpu" and job["state"].startswith("COMPLETED"), job
