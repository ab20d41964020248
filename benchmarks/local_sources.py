"""Local-source benchmark: segments of one long local video, before and after issue 12.

Rerun (from the repo root; about 15 minutes on 2 loaded cores, ~1 GB of scratch disk plus
the copies the old code makes, one clip at a time per worker):

    .venv/bin/python benchmarks/local_sources.py --out benchmarks/local_sources.md

What it does:

1. Generates a long test video with ffmpeg (default one hour, 640x360 noise video at
   ~2.2 Mbit/s, so it is large like an EPIC-KITCHENS video, and a 48 kHz stereo AAC tone with
   a beep every second); reused if it exists with the same parameters.
2. Writes two manifests of one shard on that one file: ``sparse`` (48 segments of 10 s, one
   every 75 s: clip-like segments spread over the hour) and ``dense`` (48 segments of 4 s with
   1-s gaps, like EPIC narrations of one video).
3. Runs the download job (``download_shard`` of the demo config, 4 workers) in a fresh
   process per measurement and reads that process's ``/proc/self/io`` around the call
   (children's I/O is added when they are reaped, so ffmpeg and yt-dlp count):
   ``read_bytes`` (bytes fetched from storage; the file's page cache is dropped before each
   run with ``posix_fadvise(DONTNEED)``) and ``rchar`` (all bytes read, pipes included).
   Modes: ``before`` = the code of commit ``--before-ref`` (yt-dlp fetches the whole file per
   clip, then ffmpeg cuts the copy); ``per-segment`` = one ffmpeg input seek per segment
   (``MERGE_GAP_S = 0``); ``one-pass`` = one decoding pass over the file's needed stretch
   (``MERGE_GAP_S = inf``); ``auto`` = the shipped rule (``MERGE_GAP_S``).
4. Interleaves the modes, repeats the fast ones ``--repeats`` times and keeps the best wall
   time (the machine is shared); ``before`` runs ``--before-repeats`` times (it copies the
   file once per clip).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BEFORE_REF = "1af4918"  # the last commit before local sources were cut in place (issue 12)
SHARD = "train-00000"

_MEASURE = """
import json, math, sys, time
gap, code = sys.argv[2], sys.argv[3]
# the venv's editable install of datar takes precedence over sys.path: drop it, import `code`'s
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path.insert(0, code)
import datar
assert datar.__file__.startswith(code), datar.__file__
if gap != "before":
    from datar.data import local_cut
    local_cut.MERGE_GAP_S = {"per-segment": 0.0, "one-pass": math.inf}.get(gap, local_cut.MERGE_GAP_S)
import resource
from datar.config import load_config
from datar.data.download import download_shard
def io():
    return {k: int(v) for k, v in (line.split(":") for line in open("/proc/self/io"))}
def cpu():
    return sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
cfg = load_config(sys.argv[1])
before, c0, t0 = io(), cpu(), time.perf_counter()
s = download_shard(cfg, "vggsound", "train-00000")
wall, c1, after = time.perf_counter() - t0, cpu(), io()
print(json.dumps({"ok": s.ok, "rows": s.rows, "wall_s": wall, "cpu_s": c1 - c0,
                  **{k: after[k] - before[k] for k in before}}))
