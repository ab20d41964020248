"""Local sources (issue 12): cut in place by input seeking, local copies, real paths, open ends.

Real ffmpeg, yt-dlp and the local HTTP server; media are generated here with ffmpeg.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from datar.config import Config, config_from_mapping
from datar.data.availability import count_availability, write_availability
from datar.data.download import ShardPaths, download_shard
from datar.data.local_cut import LEAD_IN_S, Cut, cut_span, plan_spans
from datar.data.manifest import make_manifest
from datar.data.validate import validate_shard
from datar.errors import ConfigError, ManifestError

sys.path.insert(0, str(Path(__file__).parent))
from httpserver import MediaServer, make_media  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RATE = 16000
FREQ = 440.0


def raw_config(tmp_path: Path, **dataset: object) -> dict:
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    raw["download"].update(retries=1, backoff_seconds=0.01, socket_timeout=5, workers=2)
    raw["datasets"]["vggsound"].update(dataset)
    return raw


def config(tmp_path: Path, **dataset: object) -> Config:
    raw = raw_config(tmp_path, **dataset)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return config_from_mapping(raw, origin=str(tmp_path / "config.yaml"))


def user_csv(path: Path, rows: list[tuple[str, str, object, object]]) -> Path:
    """A source csv in the user format (clip_id,source,start,end,label,split), all train."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "source", "start", "end", "label", "split"])
        for clip_id, source, start, end in rows:
            w.writerow([clip_id, source, start, end, "tone", "train"])
    return path


def statuses(cfg: Config, shard: str = "train-00000") -> dict[str, dict[str, str]]:
    with open(ShardPaths.of(cfg, "vggsound", shard).status, encoding="utf-8") as fh:
        return {r["clip_id"]: r for r in csv.DictReader(fh)}


def member(cfg: Config, clip_id: str, shard: str = "train-00000") -> np.ndarray:
    with tarfile.open(ShardPaths.of(cfg, "vggsound", shard).tar) as tar:
        fh = tar.extractfile(f"{clip_id}.flac")
        assert fh is not None
        pcm, rate = soundfile.read(fh, dtype="float64")
    assert rate == RATE
    return pcm


