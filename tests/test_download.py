"""Download stage: real yt-dlp and ffmpeg against a local HTTP server (127.0.0.1) and file URLs."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from datar.__main__ import main as datar_main
from datar.config import Config, config_from_mapping
from datar.data.clip_status import STATUS_COLUMNS
from datar.data.download import ShardPaths, download_shard
from datar.data.ffmpeg_audio import read_tar_member_audio
from datar.data.fetch_clip import ClipJob, fetch_clip
from datar.data.shard_rows import ClipRow
from datar.data.ytdlp import build_options, classify
from datar.errors import ManifestError

sys.path.insert(0, str(Path(__file__).parent))
from httpserver import MediaServer, make_media  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARD = "train-00000"
RETRIES = 2
BACKOFF = 0.01


def make_config(tmp_path: Path, **download: object) -> Config:
    """The demo config with data under ``tmp_path`` and fast retries; writes it as YAML too."""
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    raw["data_dir"] = str(tmp_path / "data")
    raw["download"].update({"retries": RETRIES, "backoff_seconds": BACKOFF, "socket_timeout": 5,
                            "workers": 2, "allowed_schemes": ["youtube", "http", "https", "file"]}, **download)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return config_from_mapping(raw)


def write_manifest(cfg: Config, rows: list[tuple[str, str, float, float | str]], *, shard: str = SHARD) -> Path:
    """A manifest in the contract's format (clip_id,source,start,end,split,shard,label)."""
    path = Path(cfg.data_dir) / "vggsound" / "manifest.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", "label"])
        for clip_id, source, start, end in rows:
            w.writerow([clip_id, source, start, end, "train", shard, "tone"])
    return path


def read_status(cfg: Config) -> dict[str, dict[str, str]]:
    with open(ShardPaths.of(cfg, "vggsound", SHARD).status) as fh:
        return {r["clip_id"]: r for r in csv.DictReader(fh)}


def tar_names(cfg: Config) -> list[str]:
    with tarfile.open(ShardPaths.of(cfg, "vggsound", SHARD).tar) as tar:
        return tar.getnames()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("media")
    return {
        "tone.mp4": make_media(str(d / "tone.mp4"), seconds=6, video=True),
        "tone.wav": make_media(str(d / "tone.wav"), seconds=4, rate=22050, channels=2),
        "junk.mp4": np.random.default_rng(0).integers(0, 256, 30000, dtype=np.uint8).tobytes(),
    }


def test_http_section_and_file_url_cut(tmp_path: Path, media: dict[str, bytes]) -> None:
    cfg = make_config(tmp_path)
    wav = tmp_path / "tone.wav"
    wav.write_bytes(media["tone.wav"])
    with MediaServer(media) as srv:
        write_manifest(cfg, [("sect", srv.url("ok", "tone.mp4"), 1.0, 3.5),
                             ("norange", srv.url("norange", "tone.mp4"), 2.0, 4.0),
                             ("local", wav.as_uri(), 1.0, 3.0),
                             ("whole", wav.as_uri(), 0.0, "")])
        summary = download_shard(cfg, "vggsound", SHARD)
        ranged = [r.range for r in srv.log if r.mode == "ok" and r.range]
    assert (summary.ok, summary.unavailable, summary.invalid) == (4, 0, 0)
    assert ranged, "the section download should use byte ranges"
    tar = ShardPaths.of(cfg, "vggsound", SHARD).tar
    assert sorted(tar_names(cfg)) == ["local.flac", "norange.flac", "sect.flac", "whole.flac"]
    rate = cfg.audio.sample_rate
    for clip_id, seconds in (("sect", 2.5), ("norange", 2.0), ("local", 2.0), ("whole", 4.0)):
        pcm = read_tar_member_audio(tar, clip_id, rate)
        assert pcm.dtype == np.float32 and pcm.ndim == 1
        assert abs(len(pcm) / rate - seconds) < 0.05, clip_id
        assert np.sqrt(np.mean(pcm**2)) > 0.01, clip_id
    status = read_status(cfg)
    assert all(r["status"] == "ok" and r["reason"] == "" and r["attempts"] == "1" for r in status.values())
    with tarfile.open(tar) as t:
        assert int(status["sect"]["bytes"]) == t.getmember("sect.flac").size
    assert not ShardPaths.of(cfg, "vggsound", SHARD).work.exists(), "the work dir is removed at the end"
    with pytest.raises(Exception, match="no member"):
        read_tar_member_audio(tar, "missing", rate)


