"""Clips read from the archives reviewers hold, in place: one streaming pass per archive.

VGGSound's copy on Hugging Face is 20 ``vggsound_NN.tar.gz`` of ~16 GB; CVDF serves
Kinetics-400 as ``part_N.tar.gz`` plus ``replacement_for_corrupted_k400.tgz``. With
``datasets.D.local_source.archives: [glob, ...]`` the ``archive`` rule reads each archive
once, as a stream (a tar.gz cannot seek), in its own job (20 archives = 20 parallel jobs).
A member is wanted when its file name (under any folder of the archive) is the
``local_source.template`` filled for a manifest row (several templates: any of them). Only
wanted members are decoded: the member's bytes go to an in-memory file (``memfd``) that
ffmpeg reads (an mp4 whose index sits at its end needs a seekable input), and the audio, mono
at ``audio.sample_rate``, is written as FLAC into the archive's audio store
``{data_dir}/{D}/archives/{key}.tar`` with an index ``{key}.json``. No video is written to
disk and nothing is extracted. The shard ``download`` jobs then copy each clip's FLAC from the
store into their shard tar (:func:`archive_lookup`).

An archive that breaks part-way (a truncated or corrupt gzip stream) keeps every clip read
before the break; the index says where it broke, and the wanted clips found in no archive are
recorded ``unavailable: archive corrupt: <file>`` (naming every broken archive), never lost
silently. When two archives hold the same clip, the earlier in ``archives:`` order wins (CVDF:
list ``replacement_for_corrupted_k400.tgz`` first).
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import subprocess
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile

from datar.config import Config, DatasetConfig
from datar.data.failures import decode_failure
from datar.data.local_source import fill_template
from datar.data.shard_rows import ClipRow, read_all_rows
from datar.errors import ConfigError, DataError
from datar.io import atomic_write, write_json_atomic
from datar.runs import archive_file, manifest_csv

log = logging.getLogger("datar.archives")

ARCHIVE_CORRUPT = "archive corrupt"
_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


@dataclass(frozen=True)
class Archive:
    """One archive of a dataset's local copy.

    Attributes:
        key: its name without the archive suffix (``vggsound_00``): the ``archive`` job's wildcard.
        path: the file.
        order: its position in ``local_source.archives`` (glob results sorted): earlier wins.
    """

    key: str
    path: Path
    order: int


def archive_key(path: Path) -> str:
    """``vggsound_00.tar.gz`` -> ``vggsound_00``."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def list_archives(cfg: Config, dataset: str) -> list[Archive]:
    """The archives of ``datasets.D.local_source.archives`` (each glob sorted, in list order).

    Raises:
        ConfigError: two archives have the same key, or a pattern matches nothing.
    """
    ds = cfg.dataset(dataset)
    if ds.local_source is None or not ds.local_source.archives:
        return []
    out: list[Archive] = []
    seen: dict[str, Path] = {}
    for i, pattern in enumerate(ds.local_source.archives):
        matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(pattern)) if Path(p).is_file())
        if not matches:
            raise ConfigError(f"datasets.{dataset}.local_source.archives[{i}]: {pattern!r} matches no file "
                              f"(from {Path.cwd()}); download the archives or fix the pattern")
        for p in matches:
            key = archive_key(p)
            if key in seen and seen[key] != p:
                raise ConfigError(f"datasets.{dataset}.local_source.archives: {p} and {seen[key]} have the same "
                                  f"name {key!r}; each archive needs its own file name")
            if key not in seen:
                seen[key] = p
                out.append(Archive(key, p, len(out)))
    return out


def store_paths(data_dir: str | os.PathLike[str], dataset: str, key: str) -> tuple[Path, Path]:
    """The audio store tar and index of one archive."""
    d = str(data_dir)
    return Path(archive_file(d, dataset, key, "tar")), Path(archive_file(d, dataset, key, "json"))


