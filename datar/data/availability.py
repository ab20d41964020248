"""The availability report: per split, where the manifest's clips came from and which are valid.

Reads ``{data_dir}/{D}/manifest.csv`` and, for every shard it names, ``clips/{S}.status.csv``
(download) and ``clips/{S}.valid.csv`` (validation), and writes
``{results_dir}/data/{D}_availability.md`` and ``.csv``: rows in the manifest; clips obtained
from local files (``local``) or over the network (``downloaded``); clips that could not be
obtained (``missing``: dead, not in the local copy, undecodable source); ``blocked`` clips
(YouTube refused the downloader: not known yet, neither missing nor obtained); valid clips;
the reasons clips were lost (short, counted); the paper's counts (``config/paper.yaml``, for
the paper's datasets and their declared stand-ins)
and the yt-dlp versions that fetched the clips.

The csv has one row per split and a ``total`` row: ``split,manifest,local,downloaded,missing,
blocked,valid,paper,valid_pct_of_paper,reasons,yt_dlp`` with ``local + downloaded + missing +
blocked = manifest``, ``reasons`` = ``"stage: status: reason (n); ..."`` and ``yt_dlp`` =
``"version (n clips); ..."``. The raw message behind each reason is in the status csv.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datar.config import SPLITS, Config
from datar.data.clip_status import FIRST_COLUMNS as STATUS_COLUMNS
from datar.io import read_json_object
from datar.data.failures import short_text
from datar.data.validate import VALID_COLUMNS
from datar.errors import DataError
from datar.io import atomic_write, shared_path, write_text_atomic
from datar.runs import availability_file, clip_file, clip_list_csv, manifest_csv, shards_json

_BLOCKED = "download: blocked: "
CSV_COLUMNS = ("split", "manifest", "local", "downloaded", "missing", "blocked", "valid", "paper",
               "valid_pct_of_paper", "reasons", "yt_dlp", "places")
CLIP_LIST_COLUMNS = ("clip_id", "split", "status")


@dataclass
class SplitCounts:
    """Counts of one split (or ``total``).

    Attributes:
        split: split name or ``total``.
        manifest: rows in the manifest.
        local: clips obtained (download status ``ok``) from local files.
        downloaded: clips obtained over the network (yt-dlp).
        missing: clips that could not be obtained (``unavailable`` / ``invalid`` at download).
        blocked: clips YouTube refused to serve (not known yet).
        valid: clips whose validation status is ``ok``.
        paper: the paper's count for this split, if known.
        reasons: ``"stage: status: reason"`` -> number of clips lost (or blocked) to it.
        yt_dlp: yt-dlp version -> clips it fetched.
        blocked_shards: shard -> blocked clips in it.
        places: place of the local copy (a template's folder, an archive) -> clips obtained there.
    """

    split: str
    manifest: int = 0
    local: int = 0
    downloaded: int = 0
    missing: int = 0
    blocked: int = 0
    valid: int = 0
    paper: int | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    yt_dlp: Counter[str] = field(default_factory=Counter)
    blocked_shards: Counter[str] = field(default_factory=Counter)
    places: Counter[str] = field(default_factory=Counter)

    @property
    def obtained(self) -> int:
        """Clips whose audio was obtained (local + downloaded)."""
        return self.local + self.downloaded

    def add(self, other: SplitCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in ("manifest", "local", "downloaded", "missing", "blocked", "valid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.yt_dlp.update(other.yt_dlp)
        self.blocked_shards.update(other.blocked_shards)
        self.places.update(other.places)

    @property
    def valid_pct_of_paper(self) -> float | None:
        """Valid clips as a percentage of the paper's count."""
        return None if not self.paper else 100.0 * self.valid / self.paper


def read_table(path: Path, columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Rows of a status / validation csv keyed by clip id.

    Raises:
        DataError: the file is missing, lacks a column, or repeats a clip id (names the file).
    """
    if not path.is_file():
        raise DataError(f"{path}: missing (run the download / validate job of this shard first)")
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(missing)}")
        out: dict[str, dict[str, str]] = {}
        for row in reader:
            if row["clip_id"] in out:
                raise DataError(f"{path}: line {reader.line_num}: duplicate clip id {row['clip_id']!r}")
            out[row["clip_id"]] = row
    return out


def read_manifest(path: Path) -> list[dict[str, str]]:
    """The manifest's rows (``clip_id``, ``source``, ``split``, ``shard`` needed)."""
    if not path.is_file():
        raise DataError(f"{path}: manifest missing (run the manifest step first)")
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("clip_id", "source", "split", "shard") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(missing)}")
        return list(reader)


def count_availability(cfg: Config, dataset: str, clip_list: list[tuple[str, str, str]] | None = None
                       ) -> list[SplitCounts]:
    """Per-split counts of ``dataset`` (splits in train, val, test order, then ``total``).

    Args:
        clip_list: if given, filled with ``(clip_id, split, status)`` per manifest row, the
            status ``ok`` for a valid clip, else the download's or validation's status.

    Raises:
        DataError: a status or validation csv is missing, or disagrees with the manifest
            (a clip missing from, or extra in, its shard's file).
    """
    cfg.dataset(dataset)  # a ConfigError naming an unknown dataset
    rows = read_manifest(Path(manifest_csv(cfg.data_dir, dataset)))
    by_shard: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_shard.setdefault(row["shard"], []).append(row)
    from datar.report.paper import paper_counts

    paper = {k: v for k, v in paper_counts(cfg, dataset).items() if k in SPLITS}
    counts = {s: SplitCounts(s, paper=paper.get(s)) for s in SPLITS}
    for shard, members in by_shard.items():
        status_path = Path(clip_file(cfg.data_dir, dataset, shard, "status.csv"))
        valid_path = Path(clip_file(cfg.data_dir, dataset, shard, "valid.csv"))
        status = read_table(status_path, STATUS_COLUMNS)
        valid = read_table(valid_path, VALID_COLUMNS)
        ids = {r["clip_id"] for r in members}
        for path, table in ((status_path, status), (valid_path, valid)):
            extra = sorted(set(table) - ids)
            if extra:
                raise DataError(f"{path}: clip {extra[0]!r} is not in shard {shard} of the manifest "
                                f"({len(extra)} such; stale file from an older manifest? rerun this shard)")
        for row in members:
            cid, c = row["clip_id"], counts[row["split"]]
            c.manifest += 1
            st = status.get(cid)
            if st is None:
                raise DataError(f"{status_path}: no row for clip {cid!r} of shard {shard}")
            if st.get("yt_dlp"):
                c.yt_dlp[st["yt_dlp"]] += 1
            if clip_list is not None and st["status"] != "ok":
                clip_list.append((cid, row["split"], st["status"]))
            if st["status"] != "ok":
                c.reasons[f"download: {st['status']}: {short_text(st['reason']) or '-'}"] += 1
                if st["status"] == "blocked":
                    c.blocked += 1
                    c.blocked_shards[shard] += 1
                else:
                    c.missing += 1
                continue
            # status csvs of the first format have no origin: a file URL source is local
            origin = st.get("origin") or ("local" if row["source"].lower().startswith("file:") else "network")
            if origin == "local":
                c.local += 1
            else:
                c.downloaded += 1
            if st.get("place"):
                c.places[st["place"]] += 1
            va = valid.get(cid)
            if va is None:
                raise DataError(f"{valid_path}: no row for clip {cid!r} of shard {shard}")
            if clip_list is not None:
                clip_list.append((cid, row["split"], va["status"]))
            if va["status"] == "ok":
                c.valid += 1
            else:
                c.reasons[f"validate: {va['status']}: {short_text(va['reason']) or '-'}"] += 1
    shown = [c for s, c in counts.items() if c.manifest or c.paper is not None]
    total = SplitCounts("total", paper=sum(paper.values()) if paper else None)
    for c in shown:
        total.add(c)
    return [*shown, total]


def _reasons_text(reasons: Counter[str]) -> str:
    return "; ".join(f"{r} ({n})" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _versions_text(versions: Counter[str]) -> str:
    return "; ".join(f"{v} ({n} clips)" for v, n in sorted(versions.items()))


def _places_text(places: Counter[str]) -> str:
    return "; ".join(f"{p} ({n})" for p, n in sorted(places.items()))


def restriction_line(cfg: Config, dataset: str) -> str | None:
    """What ``datasets.D.restrict_to`` kept (from ``shards.json``), or None without a list."""
    try:
        info = read_json_object(Path(shards_json(cfg.data_dir, dataset))).get("restrict_to")
    except DataError:
        return None
    if not isinstance(info, dict):
        return None
    return (f"Restricted to the clip list {shared_path(str(info.get('path')))} (sha256 {str(info.get('sha256'))[:12]}): "
            f"{info.get('found')} of its {info.get('listed')} clips are in this dataset's source lists"
            + (f"; {info.get('not_found')} are not" if info.get("not_found") else "") + ".")


def render_markdown(dataset: str, counts: Sequence[SplitCounts], *, demo: bool, data_dir: str = "data",
                    max_reasons: int = 20, max_shards: int = 10, restriction: str | None = None) -> str:
    """The availability report as Markdown: counts, places, blocked clips, reasons, yt-dlp versions."""
    title = f"# Data availability: {dataset}" + (" (DEMO corpus, not the paper's data)" if demo else "")
    lines = [title, "",
             "| split | manifest | local | downloaded | missing | blocked | valid | paper | valid / paper |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in counts:
        paper = "-" if c.paper is None else str(c.paper)
        lines.append(f"| {c.split} | {c.manifest} | {c.local} ({_pct(c.local, c.manifest)}) | "
                     f"{c.downloaded} ({_pct(c.downloaded, c.manifest)}) | {c.missing} ({_pct(c.missing, c.manifest)}) | "
                     f"{c.blocked} | {c.valid} ({_pct(c.valid, c.manifest)}) | {paper} | {_pct(c.valid, c.paper or 0)} |")
    lines += ["", "Counted against the manifest: local = cut from local files, downloaded = fetched with "
              "yt-dlp, missing = could not be obtained (dead link, not in the local copy, undecodable), "
              "blocked = YouTube refused the downloader (not known yet: neither dead nor obtained); the "
              "last column compares the valid clips with the number the paper trained / tested on.", ""]
    if restriction:
        lines += [restriction, ""]
    total = counts[-1] if counts else SplitCounts("total")
    if total.places:
        lines += ["## Where the local clips came from", "", "| split | place | clips |", "| --- | --- | ---: |"]
        for c in counts:
            for place, n in sorted(c.places.items()):
                lines.append(f"| {c.split} | {place.replace('|', '/')} | {n} |")
        lines.append("")
    if total.blocked:
        shards = sorted(total.blocked_shards.items())
        listed = ", ".join(f"{s} ({n})" for s, n in shards[:max_shards])
        more = f" and {len(shards) - max_shards} more" if len(shards) > max_shards else ""
        first = shards[0][0]
        why = "; ".join(f"{r.removeprefix(_BLOCKED)} ({n})" for r, n in sorted(total.reasons.items())
                        if r.startswith(_BLOCKED))
        lines += ["## Blocked clips (not known yet)", "",
                  f"{total.blocked} clips were refused by YouTube ({why}), in shards {listed}{more}. Such an "
                  "answer says nothing about whether a video exists. Set `download.cookies`, lower "
                  "`download.rate_limit`, raise `download.sleep_interval` and update yt-dlp (README), then fetch "
                  "only these clips by forcing their shards' download jobs, e.g. `snakemake --cores 1 --force "
                  f"{clip_file(data_dir, dataset, first, 'status.csv')}`, and rerun the target.", ""]
    per_split = [c for c in counts if c.split != "total"]
    rows = [(c.split, r, n) for c in per_split for r, n in c.reasons.items() if not r.startswith(_BLOCKED)]
    if rows:
        rows.sort(key=lambda t: (-t[2], t[0], t[1]))
        lines += ["## Why clips were lost", "", "| split | stage: status: reason | clips |", "| --- | --- | ---: |"]
        for split, reason, n in rows[:max_reasons]:
            lines.append(f"| {split} | {reason.replace('|', '/')} | {n} |")
        if len(rows) > max_reasons:
            lines.append(f"| ... | {len(rows) - max_reasons} more (see the csv) | |")
    else:
        lines.append("No clip was lost.")
    if total.yt_dlp:
        used = _versions_text(total.yt_dlp)
    else:
        used = "not used (every clip came from local files)" if not total.downloaded else "version not recorded"
    lines += ["", f"yt-dlp: {used}."]
    return "\n".join(lines) + "\n"


def write_availability(cfg: Config, dataset: str) -> tuple[Path, Path]:
    """Count and write ``{results_dir}/data/{dataset}_availability.{md,csv}``."""
    clip_list: list[tuple[str, str, str]] = []
    counts = count_availability(cfg, dataset, clip_list)
    list_path = Path(clip_list_csv(cfg.results_dir, dataset))
    with atomic_write(list_path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CLIP_LIST_COLUMNS)
        w.writerows(sorted(clip_list))
    csv_path = Path(availability_file(cfg.results_dir, dataset, "csv"))
    with atomic_write(csv_path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for c in counts:
            pct = c.valid_pct_of_paper
            w.writerow([c.split, c.manifest, c.local, c.downloaded, c.missing, c.blocked, c.valid,
                        "" if c.paper is None else c.paper, "" if pct is None else f"{pct:.2f}",
                        _reasons_text(c.reasons), _versions_text(c.yt_dlp), _places_text(c.places)])
    md_path = Path(availability_file(cfg.results_dir, dataset, "md"))
    write_text_atomic(md_path, render_markdown(dataset, counts, demo=cfg.demo, data_dir=cfg.data_dir,
                                               restriction=restriction_line(cfg, dataset)))
    return md_path, csv_path
