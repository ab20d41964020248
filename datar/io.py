"""Small file helpers shared by every stage: atomic writes and checksums."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    killed or failed job never leaves a partial output that looks complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Return the hex digest (``sha256``, ``md5``, ...) of a file's bytes, read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return file_digest(path, "sha256")


def read_json_object(path: str | os.PathLike[str], *, missing: str = "not found") -> dict[str, Any]:
    """Parse the JSON object in ``path``; raise DataError naming the file otherwise.

    Args:
        path: the file.
        missing: the message for a missing file (say which stage makes it).
    """
    from datar.errors import DataError

    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{p}: {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{p}: expected a JSON object")
    return obj


def read_yaml(path: str | os.PathLike[str], *, what: str, error: type[Exception]) -> Any:
    """Parse the YAML file ``path``; a missing or malformed file raises ``error`` naming it.

    Args:
        path: the file.
        what: how to call it in the message ("config file", "paper numbers file").
        error: the DatarError subclass to raise.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: {what} not found")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{p}: not valid YAML: {exc}") from None


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def shared_path(path: str | os.PathLike[str]) -> str:
    """``path`` as it may appear in an output others read: never an absolute path of this machine.

    Relative to the working directory when under it, else to the repository holding the
    ``datar`` package, else just the file's name.
    """
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    p = p.resolve()
    for root in (Path.cwd().resolve(), Path(__file__).resolve().parent.parent):
        if p.is_relative_to(root):
            return p.relative_to(root).as_posix()
    return p.name