def member_names(ds: DatasetConfig, row: ClipRow, *, where: str) -> list[str]:
    """The file names (no folders) a manifest row's clip may have inside the archives."""
    assert ds.local_source is not None
    return [PurePosixPath(fill_template(t, row, where=where).replace("\\", "/")).name
            for t in ds.local_source.templates]


# ----------------------------------------------------------------------------- decoding one member


@dataclass(frozen=True)
class Decoded:
    """One wanted member, decoded (or not)."""

    clip_id: str
    member: str
    flac: bytes = b""
    samples: int = 0
    error: str = ""


def _memfd(data: bytes) -> int:
    """A file descriptor of an anonymous in-memory file holding ``data`` (a temp file where memfd is absent)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("datar-member", 0)
    else:  # pragma: no cover - non-Linux
        fd, name = tempfile.mkstemp(prefix="datar-member-")
        os.unlink(name)
    os.write(fd, data) if len(data) < (1 << 30) else _write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd: int, data: bytes) -> None:  # pragma: no cover - members of over 1 GB
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def decode_member(data: bytes, *, start: float, end: float | None, sample_rate: int) -> tuple[np.ndarray, str]:
    """Decode seconds ``[start, end)`` of an encoded file's first audio stream to mono s16 PCM.

    Returns:
        ``(samples, error)``: int16 samples, and ffmpeg's last stderr line when it failed.
    """
    fd = _memfd(data)
    try:
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"]
        if start > 0:
            cmd += ["-ss", f"{start:.6f}"]
        if end is not None:
            cmd += ["-t", f"{end - start:.6f}"]
        cmd += ["-i", f"/dev/fd/{fd}", "-map", "0:a:0", "-ac", "1", "-ar", str(int(sample_rate)),
                "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
        proc = subprocess.run(cmd, capture_output=True, pass_fds=(fd,), check=False)
    finally:
        os.close(fd)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return np.zeros(0, np.int16), (lines[-1] if lines else f"ffmpeg exited with code {proc.returncode}")
    return np.frombuffer(proc.stdout, dtype="<i2"), ""


#: Members decoded by one ffmpeg process (one input and one output each): ffmpeg's start-up,
#: not the decoding, dominates a 10-s clip; 8 members in one process cost ~0.15 s against
#: ~0.57 s one by one (benchmarks/archives.md).
BATCH = 16
_BATCH_BYTES = 256 << 20


def decode_members(items: list[tuple[bytes, float, float | None]], *, sample_rate: int
                   ) -> list[tuple[np.ndarray, str]]:
    """:func:`decode_member` of several members in one ffmpeg process (each its own input and output).

    If ffmpeg fails, each member is decoded alone, so one bad member costs only itself.
    """
    if len(items) == 1:
        return [decode_member(items[0][0], start=items[0][1], end=items[0][2], sample_rate=sample_rate)]
    ins = [_memfd(data) for data, _, _ in items]
    outs = [_memfd(b"") for _ in items]
    try:
        cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        for fd, (_, start, end) in zip(ins, items):
            if start > 0:
                cmd += ["-ss", f"{start:.6f}"]
            if end is not None:
                cmd += ["-t", f"{end - start:.6f}"]
            cmd += ["-i", f"/dev/fd/{fd}"]
        for i, fd in enumerate(outs):
            cmd += ["-map", f"{i}:a:0", "-ac", "1", "-ar", str(int(sample_rate)), "-f", "s16le",
                    "-acodec", "pcm_s16le", f"/dev/fd/{fd}"]
        proc = subprocess.run(cmd, capture_output=True, pass_fds=(*ins, *outs), check=False)
        if proc.returncode != 0:
            return [decode_member(d, start=a, end=b, sample_rate=sample_rate) for d, a, b in items]
        results = []
        for fd in outs:
            size = os.lseek(fd, 0, os.SEEK_END)
            os.lseek(fd, 0, os.SEEK_SET)
            results.append((np.frombuffer(os.read(fd, size) if size else b"", dtype="<i2"), ""))
        return results
    finally:
        for fd in (*ins, *outs):
            os.close(fd)


def _flac(pcm: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def _decode_batch(batch: list[tuple[str, str, bytes, float, float | None]], rate: int) -> list[Decoded]:
    out = []
    decoded = decode_members([(data, a, b) for _, _, data, a, b in batch], sample_rate=rate)
    for (clip_id, member, *_), (pcm, error) in zip(batch, decoded):
        if error:
            out.append(Decoded(clip_id, member, error=error))
        elif pcm.size == 0:
            out.append(Decoded(clip_id, member, error=f"{member}: no audio samples in the segment"))
        else:
            out.append(Decoded(clip_id, member, _flac(pcm, rate), int(pcm.size)))
    return out


# ----------------------------------------------------------------------------- one archive job


@dataclass
class ScanSummary:
    """What one archive job did."""

    key: str
    members: int = 0
    files: int = 0
    wanted: int = 0
    ok: int = 0
    invalid: int = 0
    complete: bool = True
    error: str = ""
    clips: dict[str, dict] = field(default_factory=dict)


def _wanted(cfg: Config, dataset: str) -> dict[str, list[ClipRow]]:
    ds = cfg.dataset(dataset)
    rows = read_all_rows(Path(manifest_csv(cfg.data_dir, dataset)),
                         allowed_schemes=cfg.download.allowed_schemes)
    where = f"datasets.{dataset}.local_source.template"
    wanted: dict[str, list[ClipRow]] = {}
    for row in rows:
        for name in member_names(ds, row, where=where):
            wanted.setdefault(name, []).append(row)
    return wanted


def _stream(path: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for member in tar:
            yield member, tar


def scan_archive(cfg: Config, dataset: str, key: str, *, workers: int = 2) -> ScanSummary:
    """Read archive ``key`` once; decode the members the manifest wants into its audio store.

    Writes ``{key}.tar`` (one ``{clip_id}.flac`` per decoded clip) and ``{key}.json`` (per
    clip: status, member, offset and size in the store; whether the archive was read to its
    end), both atomically.

    Raises:
        ConfigError: ``key`` is not an archive of the dataset.
    """
    ds = cfg.dataset(dataset)
    archives = {a.key: a for a in list_archives(cfg, dataset)}
    if key not in archives:
        raise ConfigError(f"datasets.{dataset}.local_source.archives: no archive named {key!r} "
                          f"(known: {', '.join(sorted(archives)) or 'none'})")
    archive = archives[key]
    assert ds.local_source is not None
    contains_video = ds.local_source.contains == "video"
    rate = cfg.audio.sample_rate
    wanted = _wanted(cfg, dataset)
    summary = ScanSummary(key=key)
    store, index = store_paths(cfg.data_dir, dataset, key)
    store.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    with atomic_write(store) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:

        def add(d: Decoded) -> None:
            with lock:
                if d.error:
                    kind, reason = decode_failure(d.error)
                    summary.invalid += 1
                    summary.clips[d.clip_id] = {"status": kind, "reason": reason, "message": d.error,
                                                "member": d.member}
                    return
                info = tarfile.TarInfo(f"{d.clip_id}.flac")
                info.size, info.mode = len(d.flac), 0o644
                out.addfile(info, io.BytesIO(d.flac))
                summary.ok += 1
                summary.clips[d.clip_id] = {"status": "ok", "member": d.member, "bytes": len(d.flac),
                                            "seconds": d.samples / rate}

        pending: set[Future[list[Decoded]]] = set()
        batch: list[tuple[str, str, bytes, float, float | None]] = []

        def submit() -> None:
            nonlocal batch, pending
            if batch:
                pending.add(pool.submit(_decode_batch, batch, rate))
                batch = []
            while len(pending) >= 2 * max(1, workers):  # bounded memory: a few batches at a time
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    for d in fut.result():
                        add(d)

        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="archive") as pool:
            try:
                for member, tar in _stream(archive.path):
                    summary.members += 1
                    if not member.isfile():
                        continue
                    summary.files += 1
                    name = PurePosixPath(member.name).name
                    rows = wanted.get(name)
                    if not rows:
                        continue
                    fh = tar.extractfile(member)
                    data = fh.read() if fh is not None else b""
                    for row in rows:
                        if row.clip_id in summary.clips:
                            continue
                        summary.wanted += 1
                        start, end = ((row.start, row.end) if contains_video
                                      else (0.0, None if row.end is None else row.end - row.start))
                        batch.append((row.clip_id, member.name, data, start, end))
                        summary.clips[row.clip_id] = {"status": "pending"}
                    if len(batch) >= BATCH or sum(len(b[2]) for b in batch) >= _BATCH_BYTES:
                        submit()
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                summary.complete = False
                summary.error = f"{archive.path.name}: {type(exc).__name__}: {exc} (after {summary.members} members)"
                log.warning("%s: archive breaks part-way: %s; keeping the %d clips read before the break",
                            archive.path, summary.error, summary.wanted)
            submit()
            for fut in pending:
                for d in fut.result():
                    add(d)
    offsets = {}
    with tarfile.open(store, "r:") as tar:
        for m in tar.getmembers():
            offsets[m.name] = (m.offset_data, m.size)
    for clip_id, entry in summary.clips.items():
        if entry["status"] == "ok":
            entry["offset"], entry["size"] = offsets[f"{clip_id}.flac"]
    write_json_atomic(index, {"archive": str(archive.path), "key": key, "order": archive.order,
                              "complete": summary.complete, "error": summary.error, "members": summary.members,
                              "sample_rate": rate, "clips": summary.clips})
    return summary


# ----------------------------------------------------------------------------- the shard jobs' view


@dataclass(frozen=True)
class ArchiveEntry:
    """Where a clip's audio is in the archive stores (ok), or why it is not usable."""

    archive: str
    store: Path | None = None
    offset: int = 0
    size: int = 0
    seconds: float | None = None
    status: str = "ok"
    reason: str = ""
    message: str = ""
    member: str = ""


