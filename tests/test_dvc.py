"""Data versioning with DVC: the reviewer's loop in a real DVC repository, and its bad states.

A copy of the workflow (Snakefile, dvc.yaml, config, code) becomes a fresh git + DVC repository
in a temporary directory; ``dvc repro`` builds a tiny demo (Kinetics-Sounds only, a two-row
Table 4), ``dvc push`` sends it to a local directory remote. Clean clones then ``dvc pull``,
check, touch, and plan or regenerate with Snakemake. Nothing touches the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, one_dataset_config, work_copy, write_config

pytestmark = pytest.mark.slow

# What a clean checkout of the repo holds that the pipeline needs (code is hashed as deps).
COPY = ["Snakefile", "dvc.yaml", "params.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore", ".gitignore",
        "environment.yml", "pyproject.toml", "workflow", "config", "datar", "scripts", "README.md"]
# A shell as a new user has it: the system's PATH, no virtual environment on it.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONFIG = "config/tiny.yaml"
DATA_JOBS = {"demo_corpus", "manifest", "download", "validate", "availability", "fbank", "stats", "data_version"}


def _env() -> dict:
    bindir = os.path.dirname(sys.executable)
    return {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def sh(cwd: Path, *cmd: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a command; ``dvc``, ``snakemake`` and ``datar`` resolve to this interpreter's."""
    head = {"dvc": [sys.executable, "-m", "dvc"], "snakemake": [sys.executable, "-m", "snakemake"],
            "datar": [sys.executable, "-m", "datar", "dvc-check"]}.get(cmd[0])
    argv = [*head, *cmd[1:]] if head else list(cmd)
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def planned_jobs(stdout: str) -> dict[str, int]:
    """Job counts of a ``snakemake -n`` plan ({} when nothing is to be done)."""
    if "Job stats:" not in stdout:
        assert "Nothing to be done" in stdout, stdout[-3000:]
        return {}
    table = stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def tiny_config() -> dict:
    return one_dataset_config(["dat_fixed", "datar"])


def readme_block(heading: str) -> list[str]:
    """The command lines of the first ```bash block after ``heading`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split(heading, 1)[1]
    block = after.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def readme_shell(repo: Path, *commands: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """README's quick-start set-up lines (not its demo run), then ``commands``, in one new shell.

    The shell starts with the system PATH only, as a new user's does: whatever the commands
    need (``dvc``, ``snakemake``, ``python -m datar``) must come from what README says to run.
    """
    setup = [c for c in readme_block("## Quick start") if "snakemake" not in c.split("&&")[0]]
    setup = [" && ".join(p for p in c.split("&&") if "snakemake" not in p).strip() for c in setup]
    script = "set -e\n" + "\n".join(setup + list(commands)) + "\n"
    env = {k: v for k, v in _env().items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = SYSTEM_PATH
    proc = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"README's commands failed ({proc.returncode}):\n{script}\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def origin(tmp_path_factory, kinetics_data) -> dict:
    """The author's repository: built with ``dvc repro``, committed, pushed to a directory remote.

    Its data stage starts from the session's built Kinetics-Sounds data (conftest.kinetics_data:
    the same data sections), so `dvc repro` versions it without rebuilding it.
    """
    base = tmp_path_factory.mktemp("dvc")
    repo, remote = base / "origin", base / "remote"
    for rel in COPY:
        src, dst = REPO / rel, repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dst)
    write_config(repo / CONFIG, tiny_config())
    work_copy(kinetics_data, repo, only=("data", ".snakemake"))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["snakemake"].update(configfile=CONFIG, cores=2)
    params["datasets"] = params["demo_datasets"] = ["kinetics_sounds"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "workflow")
    (repo / ".venv").symlink_to(REPO / ".venv")  # what scripts/setup.sh made (it finds it and skips)
    times = {}
    t0 = time.monotonic()
    # README's DVC section, after its quick start, as written (the stages call snakemake from PATH).
    assert "dvc repro" in readme_block("## Versioning data with DVC")
    readme_shell(repo, "dvc repro")
    times["repro"] = time.monotonic() - t0
    # Right after dvc repro, Snakemake agrees everything is up to date (hard-linked cache keeps mtimes).
    assert planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "all").stdout) == {}
    sh(repo, "dvc", "remote", "add", "-d", "storage", str(remote))
    sh(repo, "git", "add", "dvc.lock", ".dvc/config", "results/metrics", "results/plots")  # cache: false = in git
    sh(repo, "git", "commit", "-q", "-m", "data and runs, version 1")
    t0 = time.monotonic()
    sh(repo, "dvc", "push")
    times["push"] = time.monotonic() - t0
    print(f"\ndvc repro {times['repro']:.0f} s, push {times['push']:.1f} s, remote {du(remote) / 1e6:.1f} MB "
          f"in {sum(1 for p in remote.rglob('*') if p.is_file())} files")
    return {"repo": repo, "remote": remote, "base": base, "times": times}


def clone(origin: dict, name: str, *, pull: bool = True, remote: Path | None = None) -> Path:
    """A reviewer's clean clone (optionally with its own remote), pulled."""
    path = origin["base"] / name
    sh(origin["base"], "git", "clone", "-q", str(origin["repo"]), str(path))
    if remote is not None:
        sh(path, "dvc", "remote", "add", "--local", "-f", "-d", "storage", str(remote))
    if pull:
        sh(path, "dvc", "pull")
    return path


