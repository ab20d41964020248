"""Are the files in the workspace the ones ``dvc.lock`` names? Re-hash them and say which not.

DVC's own status trusts its state database (inode, mtime, size); this re-reads every byte, so
a file corrupted in the remote or the cache before a pull, or edited after it, is named.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from datar.errors import DataError
from datar.io import file_digest
from datar.versioning.dvcrepo import DvcRepo, LockOut

# Patterns of .dvcignore: transient files inside directory outputs.
TRANSIENT = (".work", ".*.tmp")


@dataclass(frozen=True)
class Mismatch:
    """A file that is not what ``dvc.lock`` says.

    Attributes:
        path: the file, relative to the repo root.
        stage: the stage whose output it belongs to.
        kind: ``missing``, ``modified`` or ``untracked``.
        detail: the hashes, or what to do.
    """

    path: str
    stage: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path} ({self.stage}): {self.kind}: {self.detail}"


def md5_file(path: Path) -> str:
    """The hex MD5 of a file's bytes (DVC 3's ``hash: md5``)."""
    return file_digest(path, "md5")


def _transient(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in TRANSIENT)


def _check_file(path: Path, rel: str, expected: str, stage: str) -> Mismatch | None:
    if not path.is_file():
        return Mismatch(rel, stage, "missing", f"not in the workspace; `dvc pull {stage}`")
    got = md5_file(path)
    if got != expected:
        return Mismatch(rel, stage, "modified",
                        f"md5 {got}, dvc.lock says {expected}: corrupt in the remote or cache, or edited "
                        f"after the pull; delete it and its cache object, then `dvc pull {stage}`")
    return None


def _in_git(root: Path, rel: str) -> bool:
    """Whether git tracks files under ``rel`` unchanged (``cache: false`` outputs live in git)."""
    import subprocess

    try:
        listed = subprocess.run(["git", "ls-files", "--", rel], cwd=root, capture_output=True, text=True,
                                timeout=30, check=False)
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=root, capture_output=True,
                                 timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and bool(listed.stdout.strip()) and changed.returncode == 0


def verify_out(repo: DvcRepo, out: LockOut) -> list[Mismatch]:
    """Re-hash one output (every file of a directory output) against ``dvc.lock``."""
    path = repo.root / out.path
    if not out.is_dir:
        m = _check_file(path, out.path, out.md5, out.stage)
        return [m] if m else []
    if not path.is_dir():
        return [Mismatch(out.path, out.stage, "missing", f"directory not in the workspace; `dvc pull {out.stage}`")]
    try:
        entries = repo.dir_manifest(out.md5)
    except DataError as exc:
        if _in_git(repo.root, out.path):  # a `cache: false` output (metrics, plots): git keeps it
            return []
        return [Mismatch(out.path, out.stage, "missing", str(exc))]
    problems = []
    listed = set()
    for entry in entries:
        rel = entry["relpath"]
        listed.add(rel)
        m = _check_file(path / rel, f"{out.path}/{rel}", entry["md5"], out.stage)
        if m:
            problems.append(m)
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if rel.as_posix() not in listed and not _transient(rel):
            problems.append(Mismatch(f"{out.path}/{rel.as_posix()}", out.stage, "untracked",
                                     "in the workspace but not in dvc.lock; `dvc repro` (or `dvc commit`) records it"))
    return problems


def verify_outputs(repo: DvcRepo, stages: Iterable[str] | None = None) -> list[Mismatch]:
    """Re-hash every output of ``stages`` (all of ``dvc.lock`` if None); empty when all match.

    Raises:
        DataError: ``dvc.lock`` is missing or names an unknown stage.
    """
    outs = repo.lock_outs()
    if stages is not None:
        wanted = set(stages)
        unknown = wanted - {o.stage for o in outs}
        if unknown:
            raise DataError(f"dvc.lock has no stage {', '.join(sorted(unknown))}")
        outs = [o for o in outs if o.stage in wanted]
    problems: list[Mismatch] = []
    for out in outs:
        problems += verify_out(repo, out)
    return problems
