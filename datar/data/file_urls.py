"""Local paths as ``file://`` URLs and back, for paths people really have (spaces, non-ASCII).

The manifest stores a local source as a percent-encoded file URL (``file:///data/The%20Black
%20Pearl%201.0/kick.wav``): plain ASCII, no character a shell or a csv reader treats specially.
A user csv may instead give a plain absolute path or a file URL written with the raw
characters; :func:`encode_local_source` turns either into the encoded form. What is refused
is what is unsafe whatever the encoding: control characters (a newline or NUL in a path),
``.`` / ``..`` segments, relative paths and remote hosts. Errors show the encoded form, so
an invisible character is visible in the message.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

# Characters a percent-encoded URL may hold (RFC 3986 unreserved, "%" escapes, delimiters),
# nothing a shell would interpret: the manifest's form of every URL source.
URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#@!&=+,%-]+\Z")


class UnsafePath(ValueError):
    """A local source that is refused; ``str()`` names it in its encoded form."""


def path_to_file_url(path: str | bytes) -> str:
    """The percent-encoded ``file://`` URL of an absolute path (bytes encoded as they are)."""
    raw = os.fsencode(path)
    return "file://" + urllib.parse.quote_from_bytes(raw, safe="/")


def file_url_to_path(url: str) -> Path:
    """The local path a ``file://`` URL names (percent escapes decoded as bytes, not UTF-8 text)."""
    parts = urllib.parse.urlsplit(url)
    return Path(os.fsdecode(urllib.parse.unquote_to_bytes(parts.path)))


def encode_local_source(value: str) -> str | None:
    """A user csv's local source as the manifest's encoded file URL, or None if not local.

    ``/abs/path`` and ``file:///abs/path`` holding characters outside :data:`URL_CHARS`
    (spaces, non-ASCII, quotes, ...) are taken literally and encoded; a file URL of URL
    characters only is taken as already encoded and returned as it is.

    Raises:
        UnsafePath: control characters, ``.``/``..`` segments, a relative path or a host.
    """
    if value.startswith("/"):
        literal = value
    elif value[:7].lower() == "file://":
        if URL_CHARS.match(value):
            check_file_url(value)
            return value
        rest = value[7:]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost"):]
        if not rest.startswith("/"):
            raise UnsafePath(f"{_shown(value)}: a file URL needs an absolute local path (file:///...)")
        literal = rest
    elif value[:5].lower() == "file:":
        raise UnsafePath(f"{_shown(value)}: a file URL needs an absolute local path (file:///...)")
    else:
        return None
    url = path_to_file_url(literal)
    if not all(ch.isprintable() for ch in literal):
        raise UnsafePath(f"{url}: control characters are not allowed in a path")
    check_file_url(url)
    return url


def check_file_url(url: str) -> None:
    """Refuse a percent-encoded file URL that is remote, relative, or escapes its directory.

    Raises:
        UnsafePath: the reason, naming the URL.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise UnsafePath(f"{url}: a file URL needs an absolute local path (file:///...)")
    decoded = urllib.parse.unquote_to_bytes(parts.path)
    segments = decoded.split(b"/")
    if b".." in segments or b"." in segments:
        raise UnsafePath(f"{url}: '..' or '.' path segments are not allowed")
    if any(b < 0x20 or b == 0x7F for b in decoded):
        raise UnsafePath(f"{url}: control characters are not allowed in a path")


def _shown(value: str) -> str:
    """``value`` with everything outside URL characters percent-encoded (for messages)."""
    return urllib.parse.quote(value, safe=":/?#@!&=+,%~")
