"""One clip from the network: yt-dlp attempts with backoff, ffmpeg to mono FLAC, verification.

Every result is verified (non-empty, decodes, lasts as long as the segment or the rest of the
source): yt-dlp can report success with an empty or truncated file when a server ignores
byte ranges or closes early, and such a result is a retryable failure, never ``ok``.
A clip YouTube refuses to serve (bot check, request limit, no format) is ``blocked`` at once;
one still answered 429 after the last attempt is ``blocked`` too (:mod:`datar.data.failures`).
Local files are not fetched: :mod:`datar.data.local_cut` cuts them in place.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datar.config import Config
from datar.data.clip_status import ClipStatus, Origin
from datar.data.failures import FetchFailure, decode_failure
from datar.data.ffmpeg_audio import FfmpegFailure, convert_to_flac, flac_duration, probe_audio
from datar.data.shard_rows import ClipRow, source_url
from datar.data.ytdlp import fetch, ytdlp_version

log = logging.getLogger("datar.download")

DURATION_TOLERANCE_S = 0.15
"""Absolute slack when comparing a result's duration with the expected one (codec priming)."""
DURATION_TOLERANCE_FRACTION = 0.02
"""Relative slack (of the expected duration) for the same comparison."""


@dataclass(frozen=True)
class ClipJob:
    """What one clip needs: the row, where its FLAC goes, and its scratch directory."""

    row: ClipRow
    flac: Path
    scratch: Path


def _tolerance(expected: float) -> float:
    return max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_FRACTION * expected)


def _attempt(job: ClipJob, cfg: Config, scheme: str, url: str) -> float | None:
    """One attempt; leaves a verified FLAC at ``job.flac`` (returns the source's duration
    when known) or raises FetchFailure."""
    row, rate = job.row, cfg.audio.sample_rate
    shutil.rmtree(job.scratch, ignore_errors=True)  # partial downloads never count
    job.scratch.mkdir(parents=True)
    segment = None if row.end is None else row.end - row.start
    sectioned = row.start > 0 or row.end is not None
    try:
        fetched = fetch(url, out_dir=job.scratch, dcfg=cfg.download,
                        section=(row.start, row.end) if sectioned else None)
    except FetchFailure as fail:
        if fail.kind == "retry" and "ffmpeg exited" in fail.message and scheme != "youtube":
            # yt-dlp's section downloader (ffmpeg) hides why it failed: ask ffprobe.
            raise _explain_ffmpeg_failure(url, cfg.download.socket_timeout, fail) from None
        raise
    source_total = fetched.duration
    tmp_flac = job.scratch / "clip.flac"
    try:
        if fetched.sectioned:
            convert_to_flac(fetched.path, tmp_flac, sample_rate=rate)
        else:
            if source_total is None:
                source_total = probe_audio(fetched.path).duration
            convert_to_flac(fetched.path, tmp_flac, sample_rate=rate, start=row.start or None, duration=segment)
        got = flac_duration(tmp_flac, rate)
    except FfmpegFailure as exc:
        message = exc.message.replace(f"{Path(job.scratch).resolve()}/", "").replace(f"{job.scratch}/", "")
        kind, reason = decode_failure(message)
        raise FetchFailure(kind, reason, message) from None
    if got <= 0:
        raise FetchFailure("retry", "empty result (no audio samples)")
    expected = _expected(segment, row.start, source_total)
    if expected is not None and got < expected - _tolerance(expected):
        if fetched.sectioned and fetched.duration is None:
            # The extractor did not say how long the source is: ask the source itself, so a
            # genuinely short source (validate flags it) is told apart from a cut-off transfer.
            try:
                source_total = probe_audio(url, timeout_s=cfg.download.socket_timeout).duration
            except FfmpegFailure:
                source_total = None
            expected = _expected(segment, row.start, source_total)
        if expected is None or got < expected - _tolerance(expected):
            want = "?" if expected is None else f"{expected:.2f}"
            raise FetchFailure("retry", f"truncated download: got {got:.2f} s of {want} s")
    tmp_flac.replace(job.flac)
    return source_total


def _explain_ffmpeg_failure(url: str, timeout_s: float, fail: FetchFailure) -> FetchFailure:
    """Reclassify an opaque ffmpeg download failure by probing the URL (bad data -> invalid)."""
    try:
        probe_audio(url, timeout_s=timeout_s)
    except FfmpegFailure as exc:
        probed = FetchFailure.of(exc.message)
        return FetchFailure(probed.kind, probed.reason, f"{fail.message}; ffprobe: {exc.message}")
    return fail


def _expected(segment: float | None, start: float, source_total: float | None) -> float | None:
    """Seconds the clip should last: the segment, clipped to what the source holds after start."""
    rest = None if source_total is None else max(source_total - start, 0.0)
    if segment is None:
        return rest
    return segment if rest is None else min(segment, rest)


def fetch_clip(job: ClipJob, cfg: Config, *, sleep: Callable[[float], None] = time.sleep) -> ClipStatus:
    """Download, convert and verify one clip, retrying transient failures with backoff.

    Attempt ``k`` (0-based) that fails transiently (or with 429) is followed by a pause of
    ``backoff_seconds * 2**k``; after ``1 + retries`` attempts the clip is ``unavailable``
    with the last reason, or ``blocked`` if that was a 429. Permanent failures (404, private,
    ...) are not retried, nor is a block (retrying a bot check at once only prolongs it).

    Returns:
        The clip's status (``bytes`` = size of the FLAC when ok). Never raises for a bad clip.
    """
    dcfg = cfg.download
    scheme, url = source_url(job.row.source, allowed=dcfg.allowed_schemes, where=job.row.clip_id)
    origin: Origin = "youtube" if scheme == "youtube" else "http"
    version = ytdlp_version()
    last: FetchFailure | None = None
    attempts = 0

    def status(st: str, reason: str, fail: FetchFailure | None, nbytes: int = 0,
               seconds: float | None = None) -> ClipStatus:
        return ClipStatus(job.row.clip_id, st, reason, attempts, nbytes, origin, seconds,  # type: ignore[arg-type]
                          version, fail.message if fail else "")

    try:
        for k in range(dcfg.retries + 1):
            attempts = k + 1
            try:
                seconds = _attempt(job, cfg, scheme, url)
            except FetchFailure as fail:
                last = fail
                log.info("%s: attempt %d: %s: %s", job.row.clip_id, attempts, fail.kind, fail.message)
                if fail.kind in ("unavailable", "invalid", "blocked"):
                    return status(fail.kind, fail.reason, fail)
                if k < dcfg.retries:
                    sleep(dcfg.backoff_seconds * 2**k)
                continue
            return status("ok", "", None, job.flac.stat().st_size, seconds)
    finally:
        shutil.rmtree(job.scratch, ignore_errors=True)
    assert last is not None
    if last.kind == "throttled":
        return status("blocked", f"{last.reason} after {attempts} attempts", last)
    return status("unavailable", f"gave up after {attempts} attempts: {last.reason}", last)
