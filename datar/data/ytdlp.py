"""yt-dlp through its Python API (an options dict, never a shell), with error classification.

One call of :func:`fetch` is one attempt at one clip: it downloads the clip's section
(``download_ranges`` + ``force_keyframes_at_cuts``) from an http(s) or YouTube URL, or the
whole file from a ``file://`` URL (those cannot be section-downloaded). yt-dlp's own retries
are switched off: the caller retries with backoff and counts attempts honestly.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from datar.config import DownloadConfig

FailureKind = Literal["unavailable", "retry", "invalid"]

log = logging.getLogger("datar.download")


class FetchFailure(Exception):
    """One attempt at a clip failed.

    Attributes:
        kind: ``unavailable`` (do not retry: gone, private, forbidden), ``retry`` (transient:
            429, 5xx, timeouts, resets, short downloads) or ``invalid`` (not decodable media).
        reason: one line saying why, recorded in the status csv.
    """

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind: FailureKind = kind
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """What one successful yt-dlp call left on disk.

    Attributes:
        path: the downloaded media file.
        sectioned: True if yt-dlp cut the section itself (http/YouTube), False for a whole file.
        duration: the source's full duration in seconds when the extractor knows it.
    """

    path: Path
    sectioned: bool
    duration: float | None


# Order matters: the first pattern that matches decides.
_PATTERNS: tuple[tuple[FailureKind, re.Pattern[str]], ...] = (
    ("retry", re.compile(r"HTTP Error (429|5\d\d)|Too Many Requests|rate.?limit", re.I)),
    ("unavailable", re.compile(
        r"HTTP Error (4\d\d)|Server returned 4\d\d|\b(403|404|410) (Forbidden|Not Found|Gone)|"
        r"private video|video unavailable|is unavailable|not available|has been removed|"
        r"account.*terminated|copyright|sign in to confirm your age|members-only|"
        r"No such file or directory|Unsupported URL|does not exist", re.I)),
    ("invalid", re.compile(
        r"Invalid data found|moov atom not found|does not contain any stream|no audio stream|"
        r"could not find codec|Error while decoding|Requested format is not available",
        re.I)),
    ("retry", re.compile(
        r"timed? ?out|Connection (reset|refused|aborted)|Remote end closed|IncompleteRead|"
        r"ContentTooShort|Did not get any data|Server returned 5\d\d|Temporary failure|"
        r"TransportError|Broken pipe|EOF occurred|ffmpeg exited with code", re.I)),
)


def classify(message: str) -> FailureKind:
    """Classify a yt-dlp or ffmpeg error message.

    404/410/403, private or removed videos -> ``unavailable``; 429, 5xx, timeouts, connection
    resets and incomplete reads -> ``retry``; undecodable data -> ``invalid``. Anything not
    recognised is retried (then recorded as unavailable with its message).
    """
    for kind, pattern in _PATTERNS:
        if pattern.search(message):
            return kind
    return "retry"


def js_runtimes_option(spec: str) -> dict[str, dict[str, str]]:
    """yt-dlp's ``js_runtimes`` option from the config's ``js_runtime`` (``node`` or ``node:/path``)."""
    name, _, path = spec.partition(":")
    return {name.strip().lower(): ({"path": path} if path else {})}


def build_options(dcfg: DownloadConfig, *, outtmpl: str,
                  section: tuple[float, float | None] | None) -> dict[str, Any]:
    """The YoutubeDL options dict for one attempt.

    Args:
        dcfg: ``config.download`` (rate limit, timeout, sleep, cookies, JS runtime).
        outtmpl: yt-dlp output template (inside the clip's scratch directory).
        section: ``(start, end)`` seconds to download (end None = to the end), or None for
            the whole file.
    """
    opts: dict[str, Any] = {
        "outtmpl": outtmpl,
        "format": "bestaudio/best",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "noplaylist": True,
        "overwrites": True,
        "continuedl": False,
        "nopart": False,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "file_access_retries": 0,
        "socket_timeout": dcfg.socket_timeout,
        "enable_file_urls": True,
        "logger": _Logger(),
        # ffmpeg (yt-dlp's section downloader) gets the same network timeout, in microseconds.
        "external_downloader_args": {"ffmpeg_i": ["-rw_timeout", str(int(dcfg.socket_timeout * 1e6))]},
    }
    if section is not None:
        from yt_dlp.utils import download_range_func

        start, end = section
        opts["download_ranges"] = download_range_func(None, [(start, float("inf") if end is None else end)])
        opts["force_keyframes_at_cuts"] = True
    if dcfg.rate_limit:
        opts["ratelimit"] = dcfg.rate_limit
    if dcfg.sleep_interval:
        opts["sleep_interval"] = dcfg.sleep_interval
    if dcfg.cookies:
        opts["cookiefile"] = dcfg.cookies
    if dcfg.js_runtime:
        opts["js_runtimes"] = js_runtimes_option(dcfg.js_runtime)
    return opts


def fetch(url: str, *, out_dir: Path, dcfg: DownloadConfig,
          section: tuple[float, float | None] | None) -> Fetched:
    """One yt-dlp attempt: download ``url`` (or its section) into ``out_dir``.

    Raises:
        FetchFailure: yt-dlp failed (classified), or it reported success without a file.
    """
    import yt_dlp

    out_dir.mkdir(parents=True, exist_ok=True)
    opts = build_options(dcfg, outtmpl=str(out_dir / "source.%(ext)s"), section=section)
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
    except Exception as exc:  # yt-dlp raises DownloadError, but extractors leak others
        msg = _one_line(str(exc))
        raise FetchFailure(classify(msg), msg) from None
    if not info:
        raise FetchFailure("retry", "yt-dlp returned no information")
    paths = [Path(d["filepath"]) for d in info.get("requested_downloads") or [] if d.get("filepath")]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise FetchFailure("retry", "yt-dlp reported success but wrote no file")
    if paths[0].stat().st_size == 0:
        raise FetchFailure("retry", "empty download (0 bytes)")
    dur = info.get("duration")
    return Fetched(path=paths[0], sectioned=section is not None,
                   duration=float(dur) if isinstance(dur, (int, float)) and dur > 0 else None)


def _one_line(msg: str) -> str:
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)  # colour codes
    msg = " ".join(msg.split())
    msg = re.sub(r" \(caused by .*\)$", "", msg)  # the same error again, as a repr
    return msg.removeprefix("ERROR: ")


class _Logger:
    """Routes yt-dlp's messages to ``logging`` (debug), errors included (they are re-raised)."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)
