"""Archive benchmark: clips of a VGGSound-layout tar.gz read in place, against extracting it first.

Rerun (from the repo root; a few minutes on 2 cores, ~200 MB of scratch disk):

    .venv/bin/python benchmarks/archives.py --out benchmarks/archives.md

What it does:

1. Builds one tar.gz in VGGSound's Hugging Face layout (``--members`` h264 + aac mp4 clips of
   10 s under the seven-folder prefix; 320x240 at 25 fps so the video weighs what real
   clips' video does) and a headerless ``vggsound.csv`` that lists every other member (the
   manifest wants half). Reused if it exists with the same parameters.
2. Builds the manifest (not timed; the same for both).
3. Measures, each in a fresh Snakemake process over the config, up to the clip shards
   (``data/vggsound/clips/*.tar`` and their status csvs):
   - ``extract``: what a reviewer does today: ``tar -xzf`` of the archive, then the
     existing local-file path (``local_source.template`` pointing at the extracted files);
   - ``in place``: ``local_source.archives`` (one streaming ``archive`` job, then the shard
     jobs copy each clip's FLAC from the archive's audio store).
   Wall time; CPU time of every child process (``RUSAGE_CHILDREN``, ffmpeg included); bytes
   written = ``ru_oublock`` x 512 of every child (Linux counts a page when a process dirties
   it, so files deleted before writeback count too).
4. Interleaves the two ``--repeats`` times with fresh work dirs and reports the best of each.
The 16 kHz audio itself is reported twice: as stored (the FLAC members of the clip shards)
and as 16-bit PCM (samples x 2 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from media_fixtures import VGG_PREFIX, mp4, vgg_ids  # noqa: E402


def build_archive(root: Path, members: int, seconds: float) -> tuple[Path, Path]:
    stamp = root / "params.json"
    params = {"members": members, "seconds": seconds, "v": 2}
    archive, csv = root / "vggsound_00.tar.gz", root / "vggsound.csv"
    if stamp.is_file() and json.loads(stamp.read_text()) == params and archive.is_file():
        return archive, csv
    shutil.rmtree(root, ignore_errors=True)
    media = root / "media"
    rows = []
    for i, yid in enumerate(vgg_ids(members)):
        start = 10 * (i % 30)
        mp4(media / VGG_PREFIX / f"{yid}_{start:06d}.mp4", seconds=seconds, freq=200 + 37 * (i % 23), size="320x240")
        if i % 2 == 0:
            rows.append(f"{yid},{start},\"class {i % 10}\",{'test' if i % 8 == 0 else 'train'}")
    csv.write_text("\n".join(rows) + "\n")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(media / "scratch", arcname="scratch")
    shutil.rmtree(media)
    stamp.write_text(json.dumps(params))
    return archive, csv


def config(work: Path, csv: Path, local_source: dict, seconds: float) -> Path:
    raw = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    raw["audio"]["clip_seconds"] = seconds
    raw["download"].update(shard_size=25, workers=2)
    raw["datasets"] = {"vggsound": {"format": "vggsound", "sources": [{"path": str(csv)}],
                                    "local_source": {**local_source, "fallback": "none"}}}
    raw["train"]["epochs"] = {"vggsound": 1}
    raw["tables"], raw["figures"] = {}, {}
    path = work / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def snakemake(work: Path, cfg: Path, *targets: str) -> None:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(cfg), "--cores", "2", *targets]
    subprocess.run(cmd, check=True, capture_output=True, cwd=work)


def shard_targets(work: Path) -> list[str]:
    shards = json.loads((work / "data/vggsound/shards.json").read_text())["shards"]
    return [f"data/vggsound/clips/{s['name']}.status.csv" for s in shards]


def measure(mode: str, root: Path, archive: Path, csv: Path, seconds: float) -> dict:
    work = root / f"work-{mode.replace(' ', '-')}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if mode == "extract":
        local = {"template": str(work / "extracted" / VGG_PREFIX / "{youtube_id}_{start:06d}.mp4")}
    else:
        local = {"template": "{youtube_id}_{start:06d}.mp4", "archives": [str(archive)]}
    cfg = config(work, csv, local, seconds)
    snakemake(work, cfg, "data/vggsound/manifest.csv")  # not timed
    targets = shard_targets(work)
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if mode == "extract":
        (work / "extracted").mkdir()
        subprocess.run(["tar", "-xzf", str(archive), "-C", str(work / "extracted")], check=True)
    snakemake(work, cfg, *targets)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    flac = pcm = clips = 0
    for tar_path in sorted((work / "data/vggsound/clips").glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            for m in tar.getmembers():
                flac += m.size
                clips += 1
                import soundfile

                pcm += 2 * soundfile.info(tar.extractfile(m)).frames
    return {"mode": mode, "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "written_bytes": 512 * (after.ru_oublock - before.ru_oublock), "clips": clips, "flac_bytes": flac,
            "pcm_bytes": pcm, "disk_after": sum(p.stat().st_size for p in work.rglob("*") if p.is_file())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--root", type=Path, default=Path("/var/tmp/datar-archive-bench"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    archive, csv = build_archive(args.root / "archive", args.members, args.seconds)
    runs: dict[str, list[dict]] = {"extract": [], "in place": []}
    for _ in range(args.repeats):
        for mode in runs:
            r = measure(mode, args.root, archive, csv, args.seconds)
            runs[mode].append(r)
            print(json.dumps(r), flush=True)
    best = {m: min(rs, key=lambda r: r["wall_s"]) for m, rs in runs.items()}
    e, p = best["extract"], best["in place"]
    mb = 1e6
    lines = [
        "# Reading a VGGSound archive in place",
        "",
        f"One tar.gz in VGGSound's Hugging Face layout: {args.members} h264 + aac mp4 members of "
        f"{args.seconds:g} s (320x240, 25 fps) under the seven-folder prefix, {archive.stat().st_size / mb:.1f} MB; the "
        f"manifest wants {e['clips']} of them (every other member). Up to the clip shards (download stage), each "
        f"mode in a fresh Snakemake process with `--cores 2`, interleaved, best of {args.repeats}.",
        "",
        "| mode | wall s | CPU s (children) | written MB | written / FLAC audio | written / 16-bit PCM | disk after, MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in (e, p):
        lines.append(f"| {r['mode']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['written_bytes'] / mb:.1f} | "
                     f"{r['written_bytes'] / r['flac_bytes']:.2f} | {r['written_bytes'] / r['pcm_bytes']:.2f} | "
                     f"{r['disk_after'] / mb:.1f} |")
    lines += [
        "",
        f"- in place / extract: wall {p['wall_s'] / e['wall_s']:.2f}x (goal: at most 0.8x), CPU "
        f"{p['cpu_s'] / e['cpu_s']:.2f}x, bytes written {p['written_bytes'] / e['written_bytes']:.2f}x.",
        f"- The 16 kHz audio of the {p['clips']} clips: {p['flac_bytes'] / mb:.2f} MB as stored (FLAC in the clip "
        f"shards), {p['pcm_bytes'] / mb:.2f} MB as 16-bit PCM. In place writes {p['written_bytes'] / p['flac_bytes']:.2f}x "
        f"the stored audio (goal: within 1.2x of the audio itself): once into the archive's audio store, once into "
        "the shard tars (and Snakemake's metadata and logs).",
        "- extract writes every member's video (the half nobody wants included), then the same FLAC twice "
        "(each clip into the shard's work dir, then into the shard tar).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. Raw runs:",
        "",
        "```",
        *[json.dumps(r) for rs in runs.values() for r in rs],
        "```",
        "",
        "Rerun: `.venv/bin/python benchmarks/archives.py --out benchmarks/archives.md`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
