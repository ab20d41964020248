"""The download stage for one shard: manifest rows -> ``{S}.tar`` + ``{S}.status.csv``.

Resumable: each finished clip (its FLAC, then its status as JSON, both atomic) is kept in
``{data_dir}/{D}/clips/.work/{S}/``; a job killed with SIGKILL and rerun fetches only the
clips without a status there. At the end the tar and then the status csv are written
atomically, and the work dir is removed. A dead link is data, not a crash: every clip ends
as ``ok``, ``unavailable`` or ``invalid`` and the shard job completes.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from datar.config import Config
from datar.data.clip_status import ClipStatus, load_clip_status, save_clip_status, write_status_csv
from datar.data.fetch_clip import ClipJob, fetch_clip
from datar.data.shard_rows import read_shard_rows
from datar.io import atomic_write

log = logging.getLogger("datar.download")


@dataclass(frozen=True)
class ShardPaths:
    """Where a shard's download outputs and work files live."""

    manifest: Path
    tar: Path
    status: Path
    work: Path

    @classmethod
    def of(cls, cfg: Config, dataset: str, shard: str) -> ShardPaths:
        """Paths for ``dataset``/``shard`` under ``cfg.data_dir`` (see docs/architecture.md)."""
        root = Path(cfg.data_dir) / dataset
        clips = root / "clips"
        return cls(manifest=root / "manifest.csv", tar=clips / f"{shard}.tar",
                   status=clips / f"{shard}.status.csv", work=clips / ".work" / shard)


@dataclass(frozen=True)
class ShardSummary:
    """Counts of one finished shard job.

    Attributes:
        rows: clips in the shard.
        fetched: clips attempted by this run (the rest were finished by an earlier run).
        ok: clips in the tar.
        unavailable: dead, private or persistently failing clips.
        invalid: clips whose media cannot be decoded.
    """

    rows: int
    fetched: int
    ok: int
    unavailable: int
    invalid: int


def download_shard(cfg: Config, dataset: str, shard: str) -> ShardSummary:
    """Download, convert and record every clip of ``shard``; write the tar and status csv.

    Raises:
        ConfigError: ``dataset`` is not in the config.
        ManifestError: the manifest is missing, a row is unsafe, or the shard has no rows.
    """
    cfg.dataset(dataset)
    paths = ShardPaths.of(cfg, dataset, shard)
    rows = read_shard_rows(paths.manifest, shard, allowed_schemes=cfg.download.allowed_schemes)
    paths.work.mkdir(parents=True, exist_ok=True)

    done: dict[str, ClipStatus] = {}
    todo: list[ClipJob] = []
    for row in rows:
        flac = paths.work / f"{row.clip_id}.flac"
        prior = load_clip_status(paths.work / f"{row.clip_id}.status.json")
        if prior is not None and (prior.status != "ok" or (flac.is_file() and flac.stat().st_size == prior.bytes)):
            done[row.clip_id] = prior
        else:
            todo.append(ClipJob(row=row, flac=flac, scratch=paths.work / "tmp" / row.clip_id))
    log.info("%s/%s: %d clips, %d already done, %d to fetch", dataset, shard, len(rows), len(done), len(todo))

    def run(job: ClipJob) -> ClipStatus:
        status = fetch_clip(job, cfg)
        save_clip_status(paths.work / f"{job.row.clip_id}.status.json", status)
        log.info("%s: %s %s", job.row.clip_id, status.status, status.reason)
        return status

    with ThreadPoolExecutor(max_workers=cfg.download.workers, thread_name_prefix="download") as pool:
        for status in pool.map(run, todo):
            done[status.clip_id] = status

    ordered = [done[r.clip_id] for r in rows]
    _write_tar(paths.tar, [paths.work / f"{s.clip_id}.flac" for s in ordered if s.status == "ok"])
    write_status_csv(paths.status, ordered)
    shutil.rmtree(paths.work, ignore_errors=True)
    work_parent = paths.work.parent
    if work_parent.is_dir() and not any(work_parent.iterdir()):
        work_parent.rmdir()
    counts = {k: sum(1 for s in ordered if s.status == k) for k in ("ok", "unavailable", "invalid")}
    return ShardSummary(rows=len(rows), fetched=len(todo), **counts)


def _write_tar(path: Path, members: list[Path]) -> None:
    """Write a deterministic, uncompressed tar of ``members`` (by base name) atomically."""
    with atomic_write(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tar.gettarinfo(str(m), arcname=m.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with open(m, "rb") as fh:
                tar.addfile(info, fh)
