"""Source csvs of a dataset: a local path, or a URL fetched once into a checked cache.

A source is ``{path: ...}`` (relative to the working directory, i.e. the repo root when
Snakemake runs) or ``{url: ..., mirrors: [...], sha256: ...}``. URLs (``http``, ``https``,
``file``) are fetched with ``urllib`` into ``{data_dir}/{dataset}/sources/`` and reused from
there. The URL is tried first, then each mirror in order, until one answers with the pinned
bytes: with a ``sha256`` every copy is checked, one of another hash is refused with a line
naming the dataset, the URL and both hashes; without one, the hash of what was fetched is
recorded (``shards.json``, ``version.json``) and printed with how to pin it. A source none
of whose URLs can be fetched is an error naming the config key and suggesting ``path:`` to a
local copy (lists disappear: VGGSound's own site no longer serves its csv).
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from datar.config import SourceConfig
from datar.errors import ManifestError
from datar.io import atomic_write, sha256_file

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ResolvedSource:
    """A source csv available on local disk.

    Attributes:
        path: the local file to parse.
        origin: what to call it in messages (the URL, or the configured path).
        split: the configured split that overrides the file's own, if any.
        sha256: hex SHA-256 of the file's bytes (recorded in ``shards.json``).
        fetched_from: the URL that delivered the bytes (a mirror, maybe), None for a path.
        pinned: whether the config pins ``sha256``.
    """

    path: Path
    origin: str
    split: str | None
    sha256: str
    fetched_from: str | None = None
    pinned: bool = False

    def pin_hint(self, where: str) -> str | None:
        """How to pin an unpinned source (None when pinned)."""
        if self.pinned:
            return None
        got = f" (fetched from {self.fetched_from})" if self.fetched_from else ""
        return (f"{where}: {self.origin}{got} has sha256 {self.sha256}; to pin this exact list, add "
                f"sha256: {self.sha256} to {where}")


def cache_name(url: str) -> str:
    """File name of ``url`` in the source cache: a URL hash plus a readable base name."""
    base = Path(urllib.parse.urlsplit(url).path).name or "source"
    base = _SAFE_NAME.sub("_", base).lstrip(".")[:80] or "source"
    return f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{base}"


def fetch_url(url: str, dest: Path, *, timeout: float) -> None:
    """Download ``url`` to ``dest`` atomically.

    Raises:
        ManifestError: the URL cannot be fetched (names the URL and the reason).
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in {"http", "https", "file"}:
        raise ManifestError(f"{url}: source URL scheme {scheme!r} not supported (http, https, file)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_write(dest) as tmp:  # noqa: S310 (scheme checked)
            with open(tmp, "wb") as fh:
                while block := resp.read(1 << 20):
                    fh.write(block)
    except urllib.error.HTTPError as exc:
        raise ManifestError(f"{url}: cannot fetch source csv: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ManifestError(f"{url}: cannot fetch source csv: {reason}") from None


def resolve_source(
    source: SourceConfig, *, cache_dir: Path, timeout: float, where: str
) -> ResolvedSource:
    """Make one configured source available locally and check its checksum.

    Args:
        source: the configured source (exactly one of ``url`` / ``path``).
        cache_dir: where fetched URLs are cached (``{data_dir}/{dataset}/sources``).
        timeout: socket timeout in seconds for fetching.
        where: the config key of this source, for messages (``datasets.x.sources[0]``).

    Returns:
        The local file, its origin, configured split and SHA-256.

    Raises:
        ManifestError: the path is missing, no URL can be fetched, or every copy fetched has
            another hash than the configured ``sha256`` (the message names both hashes).
    """
    pinned = source.sha256.lower() if source.sha256 else None
    if source.path is not None:
        path = Path(source.path)
        if not path.is_file():
            raise ManifestError(f"{where}.path: source csv {source.path} not found (from {Path.cwd()})")
        digest = sha256_file(path)
        if pinned is not None and digest != pinned:
            raise ManifestError(f"{where}: {source.path} has sha256 {digest}, but the config pins {pinned}: refused")
        return ResolvedSource(path=path, origin=source.path, split=source.split, sha256=digest,
                              pinned=pinned is not None)
    assert source.url is not None, "schema guarantees url or path"
    dest = cache_dir / cache_name(source.url)
    if dest.is_file():
        digest = sha256_file(dest)
        if pinned is None or digest == pinned:
            return ResolvedSource(path=dest, origin=source.url, split=source.split, sha256=digest,
                                  fetched_from=source.url, pinned=pinned is not None)
    failures: list[str] = []
    mismatch: tuple[str, str] | None = None
    for url in (source.url, *source.mirrors):
        try:
            fetch_url(url, dest, timeout=timeout)
        except ManifestError as exc:
            failures.append(str(exc))
            continue
        digest = sha256_file(dest)
        if pinned is not None and digest != pinned:
            dest.unlink(missing_ok=True)
            mismatch = mismatch or (url, digest)
            failures.append(f"{url}: sha256 {digest}, not the pinned {pinned}")
            continue
        return ResolvedSource(path=dest, origin=source.url, split=source.split, sha256=digest, fetched_from=url,
                              pinned=pinned is not None)
    if mismatch is not None:
        url, digest = mismatch
        raise ManifestError(f"{where}: {url} has sha256 {digest}, but the config pins {pinned}: refused "
                            f"(another version of the list{'; every mirror tried' if source.mirrors else ''})")
    tried = "; ".join(failures)
    raise ManifestError(f"{where}: no copy could be fetched ({tried}); download the csv yourself and set "
                        f"{where}.path to the local file (with sha256: to pin it)")
