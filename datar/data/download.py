"""The download stage for one shard: manifest rows -> ``{S}.tar`` + ``{S}.status.csv``.

Each clip's audio comes from a local file, cut in place by ffmpeg input seeking (a ``file://``
source, or a copy found through ``datasets.D.local_source``; the clips of one file are
grouped into decoding passes, :mod:`datar.data.local_cut`), or from the network with yt-dlp
(:mod:`datar.data.fetch_clip`). Local files are never copied.

Resumable: each finished clip (its FLAC, then its status as JSON, both atomic) is kept in
``{data_dir}/{D}/clips/.work/{S}/``; a job killed with SIGKILL and rerun fetches only the
clips without a status there. At the end the tar and then the status csv are written
atomically, and the work dir is removed. A dead link is data, not a crash: every clip ends
as ``ok``, ``unavailable``, ``invalid`` or ``blocked`` and the shard job completes.

``blocked`` (YouTube refusing the downloader) is not-yet-known. A circuit breaker stops the
job after ``download.max_consecutive_blocked`` blocked clips in a row: what finished stays in
the work dir, no tar or status csv is written, and :class:`DownloadBlocked` names the config
keys that help; rerunning the job carries on. A shard that completes with some blocked clips
keeps its work dir (statuses and a hard link of the tar, ``finished.tar``), so forcing that
one job again fetches only the blocked clips.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from datar.config import Config
from datar.data.clip_status import ClipStatus, load_clip_status, save_clip_status, write_status_csv
from datar.data.failures import decode_failure
from datar.data.fetch_clip import ClipJob, fetch_clip
from datar.data.ffmpeg_audio import FfmpegFailure, probe_audio
from datar.data import local_cut
from datar.data.local_cut import Cut, Span, cut_span, plan_spans
from datar.data.archives import archive_lookup
from datar.data.hdf5_audio import H5Clip, epic_ids, read_segment, write_flac
from datar.data.local_source import Archived, LocalClip, Missing, Unusable, locate
from datar.data.shard_rows import ClipRow, read_shard_rows, source_url
from datar.data.ytdlp import ytdlp_version
from datar.errors import DataError
from datar.io import atomic_write
from datar.runs import clip_file, manifest_csv

log = logging.getLogger("datar.download")


class DownloadBlocked(DataError):
    """The circuit breaker stopped a shard job: YouTube is refusing the downloader."""


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
        tar = Path(clip_file(cfg.data_dir, dataset, shard, "tar"))
        return cls(manifest=Path(manifest_csv(cfg.data_dir, dataset)), tar=tar,
                   status=Path(clip_file(cfg.data_dir, dataset, shard, "status.csv")),
                   work=tar.parent / ".work" / shard)

    @property
    def finished(self) -> Path:
        """Hard link of the last tar of a shard that completed with blocked clips."""
        return self.work / "finished.tar"


@dataclass(frozen=True)
class ShardSummary:
    """Counts of one finished shard job.

    Attributes:
        rows: clips in the shard.
        fetched: clips attempted by this run (the rest were finished by an earlier run).
        ok: clips in the tar.
        unavailable: dead, private, missing or persistently failing clips.
        invalid: clips whose media cannot be decoded.
        blocked: clips YouTube refused to serve (not known yet).
        local: ok clips cut from local files.
    """

    rows: int
    fetched: int
    ok: int
    unavailable: int
    invalid: int
    blocked: int = 0
    local: int = 0


@dataclass
class Breaker:
    """Trips after ``limit`` consecutive blocked network clips; local clips do not count."""

    limit: int
    run: int = 0
    tripped: bool = False
    last: ClipStatus | None = None

    def observe(self, status: ClipStatus) -> None:
        """Count one finished clip."""
        if status.origin == "local":
            return
        if status.status == "blocked":
            self.run += 1
            self.last = status
            self.tripped = self.tripped or self.run >= self.limit
        else:
            self.run = 0


@dataclass(frozen=True)
class _Task:
    """One unit of work in the pool: a network clip, or a span of a local file."""

    network: bool
    run: Callable[[], list[ClipStatus]]
    clips: int = 1


@dataclass
class _LocalFile:
    path: Path
    cuts: list[Cut] = field(default_factory=list)
    rows: dict[str, ClipRow] = field(default_factory=dict)
    place: str = ""


def download_shard(cfg: Config, dataset: str, shard: str) -> ShardSummary:
    """Download or cut, convert and record every clip of ``shard``; write the tar and status csv.

    Raises:
        ConfigError: ``dataset`` is not in the config, or its ``local_source`` template
            cannot be filled for a row.
        ManifestError: the manifest is missing, a row is unsafe, or the shard has no rows.
        DownloadBlocked: the circuit breaker tripped (finished clips are kept for a rerun).
    """
    ds = cfg.dataset(dataset)
    paths = ShardPaths.of(cfg, dataset, shard)
    rows = read_shard_rows(paths.manifest, shard, allowed_schemes=cfg.download.allowed_schemes)
    where = f"datasets.{dataset}.local_source.template"
    lookup = archive_lookup(cfg, dataset) if ds.local_source is not None and ds.local_source.archives else None
    plans: list[LocalClip | Missing | Archived | Unusable | H5Clip | None] = []
    for row in rows:  # every row is planned (and a bad template found) before any work
        scheme, url = source_url(row.source, allowed=cfg.download.allowed_schemes, where=row.clip_id)
        if ds.audio_source is not None:  # EPIC's audio HDF5: every segment is read from it
            h5 = ds.audio_source
            plans.append(H5Clip(Path(h5.hdf5), h5.key.format(**epic_ids(row.clip_id)), row.start, row.end,
                                h5.sample_rate, Path(h5.hdf5).name))
            continue
        plans.append(locate(row, scheme=scheme, url=url, local_source=ds.local_source, where=where,
                            archives=lookup))
    paths.work.mkdir(parents=True, exist_ok=True)

    done = _finished_before(paths, rows)
    files: dict[Path, _LocalFile] = {}
    network: list[ClipJob] = []
    stored: dict[str, Archived] = {}  # clips whose FLAC an archive job already wrote
    segments: list[tuple[ClipRow, H5Clip, Path]] = []  # clips read from an audio HDF5 file
    for row, plan in zip(rows, plans):
        if isinstance(plan, Archived):  # planned anew every run: a lookup, nothing to fetch
            stored[row.clip_id] = plan
            done[row.clip_id] = ClipStatus(row.clip_id, "ok", "", 1, plan.size, "local", plan.seconds
                                           if row.end is None else None, message=f"{plan.place}: {plan.member}",
                                           place=plan.place)
            continue
        if isinstance(plan, Unusable):
            done[row.clip_id] = ClipStatus(row.clip_id, plan.status, plan.reason, 1, 0, "local",  # type: ignore[arg-type]
                                           message=plan.message, place=plan.place)
            continue
        if row.clip_id in done:
            continue
        flac = paths.work / f"{row.clip_id}.flac"
        if isinstance(plan, Missing):
            st = ClipStatus(row.clip_id, "unavailable", plan.reason, 0, 0, "local", message=plan.message)
            save_clip_status(paths.work / f"{row.clip_id}.status.json", st)
            done[row.clip_id] = st
        elif isinstance(plan, H5Clip):
            segments.append((row, plan, flac))
        elif isinstance(plan, LocalClip):
            entry = files.setdefault(plan.path, _LocalFile(plan.path, place=plan.place))
            entry.cuts.append(Cut(row.clip_id, plan.start, plan.end, flac))
            entry.rows[row.clip_id] = row
        else:
            network.append(ClipJob(row=row, flac=flac, scratch=paths.work / "tmp" / row.clip_id))
    n_todo = sum(len(f.cuts) for f in files.values()) + len(network) + len(segments)
    log.info("%s/%s: %d clips, %d already done, %d to fetch (%d from %d local files)", dataset, shard,
             len(rows), len(done), n_todo, n_todo - len(network), len(files))

    def record(status: ClipStatus) -> ClipStatus:
        save_clip_status(paths.work / f"{status.clip_id}.status.json", status)
        log.info("%s: %s %s", status.clip_id, status.status, status.reason)
        return status

    tasks = [_Task(False, _span_task(f, span, cfg, record), len(span.cuts))
             for f in files.values() for span in plan_spans(f.cuts, merge_gap=local_cut.MERGE_GAP_S)]
    tasks += [_Task(False, _h5_task(row, clip, flac, cfg, record)) for row, clip, flac in segments]
    tasks += [_Task(True, _network_task(job, cfg, record)) for job in network]
    breaker = Breaker(cfg.download.max_consecutive_blocked)
    skipped = _run_tasks(tasks, workers=cfg.download.workers, breaker=breaker, done=done)
    if breaker.tripped:
        raise DownloadBlocked(_blocked_message(cfg, dataset, shard, paths, breaker, done, len(rows), skipped))

    ordered = [done[r.clip_id] for r in rows]
    members = []
    for st in ordered:
        if st.status != "ok":
            continue
        a = stored.get(st.clip_id)
        flac = paths.work / f"{st.clip_id}.flac"
        members.append((flac.name, a.store, a.offset, a.size) if a is not None else (flac.name, flac, 0, None))
    _write_tar(paths.tar, members)
    write_status_csv(paths.status, ordered)
    counts = {k: sum(1 for s in ordered if s.status == k) for k in ("ok", "unavailable", "invalid", "blocked")}
    if counts["blocked"]:
        _keep_for_rerun(paths, ordered)
        log.warning("%s/%s: %d clips blocked (not known yet); force this job again later to fetch only them",
                    dataset, shard, counts["blocked"])
    else:
        shutil.rmtree(paths.work, ignore_errors=True)
        work_parent = paths.work.parent
        if work_parent.is_dir() and not any(work_parent.iterdir()):
            work_parent.rmdir()
    local = sum(1 for s in ordered if s.status == "ok" and s.origin == "local")
    return ShardSummary(rows=len(rows), fetched=n_todo, local=local, **counts)


def _finished_before(paths: ShardPaths, rows: list[ClipRow]) -> dict[str, ClipStatus]:
    """Clips an earlier run of this shard finished (blocked ones are not finished).

    An ok clip needs its FLAC in the work dir, or its member (same size) in ``finished.tar``,
    from which it is restored.
    """
    members: dict[str, tarfile.TarInfo] = {}
    if paths.finished.is_file():
        try:
            with tarfile.open(paths.finished, "r:") as tar:
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
        except tarfile.TarError:
            members = {}
    done: dict[str, ClipStatus] = {}
    restore: list[tuple[tarfile.TarInfo, Path]] = []
    for row in rows:
        prior = load_clip_status(paths.work / f"{row.clip_id}.status.json")
        if prior is None or prior.status == "blocked":
            continue
        flac = paths.work / f"{row.clip_id}.flac"
        if prior.status == "ok" and not (flac.is_file() and flac.stat().st_size == prior.bytes):
            member = members.get(flac.name)
            if member is None or member.size != prior.bytes:
                continue
            restore.append((member, flac))
        done[row.clip_id] = prior
    if restore:
        with tarfile.open(paths.finished, "r:") as tar:
            for member, flac in restore:
                src = tar.extractfile(member)
                assert src is not None
                with atomic_write(flac) as tmp:
                    tmp.write_bytes(src.read())
    return done


def _network_task(job: ClipJob, cfg: Config, record: Callable[[ClipStatus], ClipStatus]
                  ) -> Callable[[], list[ClipStatus]]:
    return lambda: [record(fetch_clip(job, cfg))]


def _h5_task(row: ClipRow, clip: H5Clip, flac: Path, cfg: Config, record: Callable[[ClipStatus], ClipStatus]
             ) -> Callable[[], list[ClipStatus]]:
    """Read one segment from the audio HDF5 file (only its samples) and write its FLAC."""

    def run() -> list[ClipStatus]:
        rate = cfg.audio.sample_rate
        try:
            x, seconds = read_segment(clip, sample_rate=rate)
        except KeyError:
            return [record(ClipStatus(row.clip_id, "unavailable", "video not in the audio file", 1, 0, "local",
                                      message=f"{clip.path}: no dataset {clip.key!r}", place=clip.place))]
        except OSError as exc:
            return [record(ClipStatus(row.clip_id, "unavailable", "audio file unreadable", 1, 0, "local",
                                      message=f"{clip.path}: {exc}", place=clip.place))]
        if x.size == 0:
            return [record(ClipStatus(row.clip_id, "invalid", "segment starts after the end of the source", 1, 0,
                                      "local", seconds, "", f"{clip.path}:{clip.key}: no samples after "
                                      f"{clip.start:g} s", clip.place))]
        write_flac(x, flac, sample_rate=rate)
        return [record(ClipStatus(row.clip_id, "ok", "", 1, flac.stat().st_size, "local",
                                  seconds if row.end is None else None, place=clip.place))]

    return run


def _span_task(file: _LocalFile, span: Span, cfg: Config, record: Callable[[ClipStatus], ClipStatus]
               ) -> Callable[[], list[ClipStatus]]:
    """Cut one span of a local file; each cut becomes a clip status (origin ``local``)."""

    def run() -> list[ClipStatus]:
        seconds = None
        if span.end is None:  # a clip without an end: validation compares it with the source's duration
            try:
                seconds = probe_audio(file.path).duration
            except FfmpegFailure:
                seconds = None
        outs = {c.key: c.out for c in span.cuts}
        statuses = []
        for res in cut_span(file.path, span, sample_rate=cfg.audio.sample_rate):
            row = file.rows[res.key]
            known = seconds if row.end is None else None
            if res.error:
                kind, reason = decode_failure(res.error)
                st = ClipStatus(res.key, kind, reason, 1, 0, "local", known, "", res.error, file.place)  # type: ignore[arg-type]
            elif res.samples == 0:
                st = ClipStatus(res.key, "invalid", "segment starts after the end of the source", 1, 0, "local",
                                known, "", f"{file.path}: no audio after {row.start:g} s", file.place)
            else:
                st = ClipStatus(res.key, "ok", "", 1, outs[res.key].stat().st_size, "local", known, place=file.place)
            statuses.append(record(st))
        return statuses

    return run


def _run_tasks(tasks: list[_Task], *, workers: int, breaker: Breaker, done: dict[str, ClipStatus]) -> int:
    """Run ``tasks`` in a pool of ``workers``; once the breaker trips, start no network task.

    Returns:
        The number of clips left unstarted by the breaker.
    """
    queue = deque(tasks)
    running: set[Future[list[ClipStatus]]] = set()
    skipped = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="download") as pool:
        while queue or running:
            while queue and len(running) < workers:
                task = queue.popleft()
                if task.network and breaker.tripped:
                    skipped += task.clips
                    continue
                running.add(pool.submit(task.run))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                for status in fut.result():
                    done[status.clip_id] = status
                    breaker.observe(status)
    return skipped


def _blocked_message(cfg: Config, dataset: str, shard: str, paths: ShardPaths, breaker: Breaker,
                     done: dict[str, ClipStatus], n_rows: int, skipped: int) -> str:
    kept = sum(1 for s in done.values() if s.status != "blocked")
    blocked = sum(1 for s in done.values() if s.status == "blocked")
    last = breaker.last.reason if breaker.last else "?"
    return (
        f"{dataset}/{shard}: stopped after {breaker.run} consecutive blocked clips (last: {last}); "
        f"YouTube is refusing this downloader, which says nothing about whether the videos exist. "
        f"{kept} of {n_rows} clips are finished and kept in {paths.work} ({blocked} blocked, {skipped} not "
        f"started); rerun the same job to carry on (finished clips are not fetched again). Before rerunning: "
        f"set download.cookies (a cookies.txt exported from a signed-in browser), lower download.rate_limit "
        f"(now {cfg.download.rate_limit or 'unlimited'}), raise download.sleep_interval (now "
        f"{cfg.download.sleep_interval:g} s; 5-10 s between videos is what yt-dlp recommends), and update "
        f"yt-dlp (this is {ytdlp_version()}; README: 'Updating yt-dlp')."
    )


def _keep_for_rerun(paths: ShardPaths, ordered: list[ClipStatus]) -> None:
    """Keep the work dir of a shard with blocked clips: statuses and a hard link of the tar.

    The ok FLACs are removed once the link exists (they are in the tar); without hard links
    they stay.
    """
    shutil.rmtree(paths.work / "tmp", ignore_errors=True)
    tmp = paths.work / ".finished.tar.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(paths.tar, tmp)
        os.replace(tmp, paths.finished)
    except OSError as exc:
        log.warning("%s: cannot hard-link the tar into %s (%s); keeping the clips there", paths.tar, paths.work, exc)
        return
    for st in ordered:
        if st.status == "ok":
            (paths.work / f"{st.clip_id}.flac").unlink(missing_ok=True)


def _write_tar(path: Path, members: list[tuple[str, Path, int, int | None]]) -> None:
    """Write a deterministic, uncompressed tar atomically.

    Each member is ``(name, file, offset, size)``: ``size`` bytes of ``file`` from ``offset``
    (a clip's FLAC inside an archive's audio store), or the whole file when ``size`` is None.
    """
    with atomic_write(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, src, offset, size in members:
            info = tarfile.TarInfo(name)
            info.size = src.stat().st_size if size is None else size
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with open(src, "rb") as fh:
                fh.seek(offset)
                tar.addfile(info, fh)