def test_reviewer_loop_pull_touch_plan_and_regenerate(origin):
    repo = clone(origin, "reviewer")
    assert (repo / "data/kinetics_sounds/fbank/stats.json").is_file()
    assert list((repo / "data/kinetics_sounds/clips").glob("*.tar"))
    assert (repo / "results/runs/kinetics_sounds/datar/seed0/checkpoint.pt").is_file()
    print(f"pulled {du(repo / 'data') / 1e6:.1f} MB of data, {du(repo / 'results') / 1e6:.1f} MB of results")

    # Pulled files carry pull-time mtimes: untouched, Snakemake would redo the whole DAG.
    before = planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "all").stdout)
    assert before, "expected pull-order mtimes to make Snakemake plan jobs before --touch"

    out = sh(repo, "datar", "--config", CONFIG, "--touch").stdout
    assert "hashes: all" in out and "data versions: consistent" in out and "touched" in out

    # The reviewer's loop: nothing to download, validate, extract, train or render again.
    assert planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "all").stdout) == {}
    assert sh(repo, "dvc", "status").stdout.strip().endswith("Data and pipelines are up to date.")

    # A real change still triggers a rerun: a feature setting reruns features on, never downloads.
    cfg = yaml.safe_load((repo / CONFIG).read_text())
    cfg["fbank"]["time_mask"] += 1
    changed = repo / "config/changed.yaml"
    write_config(changed, cfg)
    jobs = planned_jobs(sh(repo, "snakemake", "--configfile", str(changed), "-n", "all").stdout)
    assert jobs.get("fbank", 0) >= 1 and jobs.get("train", 0) >= 1
    assert not {"download", "validate", "manifest"} & set(jobs)
    # ... and so does a changed input file (one shard's audio): that shard only, from validation on.
    # (A touch alone is no change: Snakemake compares the checksums it recorded for small inputs.)
    tar = sorted((repo / "data/kinetics_sounds/clips").glob("*.tar"))[0]
    original, st = tar.read_bytes(), tar.stat()
    tar.unlink()  # a hard link into the DVC cache: replace, never edit in place
    tar.write_bytes(original + bytes(1024))
    jobs = planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "all").stdout)
    assert jobs.get("validate") == 1 and jobs.get("fbank") == 1 and "download" not in jobs
    tar.unlink()
    tar.write_bytes(original)
    os.utime(tar, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "all").stdout) == {}

    # Regenerate Table 4 from the pulled runs: the table job alone.
    expected = (repo / "results/tables/table4.csv").read_text()
    for f in (repo / "results/tables").glob("table4.*"):
        f.unlink()
    plan = planned_jobs(sh(repo, "snakemake", "--configfile", CONFIG, "-n", "results/tables/table4.md").stdout)
    assert plan == {"table": 1}
    sh(repo, "snakemake", "--configfile", CONFIG, "--cores", "1", "results/tables/table4.md")
    assert (repo / "results/tables/table4.csv").read_text() == expected
    md = (repo / "results/tables/table4.md").read_text()
    version = yaml.safe_load((repo / "data/kinetics_sounds/version.json").read_text())["data_version"]
    assert version in md and "WARNING" not in md

    # Comparing versions: `dvc params diff` names a changed setting, `dvc metrics diff` the numbers
    # it moved (the tables' and claims' metrics files are in git, cache: false), plots show the curves.
    import json

    shown = json.loads(sh(repo, "dvc", "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    assert {"results/metrics/table4.json", "results/metrics/claims.json"} <= set(files), files
    assert "datar" in files["results/metrics/table4.json"]["data"]["rows"]
    plots = json.loads(sh(repo, "dvc", "plots", "show", "--json").stdout)
    assert "results/plots/curves_kinetics_sounds.csv" in plots["data"], plots.get("errors")
    cfg = yaml.safe_load((repo / CONFIG).read_text())
    cfg["train"]["lr"] = cfg["train"]["lr"] * 4
    write_config(repo / CONFIG, cfg)
    sh(repo, "dvc", "repro")
    params = json.loads(sh(repo, "dvc", "params", "diff", "--json").stdout)
    assert set(params[CONFIG]) == {"train.lr"}, params
    assert params[CONFIG]["train.lr"]["new"] == cfg["train"]["lr"]
    metrics = json.loads(sh(repo, "dvc", "metrics", "diff", "--json").stdout)
    assert any(k.startswith("rows.") for k in metrics.get("results/metrics/table4.json", {})), metrics


def test_no_remote_is_explained(origin):
    repo = clone(origin, "no-remote", pull=False)
    sh(repo, "dvc", "remote", "remove", "storage")
    proc = sh(repo, "dvc", "pull", check=False)
    assert proc.returncode != 0
    proc = sh(repo, "datar", "--config", CONFIG, "--skip-hashes", check=False)
    assert proc.returncode == 2
    assert "no DVC remote configured" in proc.stderr and "dvc remote add -d" in proc.stderr


def test_corrupt_file_in_the_remote_is_named(origin):
    bad_remote = origin["base"] / "remote-corrupt"
    shutil.copytree(origin["remote"], bad_remote)
    # The cache object of one feature shard, found through its directory listing.
    repo0 = origin["repo"]
    lock = yaml.safe_load((repo0 / "dvc.lock").read_text())
    fbank_md5 = next(o["md5"] for o in lock["stages"]["data@kinetics_sounds"]["outs"]
                     if o["path"] == "data/kinetics_sounds/fbank")
    listing = yaml.safe_load((bad_remote / "files/md5" / fbank_md5[:2] / fbank_md5[2:]).read_text())
    victim = next(e for e in listing if e["relpath"].endswith(".safetensors"))
    obj = bad_remote / "files/md5" / victim["md5"][:2] / victim["md5"][2:]
    obj.chmod(0o644)
    data = bytearray(obj.read_bytes())
    data[-10] ^= 0xFF
    obj.write_bytes(bytes(data))

    repo = clone(origin, "corrupt", pull=False, remote=bad_remote)
    sh(repo, "dvc", "pull", check=False)  # DVC may or may not notice; our check must
    proc = sh(repo, "datar", "--config", CONFIG, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    named = f"data/kinetics_sounds/fbank/{victim['relpath']}"
    assert named in proc.stderr and ("HASH MISMATCH" in proc.stderr or "missing" in proc.stderr)


def test_data_version_mismatch_is_named(origin):
    repo = clone(origin, "mismatch")
    metrics = repo / "results/runs/kinetics_sounds/datar/seed0/metrics.json"
    text = metrics.read_text()
    version = yaml.safe_load(text)["data_version"]
    metrics.unlink()  # a hard link into the cache: replace, never edit in place
    metrics.write_text(text.replace(version, "0" * 64))
    proc = sh(repo, "datar", "--config", CONFIG, check=False)
    assert proc.returncode == 2
    assert "DATA VERSION MISMATCH: results/runs/kinetics_sounds/datar/seed0/metrics.json has 0000" in proc.stderr
    assert version in proc.stderr and "HASH MISMATCH: results/runs/kinetics_sounds/datar/seed0/metrics.json" in proc.stderr

    # A table rendered from other data: its provenance line disagrees with version.json.
    table = repo / "results/tables/table4.md"
    md = table.read_text()
    table.unlink()
    table.write_text(md.replace(version, "f" * 64))
    metrics.unlink()
    metrics.write_text(text)
    proc = sh(repo, "datar", "--config", CONFIG, "--skip-hashes", check=False)
    assert proc.returncode == 2
    assert "DATA VERSION MISMATCH: results/tables/table4.md has ffff" in proc.stderr
    # --touch refuses while anything disagrees.
    proc = sh(repo, "datar", "--config", CONFIG, "--skip-hashes", "--touch", check=False)
    assert proc.returncode == 2 and "touched" not in proc.stdout