def phase_offset(pcm: np.ndarray, start: float) -> float:
    """Samples by which a cut of a FREQ Hz sine lags its analytic phase at ``start``."""
    n = np.arange(800, 3000)
    t = start + n / RATE
    basis = np.stack([np.sin(2 * np.pi * FREQ * t), np.cos(2 * np.pi * FREQ * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, pcm[n], rcond=None)
    return float(np.arctan2(coef[1], coef[0]) / (2 * np.pi * FREQ) * RATE)


def long_video(path: Path, seconds: int) -> Path:
    """An mp4 with a noisy 160x120 video stream (so the file is large) and a 440 Hz AAC tone."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"color=c=gray:s=160x120:r=10:d={seconds},noise=alls=80:allf=t+u",
         "-f", "lavfi", "-i", f"sine=frequency={FREQ}:sample_rate=44100:duration={seconds}",
         "-map", "0:v", "-map", "1:a", "-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac", "-b:a", "96k", str(path)],
        check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return long_video(tmp_path_factory.mktemp("video") / "long video é.mp4", 120)


# --------------------------------------------------------------------------- cutting in place


_MEASURE = """
import json, sys
from datar.config import load_config
from datar.data.download import download_shard
def io():
    return {k: int(v) for k, v in (line.split(":") for line in open("/proc/self/io"))}
cfg = load_config(sys.argv[1])
before = io()
summary = download_shard(cfg, "vggsound", "train-00000")
after = io()
print(json.dumps({"ok": summary.ok, **{k: after[k] - before[k] for k in before}}))
"""


def test_long_local_video_is_cut_in_place_reading_about_one_pass(tmp_path: Path, video: Path) -> None:
    """24 segments of one 120-s video: the job reads about the file once (the old path: 48 times)."""
    size = video.stat().st_size
    rows = [(f"seg{i:02d}", video.as_uri(), 5 * i + 0.37, 5 * i + 2.37) for i in range(24)]
    cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}])
    make_manifest(cfg, "vggsound")
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path / "config.yaml")], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    io = json.loads(proc.stdout.strip().splitlines()[-1])
    assert io["ok"] == 24
    assert io["rchar"] < 1.5 * size, f"read {io['rchar']} bytes for a {size}-byte file"
    assert io["wchar"] < 0.5 * size, "the source was copied"  # PCM on the pipe + the FLACs
    st = statuses(cfg)
    assert {r["status"] for r in st.values()} == {"ok"} and {r["origin"] for r in st.values()} == {"local"}
    assert {r["yt_dlp"] for r in st.values()} == {""}, "yt-dlp is not used for local files"
    for clip_id, _, start, end in rows[::5]:
        pcm = member(cfg, clip_id)
        assert len(pcm) == round((end - start) * RATE)
        assert abs(phase_offset(pcm, start)) < 0.5, f"{clip_id} is not cut at {start} s"


def test_one_pass_and_per_segment_cuts_agree(tmp_path: Path) -> None:
    """Grouping does not change the audio: a lossless source gives the same samples either way."""
    src = tmp_path / "src.wav"
    make_media(str(src), seconds=40, rate=44100, channels=2, freq=FREQ)
    starts = [0.0, 0.5, 3.25, 7.0, 19.9, 33.3]
    for gap in (0.0, 1000.0):
        cuts = [Cut(f"c{i}", s, s + 2.5, tmp_path / f"gap{gap:g}" / f"c{i}.flac") for i, s in enumerate(starts)]
        cuts.append(Cut("tail", 38.5, None, tmp_path / f"gap{gap:g}" / "tail.flac"))
        spans = plan_spans(cuts, merge_gap=gap)
        assert len(spans) == (len(cuts) - 1 if gap == 0 else 1)  # c0 and c1 overlap: always one pass
        assert all(sp.start == int(sp.start) and sp.start <= sp.cuts[0].start - min(LEAD_IN_S, sp.cuts[0].start)
                   for sp in spans)
        for sp in spans:
            assert all(r.samples > 0 and not r.error for r in cut_span(src, sp, sample_rate=RATE))
    for name in [*(f"c{i}" for i in range(len(starts))), "tail"]:
        a, _ = soundfile.read(tmp_path / "gap0" / f"{name}.flac", dtype="int16")
        b, _ = soundfile.read(tmp_path / "gap1000" / f"{name}.flac", dtype="int16")
        assert np.array_equal(a, b), name
    tail, _ = soundfile.read(tmp_path / "gap0" / "tail.flac", dtype="float64")
    assert abs(len(tail) - 1.5 * RATE) <= 1


def test_spans_merge_by_gap() -> None:
    out = Path("/nonexistent")
    cuts = [Cut("a", 0, 2, out), Cut("b", 10, 12, out), Cut("c", 200, 205, out), Cut("d", 300, None, out),
            Cut("e", 900, 901, out)]
    spans = plan_spans(cuts, merge_gap=60)
    assert [[c.key for c in s.cuts] for s in spans] == [["a", "b"], ["c"], ["d", "e"]]
    assert [(s.start, s.end) for s in spans] == [(0.0, 13.0), (199.0, 206.0), (299.0, None)]


def test_local_file_failures_are_recorded_short(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    tone = tmp_path / "tone.wav"
    make_media(str(tone), seconds=2, rate=RATE)
    rows = [("gone", (tmp_path / "no such dir" / "x.wav").as_uri(), 0, 1), ("junk", junk.as_uri(), 0, 1),
            ("late", tone.as_uri(), 5, 6), ("fine", tone.as_uri(), 0.5, 1.5)]
    cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}])
    make_manifest(cfg, "vggsound")
    s = download_shard(cfg, "vggsound", "train-00000")
    assert (s.ok, s.unavailable, s.invalid, s.local) == (1, 1, 2, 1)
    st = statuses(cfg)
    assert st["gone"]["status"] == "unavailable" and st["gone"]["reason"] == "file missing"
    assert st["junk"]["status"] == "invalid" and st["junk"]["reason"].startswith("undecodable: ")
    assert st["late"]["status"] == "invalid" and "after the end" in st["late"]["reason"]
    for r in st.values():
        assert str(tmp_path) not in r["reason"], r["reason"]
    assert str(tmp_path) in st["gone"]["message"], "the raw message is kept"


# --------------------------------------------------------------------------- local copies


def test_vggsound_local_copy_without_fallback(tmp_path: Path) -> None:
    """VGGSound's layout {youtube_id}_{start:06d}.mp4; two clips missing, YouTube never asked."""
    ids = ["--0PQM4-hqg", "-0BKyt8iZ1I", "-1nShHX4gjU", "-2sE5CH8Wb8", "-4lJm4PJrVk"]
    src = tmp_path / "vggsound.csv"
    src.write_text("".join(f'{y},{30 * i},"dog, barking",train\n' for i, y in enumerate(ids)), encoding="utf-8")
    copy = tmp_path / "VGG Sound copy"
    copy.mkdir()
    for i, y in enumerate(ids[:3]):
        make_media(str(copy / f"{y}_{30 * i:06d}.mp4"), seconds=3.0, video=True)
    cfg = config(tmp_path, format="vggsound", sources=[{"path": str(src)}],
                 local_source={"template": copy.as_uri() + "/{youtube_id}_{start:06d}.mp4", "fallback": "none"})
    make_manifest(cfg, "vggsound")
    s = download_shard(cfg, "vggsound", "train-00000")
    assert (s.ok, s.local, s.unavailable) == (3, 3, 2)
    st = statuses(cfg)
    for i, y in enumerate(ids):
        row = st[f"{y}_{30 * i:06d}"]
        assert row["origin"] == "local" and row["yt_dlp"] == ""
        assert row["status"] == ("ok" if i < 3 else "unavailable")
        if i >= 3:
            assert row["reason"] == "not in local copy"
    assert abs(len(member(cfg, f"{ids[0]}_000000")) / RATE - 3.0) < 0.05
    validate_shard(cfg, "vggsound", "train-00000")
    total = count_availability(cfg, "vggsound")[-1]
    assert (total.manifest, total.local, total.downloaded, total.missing, total.blocked, total.valid) == (5, 3, 0, 2, 0, 3)


def test_local_copy_with_fallback_fetches_only_the_missing(tmp_path: Path) -> None:
    media = {f"c{i}.mp4": make_media(str(tmp_path / f"c{i}.mp4"), seconds=4, video=True) for i in range(4)}
    copy = tmp_path / "copy"
    copy.mkdir()
    for i in (0, 2):  # the copy holds just the segments
        make_media(str(copy / f"c{i}.wav"), seconds=2.0, rate=RATE)
    with MediaServer(media) as srv:
        rows = [(f"c{i}", srv.url("ok", f"c{i}.mp4"), 1, 3) for i in range(4)]
        cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}],
                     local_source={"template": str(copy) + "/{clip_id}.wav", "contains": "clip"})
        make_manifest(cfg, "vggsound")
        s = download_shard(cfg, "vggsound", "train-00000")
        asked = {n: srv.count(n) for n in media}
    assert (s.ok, s.local) == (4, 2)
    assert asked["c0.mp4"] == asked["c2.mp4"] == 0 and asked["c1.mp4"] > 0 and asked["c3.mp4"] > 0
    st = statuses(cfg)
    assert [st[f"c{i}"]["origin"] for i in range(4)] == ["local", "http", "local", "http"]
    import yt_dlp.version
    assert st["c1"]["yt_dlp"] == yt_dlp.version.__version__ and st["c0"]["yt_dlp"] == ""
    validate_shard(cfg, "vggsound", "train-00000")
    md, csv_path = write_availability(cfg, "vggsound")
    with open(csv_path, encoding="utf-8") as fh:
        total = [r for r in csv.DictReader(fh) if r["split"] == "total"][0]
    assert (total["local"], total["downloaded"], total["missing"], total["blocked"]) == ("2", "2", "0", "0")
    assert yt_dlp.version.__version__ in total["yt_dlp"] and yt_dlp.version.__version__ in md.read_text()


