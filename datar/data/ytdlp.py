"""yt-dlp through its Python API (an options dict, never a shell): one network fetch attempt.

One call of :func:`fetch` is one attempt at one clip: it downloads the clip's section
(``download_ranges`` + ``force_keyframes_at_cuts``) from an http(s) or YouTube URL. Local
files never come here: they are cut in place (:mod:`datar.data.local_cut`). yt-dlp's own
retries are switched off: the caller retries with backoff and counts attempts honestly.
Failures are classified by :mod:`datar.data.failures`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datar.config import DownloadConfig
from datar.data.failures import FetchFailure, classify  # noqa: F401 (classify: re-exported)

log = logging.getLogger("datar.download")


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
        raise FetchFailure.of(_one_line(str(exc))) from None
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


def ytdlp_version() -> str:
    """The installed yt-dlp's version (recorded with every clip it fetched)."""
    from yt_dlp.version import __version__

    return str(__version__)