def test_dead_corrupt_truncated_and_flaky(tmp_path: Path, media: dict[str, bytes]) -> None:
    cfg = make_config(tmp_path)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(media["junk.mp4"])
    with MediaServer(media) as srv:
        manifest = write_manifest(cfg, [
            ("dead", srv.url("404", "tone.mp4"), 1, 3),
            ("gone", srv.url("410", "tone.mp4"), 1, 3),
            ("nofile", (tmp_path / "nope.wav").as_uri(), 0, 2),
            ("junkhttp", srv.url("ok", "junk.mp4"), 0, 2),
            ("junkfile", junk.as_uri(), 0, 2),
            ("trunc", srv.url("trunc", "tone.mp4"), 1, 3.5),
            ("busy", srv.url("429x1", "tone.mp4"), 1, 3),
            ("flaky", srv.url("500x2", "tone.mp4"), 1, 3),
            ("down", srv.url("503x99", "tone.mp4"), 1, 3),
            ("reset", srv.url("reset", "tone.mp4"), 1, 3),
            ("slow", srv.url("slow", "tone.mp4"), 1, 3),
        ])
        summary = download_shard(cfg, "vggsound", SHARD)
        assert srv.count(mode="404") == 1 and srv.count(mode="410") == 1, "dead links are not retried"
        assert srv.count(mode="503x99", method="GET") >= RETRIES + 1
    status = read_status(cfg)
    with open(ShardPaths.of(cfg, "vggsound", SHARD).status) as fh:
        assert tuple(next(csv.reader(fh))) == STATUS_COLUMNS
    assert list(status) == [line.split(",")[0] for line in manifest.read_text().splitlines()[1:]]
    expect = {"dead": "unavailable", "gone": "unavailable", "nofile": "unavailable", "junkhttp": "invalid",
              "junkfile": "invalid", "trunc": "unavailable", "busy": "ok", "flaky": "ok",
              "down": "unavailable", "reset": "unavailable", "slow": "ok"}
    assert {k: v["status"] for k, v in status.items()} == expect
    assert "404" in status["dead"]["reason"] and status["dead"]["attempts"] == "1"
    assert "truncated" in status["trunc"]["reason"] and status["trunc"]["attempts"] == str(RETRIES + 1)
    assert status["busy"]["attempts"] == "2" and status["flaky"]["attempts"] == "3"
    assert "503" in status["down"]["reason"] and status["down"]["attempts"] == str(RETRIES + 1)
    assert "reset" in status["reset"]["reason"].lower()
    assert all(v["bytes"] == "0" for v in status.values() if v["status"] != "ok")
    assert sorted(tar_names(cfg)) == ["busy.flac", "flaky.flac", "slow.flac"]
    assert (summary.ok, summary.unavailable, summary.invalid) == (3, 6, 2)


def test_backoff_is_exponential(tmp_path: Path, media: dict[str, bytes]) -> None:
    cfg = make_config(tmp_path, retries=3, backoff_seconds=0.5)
    slept: list[float] = []
    with MediaServer(media) as srv:
        row = ClipRow(clip_id="c", source=srv.url("500x2", "tone.mp4"), start=0.0, end=2.0, line=2)
        job = ClipJob(row=row, flac=tmp_path / "c.flac", scratch=tmp_path / "scratch")
        st = fetch_clip(job, cfg, sleep=slept.append)
    assert st.status == "ok" and st.attempts == 3
    assert slept == [0.5, 1.0]
    assert not job.scratch.exists()