def test_kinetics_names_and_whole_videos(tmp_path: Path, video: Path) -> None:
    """``{start:06d}_{end:06d}`` from whole seconds; ``contains: video`` cuts at start / end."""
    header = "label,youtube_id,time_start,time_end,split\n"
    src = tmp_path / "k400.csv"
    src.write_text(header + "bowling,--0PQM4-hqg,13,23,train\nbowling,-0BKyt8iZ1I,40,50,train\n", encoding="utf-8")
    copy = tmp_path / "kinetics"
    copy.mkdir()
    os.symlink(video, copy / "--0PQM4-hqg_000013_000023.mp4")
    os.symlink(video, copy / "-0BKyt8iZ1I.mp4")
    base = {"format": "kinetics400", "sources": [{"path": str(src)}], "classes": ["bowling", "singing"]}
    cfg = config(tmp_path, **base, local_source={"template": copy.as_uri() + "/{youtube_id}_{start:06d}_{end:06d}.mp4",
                                                  "fallback": "none"})
    make_manifest(cfg, "vggsound")
    s = download_shard(cfg, "vggsound", "train-00000")
    assert (s.ok, s.unavailable) == (1, 1)
    assert abs(phase_offset(member(cfg, "--0PQM4-hqg_000013_000023"), 0.0)) < 0.5  # a clip file: read from 0
    (tmp_path / "v").mkdir()
    cfg = config(tmp_path / "v", **base, local_source={"template": copy.as_uri() + "/{youtube_id}.mp4",
                                                        "contains": "video", "fallback": "none"})
    make_manifest(cfg, "vggsound")
    s = download_shard(cfg, "vggsound", "train-00000")
    assert s.ok == 1 and s.local == 1
    pcm = member(cfg, "-0BKyt8iZ1I_000040_000050")
    assert len(pcm) == 10 * RATE and abs(phase_offset(pcm, 40.0)) < 0.5


