"""A thin handle on a DVC repository: the ``dvc`` CLI, its remotes, ``dvc.lock`` and status.

Everything goes through ``python -m dvc`` of the running interpreter (no PATH lookups) with
analytics off, so checks and tests never touch the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from datar.errors import DataError

REMOTE_HELP = (
    "add one with `dvc remote add -d storage <url>` where <url> is a directory "
    "(/mnt/shared/datar-dvc), s3://bucket/path (pip install 'dvc[s3]') or "
    "ssh://user@host/path (pip install 'dvc[ssh]'); keep credentials out of git with "
    "`dvc remote modify --local storage <key> <value>`"
)


@dataclass(frozen=True)
class LockOut:
    """One output recorded in ``dvc.lock``.

    Attributes:
        stage: the stage name (``data@kinetics_sounds``).
        path: path relative to the repo root.
        md5: the recorded hash (``<md5>.dir`` for a directory).
    """

    stage: str
    path: str
    md5: str

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


class DvcRepo:
    """A DVC repository rooted at ``root``.

    Args:
        root: the repository root (holds ``dvc.yaml`` and ``.dvc/``).
    """

    def __init__(self, root: str | os.PathLike[str] = ".") -> None:
        self.root = Path(root)

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``python -m dvc ARGS`` in the repo; raise DataError with its stderr if it fails."""
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_UPDATER": "0"}
        proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=self.root, capture_output=True,
                              text=True, env=env)
        if check and proc.returncode != 0:
            raise DataError(f"`dvc {' '.join(args)}` failed in {self.root}: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def require_repo(self) -> None:
        """Raise DataError unless ``root`` is a DVC repository with a pipeline."""
        if not (self.root / ".dvc").is_dir():
            raise DataError(f"{self.root}: not a DVC repository (no .dvc/); run `dvc init` at the repo root")
        if not (self.root / "dvc.yaml").is_file():
            raise DataError(f"{self.root / 'dvc.yaml'}: not found")

    # ------------------------------------------------------------------ remotes
    def remotes(self) -> dict[str, str]:
        """``{name: url}`` of every configured remote (repo, local and global config)."""
        out = self.dvc("remote", "list").stdout
        remotes = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                remotes[parts[0]] = parts[1]
        return remotes

    def default_remote(self) -> str | None:
        """The default remote's name, or None."""
        proc = self.dvc("remote", "default", check=False)
        name = proc.stdout.strip()
        return name if proc.returncode == 0 and name else None

    def check_remote(self) -> tuple[str, str]:
        """The default remote as ``(name, url)``.

        Raises:
            DataError: no remote, or no default among several (the message says how to add one).
        """
        remotes = self.remotes()
        if not remotes:
            raise DataError(f"no DVC remote configured, so `dvc push` / `dvc pull` have nowhere to go: {REMOTE_HELP}")
        default = self.default_remote()
        if default is None:
            raise DataError(
                f"DVC remotes {', '.join(sorted(remotes))} are configured but none is the default: "
                f"`dvc remote default {sorted(remotes)[0]}` (or pass `-r NAME` to push/pull)"
            )
        if default not in remotes:
            raise DataError(f"the default DVC remote {default!r} is not defined: {REMOTE_HELP}")
        return default, remotes[default]

    # ------------------------------------------------------------------ lock and cache
    def lock(self) -> dict[str, Any]:
        """The parsed ``dvc.lock`` (DataError if absent: nothing was reproduced yet)."""
        path = self.root / "dvc.lock"
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: not found; run `dvc repro` (or `git pull` the commit that has it)") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("stages"), dict):
            raise DataError(f"{path}: not a dvc.lock file (no `stages`)")
        return raw

    def lock_outs(self) -> list[LockOut]:
        """Every output with its recorded hash, in ``dvc.lock`` order."""
        outs = []
        for stage, entry in self.lock()["stages"].items():
            for out in entry.get("outs", []) or []:
                md5 = out.get("md5")
                if out.get("hash", "md5") != "md5" or not md5:
                    raise DataError(f"dvc.lock: {stage}: {out.get('path')}: unsupported hash entry {out!r}")
                outs.append(LockOut(stage=stage, path=out["path"], md5=md5))
        return outs

    def cache_dir(self) -> Path:
        """The cache directory (``dvc cache dir``)."""
        out = self.dvc("cache", "dir").stdout.strip()
        path = Path(out)
        return path if path.is_absolute() else self.root / path

    def cache_object(self, md5: str) -> Path:
        """The cache path of an object (DVC 3 layout: ``files/md5/ab/cdef...``)."""
        return self.cache_dir() / "files" / "md5" / md5[:2] / md5[2:]

    def dir_manifest(self, md5: str) -> list[dict[str, str]]:
        """The ``[{"md5", "relpath"}, ...]`` listing of a directory output, from the cache.

        Raises:
            DataError: the listing is not in the cache (not pulled) or is malformed.
        """
        path = self.cache_object(md5)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: directory listing {md5} is not in the DVC cache; run `dvc pull`") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: directory listing {md5} in the DVC cache is corrupt ({exc}); "
                            f"delete it and `dvc pull` again") from None
        return entries

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, list]:
        """``dvc status --json``: ``{stage: [{"changed deps": {...}}, ...]}`` (empty when clean)."""
        out = self.dvc("status", "--json").stdout.strip()
        return json.loads(out) if out else {}