def test_killed_shard_rerun_fetches_only_missing(tmp_path: Path, media: dict[str, bytes]) -> None:
    cfg = make_config(tmp_path, workers=1)
    names = [f"c{i}.mp4" for i in range(4)]
    files = {n: media["tone.mp4"] for n in names}
    with MediaServer(files, slow_chunk=2048, slow_pause=0.02) as srv:
        write_manifest(cfg, [(f"c{i}", srv.url("slow", n), 1, 3) for i, n in enumerate(names)])
        work = ShardPaths.of(cfg, "vggsound", SHARD).work
        proc = subprocess.Popen(
            [sys.executable, "-m", "datar", "download", "--config", str(tmp_path / "config.yaml"),
             "--dataset", "vggsound", "--shard", SHARD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(work.glob("*.status.json"))) < 2:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = sorted(p.name.removesuffix(".status.json") for p in work.glob("*.status.json"))
        assert 2 <= len(done) < 4, done
        assert not ShardPaths.of(cfg, "vggsound", SHARD).status.exists()
        before = {n: srv.count(n) for n in names}
        summary = download_shard(cfg, "vggsound", SHARD)
        after = {n: srv.count(n) for n in names}
    assert summary.fetched == 4 - len(done) and summary.ok == 4
    for i, n in enumerate(names):
        if f"c{i}" in done:
            assert after[n] == before[n], f"{n} was fetched again"
        else:
            assert after[n] > before[n]
    assert sorted(tar_names(cfg)) == [f"c{i}.flac" for i in range(4)]
    assert all(r["status"] == "ok" for r in read_status(cfg).values())


def test_bad_manifest_rows_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(tmp_path, allowed_schemes=["youtube", "https", "http"])
    write_manifest(cfg, [("a", "file:///etc/passwd", 0, 2)])
    with pytest.raises(ManifestError, match="allowed_schemes"):
        download_shard(cfg, "vggsound", SHARD)
    with pytest.raises(ManifestError, match="train-00042"):
        download_shard(cfg, "vggsound", "train-00042")
    write_manifest(cfg, [("../evil", "dQw4w9WgXcQ", 0, 2)])
    with pytest.raises(ManifestError, match="manifest.csv:2"):
        download_shard(cfg, "vggsound", SHARD)
    write_manifest(cfg, [("a", "http://x/y; rm -rf ~", 0, 2)])
    assert datar_main(["download", "--config", str(tmp_path / "config.yaml"), "--dataset", "vggsound",
                       "--shard", SHARD]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (Path(cfg.data_dir) / "vggsound" / "clips" / f"{SHARD}.tar").exists()


@pytest.mark.parametrize(("message", "kind"), [
    ("[generic] x: Unable to download webpage: HTTP Error 404: Not Found", "unavailable"),
    ("[youtube] abc: Private video. Sign in if you've been granted access", "unavailable"),
    ("[youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable"),
    ("HTTP Error 403: Forbidden", "unavailable"),
    ("HTTP Error 429: Too Many Requests", "throttled"),
    ("HTTP Error 502: Bad Gateway", "retry"),
    ("The read operation timed out", "retry"),
    ("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))", "retry"),
    ("x.mp4: Invalid data found when processing input", "invalid"),
])
def test_classify(message: str, kind: str) -> None:
    assert classify(message) == kind


def test_options_reach_ytdlp(tmp_path: Path) -> None:
    import yt_dlp

    cfg = make_config(tmp_path, rate_limit=50000, sleep_interval=0.5, js_runtime="node:/usr/bin/node",
                      cookies=str(tmp_path / "cookies.txt"))
    (tmp_path / "cookies.txt").write_text("# Netscape HTTP Cookie File\n")
    opts = build_options(cfg.download, outtmpl=str(tmp_path / "x.%(ext)s"), section=(2.0, 5.0))
    assert opts["ratelimit"] == 50000 and opts["sleep_interval"] == 0.5
    assert opts["cookiefile"].endswith("cookies.txt") and opts["force_keyframes_at_cuts"] is True
    assert opts["js_runtimes"] == {"node": {"path": "/usr/bin/node"}}
    with yt_dlp.YoutubeDL(opts) as ydl:  # this yt-dlp version accepts every option we pass
        assert "node" in ydl.params["js_runtimes"]
        ranges = list(opts["download_ranges"]({"duration": 10}, ydl))
    assert ranges == [{"start_time": 2.0, "end_time": 5.0}]