def test_template_errors_name_the_key_and_the_row(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"datasets\.vggsound\.local_source\.template: unknown field.*'ytid'"):
        config(tmp_path, local_source={"template": "file:///x/{ytid}.mp4"})
    with pytest.raises(ConfigError, match=r"local_source\.template: .* must be a file URL \(file:///...\) or a path"):
        config(tmp_path, local_source={"template": "https://mirror.example/{clip_id}.mp4"})
    config(tmp_path, local_source={"template": "clips/{clip_id}.mp4"})  # relative: from the working directory
    rows = [("a", "https://example.org/a.wav", 0, 1), ("b", "https://example.org/b.wav", 2.5, "")]
    cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}],
                 local_source={"template": "file:///x/{youtube_id}.mp4"})
    make_manifest(cfg, "vggsound")
    with pytest.raises(ConfigError, match=r"datasets\.vggsound\.local_source\.template: .*manifest line 2 "
                                          r"\(clip a\): source .* is not a YouTube id"):
        download_shard(cfg, "vggsound", "train-00000")
    cfg = config(tmp_path, sources=[{"path": str(tmp_path / "src.csv")}],
                 local_source={"template": "file:///x/{clip_id}_{start:06d}.mp4"})
    with pytest.raises(ConfigError, match=r"manifest line 3 \(clip b, start 2.5"):
        download_shard(cfg, "vggsound", "train-00000")
    cfg = config(tmp_path, sources=[{"path": str(tmp_path / "src.csv")}],
                 local_source={"template": "file:///x/{clip_id}_{end}.mp4"})
    with pytest.raises(ConfigError, match=r"manifest line 3 \(clip b\): the row has no end"):
        download_shard(cfg, "vggsound", "train-00000")
    assert not ShardPaths.of(cfg, "vggsound", "train-00000").work.exists(), "nothing was started"


# --------------------------------------------------------------------------- paths people have


