"""Source csvs of a dataset: a local path, or a URL fetched once into a checked cache.

A source is ``{path: ...}`` (relative to the working directory, i.e. the repo root when
Snakemake runs) or ``{url: ..., sha256: ...}``. URLs (``http``, ``https``, ``file``) are
fetched with ``urllib`` into ``{data_dir}/{dataset}/sources/`` and reused from there; with
a ``sha256`` the bytes are checked on every use, and a mismatch is an error naming the URL
and both hashes.
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
    """

    path: Path
    origin: str
    split: str | None
    sha256: str


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
        ManifestError: the path is missing, the URL cannot be fetched, or the bytes do not
            match the configured ``sha256`` (the message names both hashes).
    """
    if source.path is not None:
        path = Path(source.path)
        if not path.is_file():
            raise ManifestError(f"{where}.path: source csv {source.path} not found (from {Path.cwd()})")
        digest = sha256_file(path)
        _check_sha(source.sha256, digest, source.path)
        return ResolvedSource(path=path, origin=source.path, split=source.split, sha256=digest)
    assert source.url is not None, "schema guarantees url or path"
    dest = cache_dir / cache_name(source.url)
    if dest.is_file():
        digest = sha256_file(dest)
        if source.sha256 is None or digest == source.sha256:
            return ResolvedSource(path=dest, origin=source.url, split=source.split, sha256=digest)
    fetch_url(source.url, dest, timeout=timeout)
    digest = sha256_file(dest)
    try:
        _check_sha(source.sha256, digest, source.url)
    except ManifestError:
        dest.unlink(missing_ok=True)
        raise
    return ResolvedSource(path=dest, origin=source.url, split=source.split, sha256=digest)


def _check_sha(expected: str | None, actual: str, origin: str) -> None:
    if expected is not None and expected.lower() != actual:
        raise ManifestError(
            f"{origin}: sha256 mismatch: config expects {expected.lower()}, the file has {actual}"
        )
