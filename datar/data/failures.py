"""Why a clip could not be fetched: the kind of failure and a short reason, from one message.

yt-dlp and ffmpeg explain a failure in one line of free text. One ordered table of rules
turns it into a *kind* (what to do next) and a short *reason* for the reports (no absolute
paths, no URLs, a few words); the raw message is kept beside it in the status csv.

Kinds:

- ``blocked``: YouTube refused the downloader ("Sign in to confirm you're not a bot", "This
  content isn't available, try again later ... rate-limited", a captcha, no downloadable
  format). It says nothing about whether the video exists: not retried now, not dead.
- ``throttled``: HTTP 429. Retried with backoff; still 429 after the last attempt =
  ``blocked``.
- ``unavailable``: the source is gone, private, forbidden or missing (do not retry).
- ``invalid``: the media cannot be decoded.
- ``retry``: transient (5xx, timeouts, resets, short downloads); after the last attempt the
  clip is recorded ``unavailable`` with the reason.

Order matters: the first rule that matches decides. YouTube's rate-limit answer begins with
"Video unavailable." and "Requested format is not available" contains "not available", so
the blocking rules come before the dead-link ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FailureKind = Literal["blocked", "throttled", "unavailable", "invalid", "retry"]

MAX_REASON_CHARS = 120


class FetchFailure(Exception):
    """One attempt at a clip failed.

    Attributes:
        kind: what to do next (see the module docstring).
        reason: a short reason for the reports (no paths, no URLs).
        message: the raw one-line message it came from (kept in the status csv).
    """

    def __init__(self, kind: FailureKind, reason: str, message: str = "") -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind: FailureKind = kind
        self.reason = reason
        self.message = message or reason

    @classmethod
    def of(cls, message: str, *, prefix: str = "") -> FetchFailure:
        """The failure a raw message describes (kind and short reason from :func:`describe`)."""
        kind, reason = describe(message)
        return cls(kind, prefix + reason, message)


@dataclass(frozen=True)
class _Rule:
    kind: FailureKind
    pattern: re.Pattern[str]
    label: str  # "{0}" = the whole match, "{1}" = its first group


def _rule(kind: FailureKind, pattern: str, label: str) -> _Rule:
    return _Rule(kind, re.compile(pattern, re.I), label)


_RULES: tuple[_Rule, ...] = (
    _rule("blocked", r"confirm you(?:'|\u2019)?re not a bot", "bot check (sign in to confirm you're not a bot)"),
    _rule("blocked", r"content isn.?t available, try again later|rate-limited by YouTube|"
          r"hit the request limit", "request limit (session rate-limited by YouTube)"),
    _rule("blocked", r"captcha", "captcha challenge"),
    _rule("blocked", r"Requested format is not available|No video formats found",
          "no downloadable format (update yt-dlp; set download.js_runtime)"),
    _rule("blocked", r"unable to download video data: HTTP Error 403", "HTTP 403 on the media stream"),
    _rule("throttled", r"HTTP Error 429|Server returned 429|Too Many Requests", "HTTP 429 (too many requests)"),
    _rule("retry", r"HTTP Error (5\d\d)|Server returned (5\d\d)", "HTTP {1}"),
    _rule("unavailable", r"HTTP Error (4\d\d)|Server returned (4\d\d)", "HTTP {1}"),
    _rule("unavailable", r"\b(403|404|410) (?:Forbidden|Not Found|Gone)", "HTTP {1}"),
    _rule("unavailable", r"private video", "private video"),
    _rule("unavailable", r"has been removed|removed by the uploader", "video removed"),
    _rule("unavailable", r"account.*terminated", "account terminated"),
    _rule("unavailable", r"copyright", "copyright claim"),
    _rule("unavailable", r"sign in to confirm your age|age-restricted", "age-restricted (needs download.cookies)"),
    _rule("unavailable", r"members-only|join this channel", "members-only"),
    _rule("unavailable", r"No such file or directory|file missing", "file missing"),
    _rule("unavailable", r"Unsupported URL", "unsupported URL"),
    _rule("unavailable", r"video unavailable|is unavailable|not available|does not exist", "video unavailable"),
    _rule("invalid", r"Invalid data found when processing input|moov atom not found|does not contain any stream|"
          r"no audio stream|matches no streams|could not find codec[^:]*|Error while decoding[^:]*",
          "undecodable: {0}"),
    _rule("retry", r"timed? ?out", "timed out"),
    _rule("retry", r"Connection reset|ConnectionResetError", "connection reset"),
    _rule("retry", r"Connection (refused|aborted)", "connection {1}"),
    _rule("retry", r"Remote end closed|Broken pipe|EOF occurred", "connection closed"),
    _rule("retry", r"IncompleteRead|ContentTooShort|Did not get any data", "incomplete transfer"),
    _rule("retry", r"Temporary failure|TransportError", "network error"),
    _rule("retry", r"ffmpeg exited with code", "ffmpeg failed"),
)

# An absolute path or file URL: reasons keep only its last component.
_PATH = re.compile(r"(?:file://)?/(?:[^\s'\"/:]+/)+([^\s'\"/:]*)")
_URL = re.compile(r"https?://\S+")


def classify(message: str) -> FailureKind:
    """The kind of failure ``message`` describes (``retry`` when nothing matches)."""
    return describe(message)[0]


def describe(message: str) -> tuple[FailureKind, str]:
    """``(kind, short reason)`` for a raw yt-dlp / ffmpeg message.

    Unrecognised messages are ``retry`` with the message itself, paths cut to their last
    component and URLs removed, at most :data:`MAX_REASON_CHARS` characters.
    """
    for rule in _RULES:
        m = rule.pattern.search(message)
        if m:
            groups = [g for g in m.groups() if g is not None]
            return rule.kind, rule.label.format(m.group(0), groups[0] if groups else m.group(0))
    return "retry", short_text(message)


def short_text(message: str) -> str:
    """``message`` on one line, without absolute paths or URLs, cut to MAX_REASON_CHARS."""
    text = " ".join(_URL.sub("<url>", _PATH.sub(r"\1", message)).split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def decode_failure(message: str) -> tuple[FailureKind, str]:
    """``(kind, reason)`` for ffmpeg failing on media: ``unavailable`` for a missing file,
    else ``invalid`` with ``"undecodable: ..."``."""
    kind, reason = describe(message)
    if kind == "unavailable":
        return kind, reason
    return "invalid", reason if reason.startswith("undecodable") else f"undecodable: {reason}"