@dataclass(frozen=True)
class ArchiveLookup:
    """Every archive's index of a dataset, for the shard jobs.

    Attributes:
        clips: clip id -> its entry in the earliest archive holding it.
        corrupt: file names of the archives that broke part-way.
    """

    clips: dict[str, ArchiveEntry]
    corrupt: tuple[str, ...]

    def missing_reason(self) -> str | None:
        """The reason for a wanted clip found in no archive when some archive broke, else None."""
        return f"{ARCHIVE_CORRUPT}: {', '.join(self.corrupt)}" if self.corrupt else None


def archive_lookup(cfg: Config, dataset: str) -> ArchiveLookup:
    """Read every archive index of ``dataset`` (the ``archive`` jobs' outputs).

    Raises:
        DataError: an index is missing or unreadable (rerun the archive job).
    """
    clips: dict[str, ArchiveEntry] = {}
    corrupt: list[str] = []
    for archive in list_archives(cfg, dataset):
        store, index = store_paths(cfg.data_dir, dataset, archive.key)
        try:
            raw = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{index}: archive index missing or unreadable ({exc}); rerun its archive job") from None
        if not raw.get("complete", False):
            corrupt.append(archive.path.name)
        for clip_id, e in raw.get("clips", {}).items():
            if clip_id in clips and clips[clip_id].status == "ok":
                continue  # an earlier archive already holds it
            if e.get("status") == "ok":
                clips[clip_id] = ArchiveEntry(archive.path.name, store, int(e["offset"]), int(e["size"]),
                                              e.get("seconds"), member=str(e.get("member", "")))
            elif clip_id not in clips:
                clips[clip_id] = ArchiveEntry(archive.path.name, status=str(e.get("status", "invalid")),
                                          reason=str(e.get("reason", "")), message=str(e.get("message", "")))
    return ArchiveLookup(clips, tuple(corrupt))
