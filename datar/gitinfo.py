"""The state of the code that is running: commit, uncommitted changes to it, and a hash of them.

Recorded in every run (``env.json``, the checkpoint, ``metrics.json``), every table's
provenance and the report's front page, so a number made with local edits never passes for
the clean commit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Changed paths listed in a record (the hash covers all of them).
MAX_LISTED = 20

#: What "the code" is: the paths of the checkout whose edits change what the pipeline computes.
#: Data, results, dvc.lock and configs (recorded by their own hashes) are not code: an
#: untracked results/metrics/ or a new config file does not make a run "dirty".
CODE_PATHS = ("datar", "workflow", "Snakefile", "pyproject.toml", "scripts")


@dataclass(frozen=True)
class CodeState:
    """Where the running code comes from.

    Attributes:
        commit: ``git rev-parse HEAD``, None outside a git checkout.
        dirty: whether files under :data:`CODE_PATHS` differ from ``commit`` or untracked (not
            ignored) files exist there; None outside a git checkout.
        diff_sha256: SHA-256 of ``git diff HEAD --binary`` plus the path and content of each
            untracked file; None when clean. Equal hashes mean the same edits.
        changed: the changed or untracked paths (at most :data:`MAX_LISTED`).
        fingerprint: the code fingerprint of the verb or package (:mod:`datar.fingerprint`).
    """

    commit: str | None
    dirty: bool | None = None
    diff_sha256: str | None = None
    changed: tuple[str, ...] = ()
    fingerprint: str | None = None

    def label(self) -> str:
        """``<commit>`` or ``<commit> + uncommitted changes (diff <hash12>)``."""
        if self.commit is None:
            return "not a git checkout"
        if self.dirty:
            return f"{self.commit} + uncommitted changes (diff {(self.diff_sha256 or '?')[:12]})"
        return self.commit

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written into runs and metrics."""
        return {"commit": self.commit, "dirty": self.dirty, "diff_sha256": self.diff_sha256,
                "changed": list(self.changed), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, raw: Any) -> CodeState | None:
        """Read :meth:`as_dict`'s form back (None for anything else)."""
        if not isinstance(raw, dict):
            return None
        return cls(commit=raw.get("commit"), dirty=raw.get("dirty"), diff_sha256=raw.get("diff_sha256"),
                   changed=tuple(raw.get("changed") or ()), fingerprint=raw.get("fingerprint"))


def _git(args: list[str], where: Path) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(["git", *args], cwd=where, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _where(cwd: str | os.PathLike[str] | None) -> Path:
    return Path(cwd) if cwd is not None else Path(__file__).resolve().parent


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding the ``datar`` package (or ``cwd``).

    The package's own checkout, not the working directory: Snakemake runs jobs in a workdir
    that is usually not a git repository. None outside a git checkout.
    """
    out = _git(["rev-parse", "HEAD"], _where(cwd))
    commit = out.stdout.decode().strip() if out is not None else ""
    return commit if out is not None and out.returncode == 0 and commit else None


def code_state(cwd: str | os.PathLike[str] | None = None, *, fingerprint: str | None = None) -> CodeState:
    """The commit of the package's checkout and whether (and how) its tree differs from it."""
    where = _where(cwd)
    commit = git_commit(where)
    if commit is None:
        return CodeState(commit=None, fingerprint=fingerprint)
    top = _git(["rev-parse", "--show-toplevel"], where)
    root = Path(top.stdout.decode().strip()) if top is not None and top.returncode == 0 else where
    status = _git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *CODE_PATHS], root)
    if status is None or status.returncode != 0:
        return CodeState(commit=commit, fingerprint=fingerprint)
    entries = [e for e in status.stdout.decode(errors="replace").split("\0") if e]
    changed: list[str] = []
    untracked: list[str] = []
    skip_next = False
    for entry in entries:
        if skip_next:  # the source path of a rename
            skip_next = False
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            skip_next = True
        changed.append(path)
        if code == "??":
            untracked.append(path)
    if not changed:
        return CodeState(commit=commit, dirty=False, fingerprint=fingerprint)
    h = hashlib.sha256()
    diff = _git(["diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--", *CODE_PATHS], root)
    h.update(diff.stdout if diff is not None else b"")
    for path in sorted(untracked):
        h.update(b"\0untracked\0" + path.encode() + b"\0")
        try:
            h.update(hashlib.sha256((root / path).read_bytes()).digest())
        except OSError:
            h.update(b"unreadable")
    return CodeState(commit=commit, dirty=True, diff_sha256=h.hexdigest(), changed=tuple(sorted(changed)[:MAX_LISTED]),
                     fingerprint=fingerprint)