"""


def make_video(path: Path, *, seconds: int, kbps: int) -> dict[str, object]:
    """Write the test video (noise video looped from a 10-s piece, beeping tone) unless present."""
    params = {"seconds": seconds, "video_kbps": kbps, "size": "640x360", "audio": "aac 48 kHz stereo 128k"}
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file() and json.loads(meta.read_text())["params"] == params:
        return json.loads(meta.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    piece = path.with_name("noise-10s.mp4")
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    t0 = time.perf_counter()
    subprocess.run([*quiet, "-f", "lavfi", "-i", "nullsrc=s=640x360:r=25:d=10,geq=random(1)*255:128:128",
                    "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
                    "-bufsize", f"{2 * kbps}k", "-g", "50", "-pix_fmt", "yuv420p", str(piece)], check=True)
    subprocess.run([*quiet, "-stream_loop", "-1", "-i", str(piece), "-f", "lavfi", "-i",
                    f"sine=frequency=440:beep_factor=4:sample_rate=48000:duration={seconds}",
                    "-filter_complex", "[1:a]aformat=channel_layouts=stereo[a]", "-map", "0:v", "-map", "[a]",
                    "-t", str(seconds), "-c:v", "copy", "-c:a", "aac", "-b:a", "128k", str(path)], check=True)
    piece.unlink()
    info = {"params": params, "bytes": path.stat().st_size, "made_in_s": round(time.perf_counter() - t0, 1)}
    meta.write_text(json.dumps(info))
    return info


def layouts(seconds: int) -> dict[str, list[tuple[float, float]]]:
    step = (seconds - 30) / 48
    return {
        "sparse": [(round(15 + k * step, 2), round(15 + k * step, 2) + 10.0) for k in range(48)],
        "dense": [(seconds // 6 + 5 * k + 0.25, seconds // 6 + 5 * k + 4.25) for k in range(48)],
    }


def write_run(root: Path, video: Path, segments: list[tuple[float, float]], demo_yaml: str) -> Path:
    """A config + one-shard manifest under ``root`` (fresh data dir); returns the config path."""
    raw = yaml.safe_load(demo_yaml)
    raw["data_dir"] = str(root / "data")
    raw["results_dir"] = str(root / "results")
    manifest = root / "data" / "vggsound" / "manifest.csv"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", "label"])
        for k, (a, b) in enumerate(segments):
            w.writerow([f"seg{k:02d}", video.as_uri(), a, b, "train", SHARD, "tone"])
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return cfg


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def measure(mode: str, *, video: Path, segments: list[tuple[float, float]], code: Path, demo_yaml: str,
            scratch: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=scratch, prefix=f"{mode}-") as tmp:
        cfg = write_run(Path(tmp), video, segments, demo_yaml)
        evict(video)
        proc = subprocess.run([sys.executable, "-c", _MEASURE, str(cfg), mode, str(code)], capture_output=True,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if proc.returncode != 0:
            raise SystemExit(f"{mode}: the download job failed:\n{proc.stderr[-3000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        with tarfile.open(Path(tmp) / "data" / "vggsound" / "clips" / f"{SHARD}.tar") as tar:
            out["members"] = len(tar.getmembers())
    return out


def before_code(ref: str, scratch: Path) -> tuple[Path, str]:
    """The package and demo config of ``ref``, extracted with ``git archive`` (no checkout)."""
    dest = scratch / f"code-{ref}"
    if not (dest / "datar").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "datar", "workflow/schemas"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    demo = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:config/demo.yaml"], check=True,
                          capture_output=True, text=True).stdout
    return dest, demo


def render(results: dict[str, dict[str, list[dict[str, float]]]], info: dict[str, object], args: argparse.Namespace,
           load: tuple[float, float], from_auto_gap: float) -> str:
    lines = ["# Local sources: segments of one long local video, before and after", "",
             "Rerun from the repo root:", "",
             f"    .venv/bin/python benchmarks/local_sources.py --out benchmarks/local_sources.md", "",
             f"Test video (generated by the script with ffmpeg): {info['params']['seconds']} s, "
             f"{int(info['bytes']) / 1e9:.2f} GB ({info['params']['size']} noise video at "
             f"~{info['params']['video_kbps']} kbit/s, {info['params']['audio']}). One shard of 48 segments "
             "on that one file, cut by the download job of `config/demo.yaml` (4 workers, 16 kHz mono FLAC). "
             f"`sparse`: 10-s segments, one every {(int(info['params']['seconds']) - 30) / 48:.1f} s over the "
             "whole video; `dense`: 4-s segments with 1-s gaps (EPIC narrations of one video), over 4 minutes "
             "of it.", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other jobs (1-/5-minute load "
             f"average {load[0]:.1f} / {load[1]:.1f} at the start). Modes were interleaved; the fast ones ran "
             f"{args.repeats} times (best wall time shown, bytes of that run), `before` {args.before_repeats} "
             "time(s). Bytes are the job process's `/proc/self/io` around `download_shard` (ffmpeg and yt-dlp "
             "children included); `read_bytes` = from storage (the video's page cache is dropped before each "
             "run), `rchar` = every byte read, pipes included.", "",
             f"`before` = commit {args.before_ref} (yt-dlp fetches the whole `file://` source for every clip, "
             "ffmpeg then cuts the copy). `per-segment` = one ffmpeg input seek (`-ss` before `-i`) per segment; "
             "`one-pass` = one ffmpeg pass decoding the file's needed stretch once, segments cut from the PCM "
             f"stream; `auto` = the shipped rule: segments closer than `MERGE_GAP_S` = {from_auto_gap:g} s share "
             "a pass.", "",
             "| layout | mode | wall s | s / clip | CPU s / clip | read_bytes / clip | rchar / clip | ok |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for layout, modes in results.items():
        for mode, runs in modes.items():
            if not runs:
                continue
            best = min(runs, key=lambda r: r["wall_s"])
            n = best["rows"]
            cpu = f"{best['cpu_s'] / n:.3f}" if "cpu_s" in best else "-"
            lines.append(f"| {layout} | {mode} | {best['wall_s']:.2f} | {best['wall_s'] / n:.3f} | {cpu} | "
                         f"{best['read_bytes'] / n / 1e6:.2f} MB | {best['rchar'] / n / 1e6:.2f} MB | "
                         f"{best['ok']}/{n} |")
    lines += ["", *ratios(results), *break_even(results, int(info["params"]["seconds"]))]
    lines += ["", "All runs (wall s): " + "; ".join(
        f"{layout}/{mode}: " + ", ".join(f"{r['wall_s']:.2f}" for r in runs)
        for layout, modes in results.items() for mode, runs in modes.items()), ""]
    return "\n".join(lines) + "\n"


def ratios(results: dict[str, dict[str, list[dict[str, float]]]]) -> list[str]:
    """``before`` against ``auto`` per layout: time and bytes read per clip."""
    out = []
    for layout, modes in results.items():
        if not modes.get("before") or not modes.get("auto"):
            continue
        old = min(modes["before"], key=lambda r: r["wall_s"])
        new = min(modes["auto"], key=lambda r: r["wall_s"])
        out.append(f"- {layout}: `auto` takes {old['wall_s'] / new['wall_s']:.0f}x less wall time than `before`, "
                   f"{old['cpu_s'] / new['cpu_s']:.0f}x less CPU time, and reads {old['rchar'] / new['rchar']:.0f}x "
                   f"fewer bytes (rchar)" if "cpu_s" in old and "cpu_s" in new else
                   f"- {layout}: `auto` takes {old['wall_s'] / new['wall_s']:.0f}x less wall time than `before`")
    if not out:
        return []
    return [*out, "", "`before` reads little from storage (`read_bytes`) only because after the first clip the "
            "1-GB file and its copies sit in the page cache of this 24-GiB machine; its `rchar` (the file copied "
            "once per clip, then read again by ffmpeg) is what it costs when they do not, as with EPIC-KITCHENS' "
            "700 videos of about 1 GB.", ""]


def break_even(results: dict[str, dict[str, list[dict[str, float]]]], seconds: int) -> list[str]:
    """The gap at which a separate span costs what decoding the gap costs, from the sparse runs.

    One-pass decodes the whole needed stretch: its cost per decoded second is ``r``. Per-segment
    runs one span per segment: its cost is ``n * c + r * (seconds it decodes)``, ``c`` the cost of
    a span (ffmpeg start, container index, seek). Merging two spans pays off when the gap
    between them is below ``c / r``.
    """
    from datar.data.local_cut import Cut, plan_spans

    modes = results.get("sparse", {})
    if not modes.get("per-segment") or not modes.get("one-pass"):
        return []
    cuts = [Cut(f"s{k}", a, b, Path("x")) for k, (a, b) in enumerate(layouts(seconds)["sparse"])]
    per_seg = plan_spans(cuts, merge_gap=0.0)
    one = plan_spans(cuts, merge_gap=float("inf"))
    decoded_per_seg = sum(min(sp.end or seconds, seconds) - sp.start for sp in per_seg)
    decoded_one = sum(min(sp.end or seconds, seconds) - sp.start for sp in one)
    out = ["Break-even gap from the sparse runs (best of each): one-pass costs `r` per decoded second, "
           "per-segment costs `c` per span on top of its own decoding; merging is cheaper below a gap of "
           "`c / r`.", ""]
    for key, label in (("wall_s", "wall"), ("cpu_s", "CPU")):
        if not all(key in r for r in modes["per-segment"] + modes["one-pass"]):
            continue
        t_seg = min(r[key] for r in modes["per-segment"])
        t_one = min(r[key] for r in modes["one-pass"])
        r = t_one / decoded_one
        c = (t_seg - r * decoded_per_seg) / len(per_seg)
        out.append(f"- {label}: r = {1000 * r:.2f} ms per second of audio, c = {c:.3f} s per span, "
                   f"break-even gap = {c / r:.0f} s")
    return [*out, ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "datar-bench-local")
    p.add_argument("--seconds", type=int, default=3600)
    p.add_argument("--video-kbps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before-repeats", type=int, default=1)
    p.add_argument("--before-ref", default=BEFORE_REF)
    p.add_argument("--layouts", nargs="+", default=["sparse", "dense"])
    p.add_argument("--modes", nargs="+", default=["before", "per-segment", "one-pass", "auto"])
    p.add_argument("--json", type=Path, default=None, help="also write the raw runs here")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here (else stdout)")
    args = p.parse_args(argv)

    load = os.getloadavg()[:2]
    args.scratch.mkdir(parents=True, exist_ok=True)
    video = args.scratch / "long.mp4"
    info = make_video(video, seconds=args.seconds, kbps=args.video_kbps)
    old_code, old_demo = before_code(args.before_ref, args.scratch)
    new_demo = (REPO / "config" / "demo.yaml").read_text()
    sys.path.insert(0, str(REPO))
    from datar.data.local_cut import MERGE_GAP_S

    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for layout in args.layouts:
        segments = layouts(args.seconds)[layout]
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in args.modes}
        for rep in range(max(args.repeats, args.before_repeats)):
            for mode in args.modes:
                if rep >= (args.before_repeats if mode == "before" else args.repeats):
                    continue
                code, demo = (old_code, old_demo) if mode == "before" else (REPO, new_demo)
                r = measure(mode, video=video, segments=segments, code=code, demo_yaml=demo, scratch=args.scratch)
                print(f"{layout} {mode}: {r['wall_s']:.2f} s, read_bytes {r['read_bytes'] / 1e6:.0f} MB, "
                      f"rchar {r['rchar'] / 1e6:.0f} MB, ok {r['ok']}/{r['rows']}", file=sys.stderr, flush=True)
                runs[mode].append(r)
        results[layout] = runs
    if args.json:
        args.json.write_text(json.dumps({"video": info, "results": results}, indent=2))
    text = render(results, info, args, load, MERGE_GAP_S)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
