"""Do the data, the runs and the tables agree on the data version?

Three records of one fact: ``{data_dir}/{D}/version.json`` (the hash of the manifest, every
feature shard and the stats, recomputed here from the files themselves), the
``data_version`` in each run's ``metrics.json``, and the "data version" provenance line of
each rendered table. After a pull or a checkout they must agree; this names every mismatch.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from datar.runs import run_file, table_file, version_json
from datar.config import Config
from datar.errors import DataError
from datar.io import read_json_object
from datar.features.version import data_version

# "- data version: runs: <v>[, <v>...]; <path>: <v>" (datar.report.provenance / render).
_TABLE_LINE = re.compile(r"^- data version: runs: (?P<runs>.*?); (?P<path>\S+): (?P<current>\S+)\s*$", re.M)


@dataclass(frozen=True)
class VersionMismatch:
    """One disagreement: ``where`` holds ``found`` where ``expected`` is the data's version."""

    where: str
    found: str
    expected: str
    hint: str

    def __str__(self) -> str:
        return f"DATA VERSION MISMATCH: {self.where} has {self.found}, expected {self.expected}: {self.hint}"


def _short(v: str) -> str:
    return v[:12] if len(v) == 64 else v


def _json(path: Path) -> dict:
    return read_json_object(path)


def table_data_versions(path: Path) -> tuple[list[str], str | None]:
    """The runs' data versions and the version.json value a rendered table printed."""
    m = _TABLE_LINE.search(path.read_text(encoding="utf-8"))
    if m is None:
        raise DataError(f"{path}: no '- data version: runs: ...; ...: ...' provenance line")
    runs = [v.strip() for v in m.group("runs").split(",") if v.strip() and v.strip() != "not recorded"]
    current = m.group("current")
    return runs, None if current == "absent" else current


def check_data_versions(cfg: Config, root: str | Path = ".") -> list[VersionMismatch]:
    """Compare the data versions of every dataset, run and table of ``cfg`` under ``root``.

    Returns:
        The mismatches (empty when everything agrees). Datasets not built or pulled are skipped.
    """
    root = Path(root)
    data_dir = root / cfg.data_dir
    problems: list[VersionMismatch] = []
    for ds in sorted(cfg.datasets):
        vpath = root / version_json(cfg.data_dir, ds)
        if not vpath.is_file():
            continue
        recorded = _json(vpath).get("data_version")
        if not isinstance(recorded, str):
            raise DataError(f"{vpath}: no data_version string")
        rel_v = vpath.relative_to(root).as_posix()
        try:
            actual = data_version(data_dir, ds)["data_version"]
        except DataError as exc:
            problems.append(VersionMismatch(rel_v, recorded, "?", f"its files cannot be hashed ({exc})"))
            actual = None
        if actual is not None and actual != recorded:
            problems.append(VersionMismatch(
                rel_v, recorded, actual,
                "the manifest, shards and stats beside it hash to the expected version, so version.json is "
                f"stale: rerun `snakemake {rel_v}`, or `dvc checkout` the data it belongs to"))
        expected = actual or recorded
        pattern = str(root / run_file(cfg.results_dir, ds, "*", "*", "metrics.json"))
        for metrics in sorted(map(Path, glob.glob(pattern))):
            found = _json(metrics).get("data_version")
            if found != expected:
                problems.append(VersionMismatch(
                    metrics.relative_to(root).as_posix(), str(found), expected,
                    f"the run used other data than {rel_v}: retrain it, or check out the data version it used"))
        for name, table in sorted(cfg.tables.items()):
            tpath = root / table_file(cfg.results_dir, name, "md")
            if table.dataset != ds or not tpath.is_file():
                continue
            runs, printed = table_data_versions(tpath)
            rel_t = tpath.relative_to(root).as_posix()
            for found in sorted(set(runs + ([printed] if printed else []))):
                if found != expected:
                    problems.append(VersionMismatch(
                        rel_t, found, expected,
                        f"the table's provenance does not match {rel_v}: regenerate it "
                        f"(`snakemake --forcerun table {rel_t}`) after the runs agree"))
    return problems
