"""Where a clip's audio comes from: a local file (cut in place) or the network (yt-dlp).

Two kinds of local file:

- a manifest source that is a ``file://`` URL (EPIC's ``video_source``, a user csv's
  paths, the demo corpus): the whole source, cut at the row's ``start`` / ``end``;
- a copy the reviewer already holds, found through ``datasets.D.local_source``: a
  file-URL template filled from the row (``{youtube_id}``, ``{start}``, ``{end}``,
  ``{clip_id}``, with format specs; ``start`` / ``end`` are ints when whole, so
  ``{start:06d}`` works). ``contains: clip`` = the file holds just the segment (read from
  its start, for the segment's length); ``contains: video`` = the whole source video (cut
  at ``start`` / ``end``). A clip missing from the copy is fetched from its manifest source
  (``fallback: youtube``) or recorded ``unavailable: not in local copy`` (``fallback: none``).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from datar.config import LocalSourceConfig
from datar.data.file_urls import file_url_to_path
from datar.data.rows import YOUTUBE_ID
from datar.data.shard_rows import ClipRow
from datar.errors import ConfigError

NOT_IN_LOCAL_COPY = "not in local copy"
FILE_MISSING = "file missing"


@dataclass(frozen=True)
class LocalClip:
    """A clip to cut from a local file.

    Attributes:
        path: the file.
        start: seconds into the file where the clip starts.
        end: seconds into the file where it ends (None = the end of the file).
    """

    path: Path
    start: float
    end: float | None
    place: str = ""


@dataclass(frozen=True)
class Missing:
    """A clip whose local file does not exist: recorded ``unavailable`` with ``reason``."""

    reason: str
    message: str


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def fill_template(template: str, row: ClipRow, *, where: str) -> str:
    """The local-source template filled for ``row``.

    Raises:
        ConfigError: the template cannot be formatted for this row (names ``where``, the
            manifest line and the clip).
    """
    fields: dict[str, object] = {"start": _number(row.start), "clip_id": row.clip_id}
    if YOUTUBE_ID.match(row.source):
        fields["youtube_id"] = row.source
    if row.end is not None:
        fields["end"] = _number(row.end)
    try:
        return template.format(**fields)
    except KeyError as exc:
        why = {"'youtube_id'": f"source {row.source!r} is not a YouTube id", "'end'": "the row has no end"}
        raise ConfigError(f"{where}: cannot fill {template!r} for manifest line {row.line} (clip {row.clip_id}): "
                          f"{why.get(str(exc), f'no field {exc}')}") from None
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ConfigError(f"{where}: cannot fill {template!r} for manifest line {row.line} (clip {row.clip_id}, "
                          f"start {row.start:g}, end {'' if row.end is None else f'{row.end:g}'}): {exc}") from None


def template_path(filled: str) -> Path:
    """The path a filled template names (a file URL, percent-encoded, or a plain path)."""
    return file_url_to_path(filled) if filled.startswith("file://") else Path(filled)


def place_label(template: str) -> str:
    """A short name of one place of a local copy: the template's folder, relative to the work
    dir or the repository when under one, else its last two folders (``…/k400/replacement/``):
    never an absolute path of this machine (the availability report is shared)."""
    from datar.io import shared_path

    head = template.split("{", 1)[0]
    if head.startswith("file://"):
        head = urllib.parse.unquote(head[len("file://"):])
    if "/" not in head:
        return head or template
    folder = Path(head.rsplit("/", 1)[0])
    rel = shared_path(folder)
    if folder.is_absolute() and rel == folder.name and len(folder.parts) > 2:
        rel = "…/" + "/".join(folder.parts[-2:])
    return rel.rstrip("/") + "/"


@dataclass(frozen=True)
class Archived:
    """A clip whose FLAC an ``archive`` job wrote into an archive's audio store (:mod:`datar.data.archives`)."""

    store: Path
    offset: int
    size: int
    place: str
    seconds: float | None = None
    member: str = ""


@dataclass(frozen=True)
class Unusable:
    """A clip an archive held but that could not be decoded (recorded ``invalid``)."""

    status: str
    reason: str
    message: str
    place: str


def locate(row: ClipRow, *, scheme: str, url: str, local_source: LocalSourceConfig | None,
           where: str, archives=None) -> LocalClip | Missing | Archived | Unusable | None:  # noqa: ANN001
    """Where ``row``'s audio is read from: a local file, an archive store, a missing one, or None (the network).

    Args:
        row: the manifest row.
        scheme: its source's scheme (``file``, ``youtube``, ``http``, ``https``).
        url: its source as a URL.
        local_source: ``datasets.D.local_source`` (None: no local copy).
        where: the template's config key, for errors.
        archives: the dataset's :class:`datar.data.archives.ArchiveLookup` when it has archives.

    Raises:
        ConfigError: the template cannot be filled for this row.
    """
    if scheme == "file":
        path = file_url_to_path(url)
        if not path.is_file():
            return Missing(FILE_MISSING, f"{path}: No such file or directory")
        return LocalClip(path, row.start, row.end)
    if local_source is None:
        return None
    if archives is not None:
        found = archives.clips.get(row.clip_id)
        if found is not None and found.status == "ok":
            return Archived(found.store, found.offset, found.size, found.archive, found.seconds, found.member)
        if found is not None:
            return Unusable(found.status, found.reason, found.message, found.archive)
        corrupt = archives.missing_reason()
        if corrupt is not None:
            return Missing(corrupt, f"{row.clip_id}: not found in the readable part of the archives; {corrupt}")
    else:
        tried = []
        for template in local_source.templates:
            path = template_path(fill_template(template, row, where=where))
            if path.is_file():
                place = place_label(template) if len(local_source.templates) > 1 else ""
                if local_source.contains == "video":
                    return LocalClip(path, row.start, row.end, place)
                return LocalClip(path, 0.0, None if row.end is None else row.end - row.start, place)
            tried.append(str(path))
    if local_source.fallback == "none":
        what = "the archives" if archives is not None else ", ".join(tried)
        return Missing(NOT_IN_LOCAL_COPY, f"{row.clip_id}: not in the local copy ({what}; datasets.D.local_source, "
                                          "fallback: none)")
    return None
