"""Before GPU-days are queued: is this machine (and cluster) ready for a config? One table of checks.

Each check is ``ok``, ``warning`` or ``blocker``, with what was found and the fix in one line:
Python; torch and its CUDA build against the NVIDIA driver; the GPUs and their memory against
what one DAT-B step at the config's batch needs (or, without a GPU, how long training on the
CPU would take); ffmpeg and ffprobe; the age of yt-dlp; every source list reachable and of its
pinned sha256 (``offline`` skips the network); the local copies, archives, videos and audio
files the config names; the pretrained weights (present, of the right layout and hash: the
training loader's own check); free disk against what ``datar plan`` counts; and, with a SLURM
profile, ``sinfo`` / ``sacct`` answering, the profile's partitions and account.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from datar.config import Config
from datar.runs import dataset_variants, sources_dir

Status = Literal["ok", "warning", "blocker"]

#: torch builds ``scripts/setup.sh --torch`` installs, with the oldest NVIDIA driver each runs
#: on (CUDA 13: 580; CUDA 12.x: 525.60.13 through minor-version compatibility, 570 for 12.8's
#: newest GPUs). ``default`` is PyPI's build (CUDA 13.0 for torch 2.11).
TORCH_BUILDS: dict[str, tuple[str | None, tuple[int, ...] | None]] = {
    "default": ("13.0", (580,)),
    "cu130": ("13.0", (580,)),
    "cu128": ("12.8", (570,)),
    "cu126": ("12.6", (525, 60, 13)),
    "cpu": (None, None),
}

#: One DAT-B training step's memory, from the CPU measurement of benchmarks/rehearsal_cost.md
#: (fp32: 5.6 GiB peak at batch 2, of which ~1.4 GiB weights + gradients + AdamW state): an
#: upper bound for bf16 autocast on a GPU.
DAT_B_FIXED_GIB = 1.4
DAT_B_PER_SAMPLE_GIB = 2.1

#: CPU training rates of size B at 128 x 1024 per core (benchmarks/rehearsal_cost.md: one
#: batch-2 step in 12.9 CPU-s for DAT-B, 24.8 for AST-B).
CPU_SAMPLES_PER_CORE_S = {"dat": 2 / 12.9, "ast": 2 / 24.8}

YTDLP_MAX_AGE_DAYS = 60


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text))


# ----------------------------------------------------------------------------- machine


def check_python() -> Iterator[Check]:
    v = sys.version_info
    ok = (v.major, v.minor) == (3, 11)
    yield Check("python", "ok" if ok else "blocker", f"{sys.version.split()[0]} ({sys.executable})",
                "" if ok else "datar-repro pins Python 3.11: PYTHON=python3.11 bash scripts/setup.sh")


def driver_version() -> str | None:
    """The NVIDIA driver version (``nvidia-smi``), None without a driver."""
    if shutil.which("nvidia-smi") is None:
        return None
    out = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    if out is None or out.returncode != 0 or not out.stdout.strip():
        return None
    return out.stdout.strip().splitlines()[0].strip()


def build_for_driver(driver: str | None) -> str:
    """The torch build to install for an NVIDIA driver (``cpu`` without one)."""
    if driver is None:
        return "cpu"
    have = _version(driver)
    for build in ("default", "cu128", "cu126"):
        need = TORCH_BUILDS[build][1]
        if need is not None and have >= need:
            return build
    return "cpu"


def gpus() -> list[tuple[str, float]]:
    """``(name, memory GiB)`` of each GPU (``nvidia-smi``)."""
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    if out is None or out.returncode != 0:
        return []
    rows = []
    for line in out.stdout.strip().splitlines():
        name, _, mem = line.rpartition(",")
        try:
            rows.append((name.strip(), float(mem) / 1024.0))
        except ValueError:
            continue
    return rows


def check_torch(cfg: Config) -> Iterator[Check]:
    try:
        import torch
    except ImportError:
        yield Check("torch", "blocker", "not installed", "bash scripts/setup.sh")
        return
    cuda = torch.version.cuda
    driver = driver_version()
    want = build_for_driver(driver)
    built = f"torch {torch.__version__}, CUDA build {cuda or 'none (cpu)'}"
    if driver is None:
        yield Check("torch / driver", "ok" if cuda is None else "warning", f"{built}; no NVIDIA driver here",
                    "" if cuda is None else "fine on a login node; on a GPU node run the doctor there")
    else:
        need = next((v[1] for v in TORCH_BUILDS.values() if v[0] == cuda), None) if cuda else None
        if cuda is None:
            yield Check("torch / driver", "blocker", f"{built}; driver {driver}: the GPUs would sit idle",
                        f"bash scripts/setup.sh --torch {want}")
        elif need is not None and _version(driver) < need:
            yield Check("torch / driver", "blocker",
                        f"{built} needs driver >= {'.'.join(map(str, need))}; this node has {driver} (the first "
                        "training job would fail after the queue wait)", f"bash scripts/setup.sh --torch {want}")
        else:
            yield Check("torch / driver", "ok", f"{built}; driver {driver}")
    found = gpus()
    need_gib = DAT_B_FIXED_GIB + DAT_B_PER_SAMPLE_GIB * cfg.train.batch_size
    if not found:
        yield from check_cpu_training(cfg)
        return
    small = [(n, m) for n, m in found if m < need_gib]
    text = f"{len(found)} GPU(s): " + ", ".join(f"{n} {m:.0f} GiB" for n, m in found)
    text += f"; one DAT-B step at batch {cfg.train.batch_size} needs up to {need_gib:.0f} GiB"
    if small:
        yield Check("gpus", "warning", text + f" ({len(small)} have less)",
                    "lower train.batch_size (the recipe changes) or use larger GPUs")
    else:
        yield Check("gpus", "ok", text)


def check_cpu_training(cfg: Config) -> Iterator[Check]:
    from datar.plan.budget import dataset_counts, families, plan_runs, run_hours
    from datar.plan.throughput import given

    try:
        counts = {d: dataset_counts(cfg, d) for d in sorted(cfg.datasets)}
    except Exception as exc:  # noqa: BLE001 - counts unknown: say so, do not fail the doctor
        yield Check("gpus", "warning", f"no GPU: training would run on the CPU ({exc})", "")
        return
    runs = plan_runs(cfg, counts)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    rates = {f: given(f, CPU_SAMPLES_PER_CORE_S[f] * cores) for f in families(runs)}
    hours = sum(run_hours(r, samples_per_s=rates[r.family].samples_per_s,
                          eval_samples_per_s=rates[r.family].eval_samples_per_s)
                for r in runs)
    size = "" if cfg.model.size == "B" else f" (rates of size B; this config is size {cfg.model.size})"
    yield Check("gpus", "warning",
                f"no GPU: training would run on the CPU; datar plan puts the {len(runs) * len(cfg.seeds)} runs at "
                f"{hours:,.0f} hours on these {cores} cores at the recorded CPU rates{size}",
                "run on GPU nodes (--profile slurm), or measure here: python -m datar plan --config ...")


def check_ffmpeg() -> Iterator[Check]:
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        if path is None:
            yield Check(tool, "blocker", "not on PATH",
                        "apt-get install ffmpeg (or conda install -c conda-forge ffmpeg)")
            continue
        out = _run([tool, "-version"])
        first = out.stdout.splitlines()[0] if out is not None and out.stdout else "version unknown"
        yield Check(tool, "ok", f"{first} ({path})")


def check_ytdlp(today: _dt.date | None = None) -> Iterator[Check]:
    try:
        from yt_dlp.version import __version__ as v
    except ImportError:
        yield Check("yt-dlp", "blocker", "not installed", "bash scripts/setup.sh")
        return
    today = today or _dt.date.today()
    try:
        released = _dt.date(*_version(v)[:3])
    except (TypeError, ValueError):
        yield Check("yt-dlp", "warning", f"{v}: release date unknown", "pip install -U 'yt-dlp[default]'")
        return
    age = (today - released).days
    old = age > YTDLP_MAX_AGE_DAYS
    yield Check("yt-dlp", "warning" if old else "ok", f"{v} ({age} days old)",
                "pip install -U 'yt-dlp[default]' (YouTube changes every few weeks; README: Updating yt-dlp)"
                if old else "")


# ----------------------------------------------------------------------------- data and weights


def check_sources(cfg: Config, *, offline: bool) -> Iterator[Check]:
    from datar.data.sources import cache_name, fetch_url
    from datar.errors import ManifestError
    from datar.io import sha256_file

    for dataset, ds in sorted(cfg.datasets.items()):
        for i, src in enumerate(ds.sources):
            key = f"datasets.{dataset}.sources[{i}]"
            if src.path is not None:
                p = Path(src.path)
                if not p.is_file():
                    yield Check(key, "blocker", f"{p} not found", f"put the list there or fix {key}.path")
                    continue
                digest = sha256_file(p)
                if src.sha256 and digest != src.sha256.lower():
                    yield Check(key, "blocker", f"{p} has sha256 {digest}, the config pins {src.sha256.lower()}",
                                f"use the pinned file or change {key}.sha256")
                else:
                    yield Check(key, "ok", f"{p} (sha256 {digest[:12]}{', pinned' if src.sha256 else ''})")
                continue
            cached = Path(sources_dir(cfg.data_dir, dataset)) / cache_name(src.url or "")
            if offline:
                state = f"cached at {cached}" if cached.is_file() else "not fetched yet"
                yield Check(key, "ok", f"{src.url} ({state}; --offline: not contacted)")
                continue
            tmp = Path(sources_dir(cfg.data_dir, dataset)) / (".doctor-" + cache_name(src.url or ""))
            errors, found = [], None
            for url in (src.url, *src.mirrors):
                try:
                    fetch_url(url, tmp, timeout=cfg.download.socket_timeout)
                except ManifestError as exc:
                    errors.append(str(exc))
                    continue
                found = (url, sha256_file(tmp))
                tmp.unlink(missing_ok=True)
                if not src.sha256 or found[1] == src.sha256.lower():
                    break
            if found is None:
                yield Check(key, "blocker", "no URL answers: " + "; ".join(errors),
                            f"download the csv yourself and set {key}.path")
            elif src.sha256 and found[1] != src.sha256.lower():
                yield Check(key, "blocker", f"{found[0]} has sha256 {found[1]}, the config pins {src.sha256.lower()}",
                            f"another version of the list: find the pinned one, or pin this ({key}.sha256)")
            else:
                pin = ", pinned" if src.sha256 else f"; not pinned: add sha256: {found[1]} to {key}"
                yield Check(key, "ok" if src.sha256 else "warning", f"{found[0]} (sha256 {found[1][:12]}{pin})",
                            "" if src.sha256 else f"pin it: {key}.sha256")


def _template_root(template: str) -> Path:
    from datar.data.local_source import template_path

    head = template.split("{", 1)[0]
    if "/" not in head:
        return Path(".")
    return template_path(head) if head.endswith("/") else template_path(head).parent


def check_local_copies(cfg: Config) -> Iterator[Check]:
    for dataset, ds in sorted(cfg.datasets.items()):
        key = f"datasets.{dataset}"
        local = ds.local_source
        if local is not None and local.archives:
            for pattern in local.archives:
                n = len([p for p in glob.glob(os.path.expanduser(pattern)) if os.path.isfile(p)])
                yield Check(f"{key}.local_source.archives", "ok" if n else "blocker", f"{pattern!r}: {n} archive(s)",
                            "" if n else "download the archives there or fix the pattern")
        elif local is not None:
            for template in local.templates:
                root = _template_root(template)
                there = root.is_dir()
                fallback = local.fallback == "youtube"
                yield Check(f"{key}.local_source.template", "ok" if there else ("warning" if fallback else "blocker"),
                            f"{root}: {'present' if there else 'missing'}",
                            "" if there else ("clips would come from YouTube" if fallback else
                                              "mount the copy there or fix the template"))
        if ds.audio_source is not None:
            p = Path(ds.audio_source.hdf5)
            yield Check(f"{key}.audio_source.hdf5", "ok" if p.is_file() else "blocker",
                        f"{p}: {'present' if p.is_file() else 'missing'}",
                        "" if p.is_file() else "download EPIC-KITCHENS-100_audio.hdf5 there or fix the path")
        elif ds.video_source:
            root = _template_root(ds.video_source)
            yield Check(f"{key}.video_source", "ok" if root.is_dir() else "blocker",
                        f"{root}: {'present' if root.is_dir() else 'missing'}",
                        "" if root.is_dir() else "download the videos with the official scripts or fix the path")


def check_weights(cfg: Config) -> Iterator[Check]:
    from datar.errors import ConfigError
    from datar.models import build_model
    from datar.models.weights import load_weights_file
    from datar.variants import VARIANTS

    families = {VARIANTS[v].family: v for d in cfg.datasets for v in dataset_variants(cfg, d)}
    for family in ("dat", "ast"):
        if family not in families:
            continue
        spec = cfg.model.pretrained.of(family)
        key = f"model.pretrained.{family}"
        if spec is None:
            yield Check(key, "warning", "not set: every run trains from scratch (the paper fine-tunes ImageNet "
                                        "weights) and every table will say so",
                        "README: Pretrained weights (dat_base_in1k_224.pth from DAT's CVPR2022 tag; DeiT-B/384 "
                        "distilled for AST)")
            continue
        try:
            model = build_model(families[family], size=cfg.model.size, heads={"label": 10},
                                num_mel_bins=cfg.fbank.num_mel_bins, target_length=cfg.fbank.target_length)
            rec = load_weights_file(model, spec.path, key=key, sha256=spec.sha256, size=cfg.model.size)
        except ConfigError as exc:
            yield Check(key, "blocker", str(exc).removeprefix(f"{key}: "), f"fix {key}")
            continue
        yield Check(key, "ok" if spec.sha256 else "warning", f"{rec.label()}: {rec.summary}",
                    "" if spec.sha256 else f"pin it: {key}: {{path: {spec.path}, sha256: {rec.sha256}}}")


def check_disk(cfg: Config) -> Iterator[Check]:
    from datar.plan.budget import audio_bytes, dataset_counts, feature_bytes

    try:
        counts = [dataset_counts(cfg, d) for d in sorted(cfg.datasets)]
    except Exception as exc:  # noqa: BLE001
        yield Check("disk", "warning", f"sizes unknown ({exc})", "")
        return
    need = sum(feature_bytes(cfg, c.clips) + audio_bytes(cfg, c.audio_seconds) for c in counts)
    where = Path(cfg.data_dir).absolute()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    text = f"{free / 1e9:,.1f} GB free at {where}; features + audio need {need / 1e9:,.1f} GB (datar plan)"
    if free < need:
        yield Check("disk", "blocker", text, "free space or point data_dir at a larger filesystem")
    elif free < 1.5 * need:
        yield Check("disk", "warning", text + " (less than 1.5x: checkpoints and logs need room too)", "")
    else:
        yield Check("disk", "ok", text)


# ----------------------------------------------------------------------------- SLURM


def _profile_values(profile: Path) -> dict[str, Any]:
    import yaml

    raw = yaml.safe_load((profile / "config.yaml").read_text(encoding="utf-8")) or {}
    partitions, accounts = set(), set()
    for res in [raw.get("default-resources") or {}, *(raw.get("set-resources") or {}).values()]:
        items = res.items() if isinstance(res, dict) else (x.split("=", 1) for x in res if "=" in x)
        for k, v in items:
            v = str(v).strip("'\"")
            if k == "slurm_partition" and v:
                partitions.add(v)
            if k == "slurm_account" and v:
                accounts.add(v)
    return {"partitions": sorted(partitions), "accounts": sorted(accounts)}


def check_slurm(profile: Path) -> Iterator[Check]:
    if not (profile / "config.yaml").is_file():
        yield Check("slurm profile", "blocker", f"{profile / 'config.yaml'} not found", "--profile slurm (repo root)")
        return
    values = _profile_values(profile)
    sinfo = _run(["sinfo", "-h", "-o", "%R"]) if shutil.which("sinfo") else None
    if sinfo is None or sinfo.returncode != 0:
        why = "sinfo not on PATH" if shutil.which("sinfo") is None else (sinfo.stderr.strip().splitlines() or ["?"])[-1]
        yield Check("sinfo", "blocker", f"SLURM does not answer: {why}",
                    "run on the cluster's submit host (module load slurm), or without --profile slurm")
        return
    have = {p.strip().rstrip("*") for p in sinfo.stdout.split()}
    yield Check("sinfo", "ok", f"partitions {', '.join(sorted(have))}")
    for p in values["partitions"]:
        yield Check(f"partition {p}", "ok" if p in have else "blocker",
                    "exists" if p in have else f"not a partition of this cluster ({', '.join(sorted(have))})",
                    "" if p in have else f"set slurm_partition in {profile / 'config.yaml'} (slurm/README.md)")
    sacct = _run(["sacct", "-n", "-X", "-S", "now", "-o", "JobID"]) if shutil.which("sacct") else None
    ok = sacct is not None and sacct.returncode == 0
    msg = "" if ok else (sacct.stderr.strip().splitlines()[-1] if sacct is not None and sacct.stderr.strip()
                         else "sacct not on PATH")
    yield Check("sacct", "ok" if ok else "blocker", "accounting answers" if ok else f"no answer: {msg}",
                "" if ok else "set slurm-status-command: squeue in the profile (slurm/README.md: MinJobAge)")
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or ""
    for account in values["accounts"]:
        out = _run(["sacctmgr", "-nP", "show", "assoc", f"where user={user}", f"account={account}", "format=account"])
        known = out is not None and out.returncode == 0 and account in out.stdout
        yield Check(f"account {account}", "ok" if known else "blocker",
                    "you may submit to it" if known else f"no association for user {user or '?'}",
                    "" if known else f"fix slurm_account in {profile / 'config.yaml'}")
    if not values["accounts"]:
        yield Check("account", "warning", "the profile sets no slurm_account: the plugin guesses your default",
                    f"set default-resources: slurm_account in {profile / 'config.yaml'} if you have several")


# ----------------------------------------------------------------------------- all


def run_checks(cfg: Config, *, offline: bool = False, profile: Path | None = None) -> list[Check]:
    """Every check, in the table's order."""
    parts: list[Callable[[], Iterator[Check]]] = [
        check_python, lambda: check_torch(cfg), check_ffmpeg, check_ytdlp,
        lambda: check_sources(cfg, offline=offline), lambda: check_local_copies(cfg), lambda: check_weights(cfg),
        lambda: check_disk(cfg),
    ]
    if profile is not None:
        parts.append(lambda: check_slurm(profile))
    out: list[Check] = []
    for part in parts:
        out.extend(part())
    return out


def render(checks: list[Check]) -> str:
    """The table as Markdown, then one line of counts."""
    lines = ["| check | status | found | fix |", "| --- | --- | --- | --- |"]
    for c in checks:
        lines.append(f"| {c.name} | {c.status.upper() if c.status != 'ok' else 'ok'} | "
                     f"{c.detail.replace('|', '/')} | {c.fix.replace('|', '/')} |")
    n = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "warning", "blocker")}
    lines += ["", f"{n['ok']} ok, {n['warning']} warning(s), {n['blocker']} blocker(s)"
              + (": fix the blockers before queueing anything" if n["blocker"] else "")]
    return "\n".join(lines) + "\n"