def test_paths_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    kit = tmp_path / "Drums" / "The Black Pearl 1.0"
    cafe = tmp_path / "Drums" / "Café kit (ünïcode) 'n' $HOME"
    kit.mkdir(parents=True)
    cafe.mkdir(parents=True)
    for d, name in ((kit, "Kick 01.wav"), (cafe, "snäre.wav"), (cafe, "hat #2.wav")):
        make_media(str(d / name), seconds=1.0, rate=22050)
    rows = [("plain", str(kit / "Kick 01.wav"), 0, 1),                       # a plain absolute path
            ("raw_url", "file://" + str(cafe / "snäre.wav"), 0, 1),           # a file URL, characters raw
            ("encoded", (cafe / "hat #2.wav").as_uri(), 0, 1)]                 # percent-encoded
    cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}])
    m = make_manifest(cfg, "vggsound")
    sources = {e.clip_id: e.source for e in m.entries}
    assert sources["plain"] == (kit / "Kick 01.wav").as_uri() and " " not in sources["plain"]
    assert sources["raw_url"] == (cafe / "snäre.wav").as_uri() and sources["raw_url"].isascii()
    assert sources["encoded"] == (cafe / "hat #2.wav").as_uri()
    s = download_shard(cfg, "vggsound", "train-00000")
    assert (s.ok, s.local) == (3, 3)

    bad = user_csv(tmp_path / "bad.csv", [("nl", str(kit) + "/a\nb.wav", 0, 1)])
    cfg = config(tmp_path, sources=[{"path": str(bad)}])
    with pytest.raises(ManifestError, match=r"Black%20Pearl%201\.0/a%0Ab\.wav: control characters"):
        make_manifest(cfg, "vggsound")
    dots = user_csv(tmp_path / "dots.csv", [("up", str(kit) + "/../../etc/passwd", 0, 1)])
    with pytest.raises(ManifestError, match=r"'\.\.' or '\.' path segments"):
        make_manifest(config(tmp_path, sources=[{"path": str(dots)}]), "vggsound")


# --------------------------------------------------------------------------- open ends


def test_empty_end_short_clips_are_valid_and_padded(tmp_path: Path) -> None:
    """One-shot samples of 0.1-1.5 s listed without an end: valid against their own length."""
    from datar.features.extract import ShardPaths as FbankPaths, extract_shard

    shots = {"tick": 0.1, "clap": 0.4, "crash": 1.5, "blip": 0.01}
    for name, seconds in shots.items():
        make_media(str(tmp_path / f"{name}.wav"), seconds=seconds, rate=44100)
    rows = [(name, (tmp_path / f"{name}.wav").as_uri(), 0, "") for name in shots]
    rows.append(("late", (tmp_path / "crash.wav").as_uri(), 0.5, ""))
    cfg = config(tmp_path, sources=[{"path": str(user_csv(tmp_path / "src.csv", rows))}])
    make_manifest(cfg, "vggsound")
    download_shard(cfg, "vggsound", "train-00000")
    checks = {c.clip_id: c for c in validate_shard(cfg, "vggsound", "train-00000")}
    assert {k: c.status for k, c in checks.items()} == {
        "tick": "ok", "clap": "ok", "crash": "ok", "blip": "invalid", "late": "ok"}, checks
    assert "one fbank frame" in checks["blip"].reason
    assert abs(checks["late"].duration - 1.0) < 0.01
    assert abs(float(statuses(cfg)["crash"]["source_seconds"]) - 1.5) < 0.01
    n = extract_shard(FbankPaths.for_shard(cfg.data_dir, "vggsound", "train-00000"), dataset="vggsound", shard="train-00000",
                      heads=("label",), sample_rate=RATE, cfg=cfg.fbank)
    assert n == 4
    from safetensors import safe_open

    with safe_open(str(FbankPaths.for_shard(cfg.data_dir, "vggsound", "train-00000").out), "pt") as f:
        fb, frames = f.get_tensor("fbank"), f.get_tensor("n_frames")
    assert tuple(fb.shape) == (4, cfg.fbank.target_length, cfg.fbank.num_mel_bins)
    assert 0 < int(frames.min()) < cfg.fbank.target_length // 4
