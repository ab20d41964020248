"""The validate stage for one shard: fully decode every clip and check it -> ``{S}.valid.csv``.

Separate from download so thresholds can change without re-downloading. For each row of
``{S}.status.csv``: unavailable / invalid / blocked clips are carried over (blocked = not
known yet); ok clips are decoded in full by ffmpeg (float PCM in memory) and checked for an
audio stream, the configured sample rate, one channel, at least one fbank frame, a duration
of at least ``validate.min_duration_fraction`` of the segment, and silence (RMS below
``validate.silence_dbfs``). The segment is ``end - start``; a row without ``end`` runs to
the end of its source, so it is compared with what the source holds after ``start`` (the
status csv's ``source_seconds``), and not checked for length when that is unknown.
"""

from __future__ import annotations

import csv
import math
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datar.config import Config
from datar.data.clip_status import Status, read_status_csv
from datar.data.failures import decode_failure
from datar.data.ffmpeg_audio import FfmpegFailure, decode_pcm, probe_audio
from datar.data.shard_rows import ClipRow, read_shard_rows
from datar.errors import DataError
from datar.io import atomic_write
from datar.runs import clip_file, manifest_csv

VALID_COLUMNS: tuple[str, ...] = ("clip_id", "status", "reason", "duration", "sample_rate", "channels", "rms_dbfs")


@dataclass(frozen=True)
class ClipCheck:
    """One row of the valid csv; measurements are None when not measured."""

    clip_id: str
    status: Status
    reason: str
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    rms_dbfs: float | None = None


def rms_dbfs(pcm: np.ndarray) -> float:
    """RMS level of float PCM (full scale = 1.0) in dBFS; ``-inf`` for digital silence."""
    if pcm.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else float("-inf")


def expected_seconds(row: ClipRow, source_seconds: float | None) -> float | None:
    """Seconds a clip should last: ``end - start``, or the rest of its source (None if unknown)."""
    if row.end is not None:
        return row.end - row.start
    return None if source_seconds is None else max(source_seconds - row.start, 0.0)


def check_clip(path: Path, *, clip_id: str, segment: float | None, cfg: Config) -> ClipCheck:
    """Decode ``path`` in full and check it against the config's thresholds.

    Args:
        path: the clip's audio file.
        clip_id: its id (for the row).
        segment: the length in seconds the clip should cover (None: not checked).
        cfg: the config (``audio.sample_rate``, ``fbank.frame_length_ms``, ``validate.*``).
    """
    try:
        info = probe_audio(path)
        # native rate and channels: the checks are on the file as stored
        pcm = decode_pcm(path, channels=max(info.channels, 1))
    except FfmpegFailure as exc:
        return ClipCheck(clip_id, "invalid", decode_failure(exc.message)[1])
    rate, channels = info.sample_rate, pcm.shape[1] if pcm.ndim == 2 else 0
    duration = len(pcm) / rate if rate > 0 else 0.0
    level = rms_dbfs(pcm)
    measured = dict(duration=round(duration, 4), sample_rate=rate, channels=channels,
                    rms_dbfs=round(level, 2) if math.isfinite(level) else level)
    want_rate, vcfg = cfg.audio.sample_rate, cfg.validate
    problems: list[str] = []
    if len(pcm) == 0:
        problems.append("no audio samples")
    if rate != want_rate:
        problems.append(f"sample rate {rate} Hz, expected {want_rate} Hz")
    if channels != 1:
        problems.append(f"{channels} channels, expected 1")
    frame_s = cfg.fbank.frame_length_ms / 1000.0
    if len(pcm) and duration < frame_s:
        problems.append(f"too short: {duration * 1000:.1f} ms < one fbank frame ({frame_s * 1000:g} ms)")
    elif len(pcm) and segment is not None and duration < vcfg.min_duration_fraction * segment:
        problems.append(f"too short: {duration:.2f} s < {vcfg.min_duration_fraction:g} x {segment:.2f} s")
    if len(pcm) and level < vcfg.silence_dbfs:
        problems.append(f"silent: RMS {level:.1f} dBFS < {vcfg.silence_dbfs:g} dBFS")
    if problems:
        return ClipCheck(clip_id, "invalid", "; ".join(problems), **measured)  # type: ignore[arg-type]
    return ClipCheck(clip_id, "ok", "", **measured)  # type: ignore[arg-type]


def validate_shard(cfg: Config, dataset: str, shard: str) -> list[ClipCheck]:
    """Check every clip of ``shard`` and write ``{data_dir}/{D}/clips/{S}.valid.csv``.

    Raises:
        ConfigError: ``dataset`` is not in the config.
        ManifestError: the manifest is missing or the shard has no rows.
        DataError: the status csv or tar is missing, or an ok clip has no member in the tar.
    """
    cfg.dataset(dataset)
    tar_path = Path(clip_file(cfg.data_dir, dataset, shard, "tar"))
    status_path = Path(clip_file(cfg.data_dir, dataset, shard, "status.csv"))
    statuses = read_status_csv(status_path)
    manifest = Path(manifest_csv(cfg.data_dir, dataset))
    rows: dict[str, ClipRow] = {
        r.clip_id: r for r in read_shard_rows(manifest, shard, allowed_schemes=cfg.download.allowed_schemes)
    }
    if not tar_path.is_file():
        raise DataError(f"{tar_path}: shard tar not found (run `download` for this shard first)")
    out: list[ClipCheck] = []
    with tarfile.open(tar_path, "r:") as tar, tempfile.TemporaryDirectory(prefix="datar-validate-") as tmp:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        for st in statuses:
            if st.status != "ok":
                out.append(ClipCheck(st.clip_id, st.status, st.reason))
                continue
            row = rows.get(st.clip_id)
            if row is None:
                raise DataError(f"{status_path}: clip {st.clip_id!r} is not in shard {shard} of the manifest")
            member = members.get(f"{st.clip_id}.flac")
            fh = tar.extractfile(member) if member is not None else None
            if fh is None:
                raise DataError(f"{tar_path}: no member {st.clip_id}.flac, but {status_path.name} says ok")
            local = Path(tmp) / f"{st.clip_id}.flac"
            local.write_bytes(fh.read())
            out.append(check_clip(local, clip_id=st.clip_id, segment=expected_seconds(row, st.source_seconds),
                                  cfg=cfg))
            local.unlink()
    write_valid_csv(Path(clip_file(cfg.data_dir, dataset, shard, "valid.csv")), out)
    return out


def _fmt(x: float | int | None) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return str(x)


def write_valid_csv(path: str | os.PathLike[str], rows: list[ClipCheck]) -> None:
    """Write the valid csv atomically (empty cells for what was not measured)."""
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(VALID_COLUMNS)
        for r in rows:
            w.writerow([r.clip_id, r.status, r.reason, _fmt(r.duration), _fmt(r.sample_rate),
                        _fmt(r.channels), _fmt(r.rms_dbfs)])
