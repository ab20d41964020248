"""Blocked is not dead (issue 12): YouTube's refusals, the circuit breaker, and carrying on.

Real yt-dlp and ffmpeg against the local HTTP server (tests/httpserver.py): the ``gate`` mode
keeps answering 429 until the test lets it recover; ``botcheck`` answers 403 with YouTube's
bot-check sentence, which yt-dlp puts in its error.
"""

from __future__ import annotations

import csv
import dataclasses
import sys
import tarfile
from pathlib import Path

import pytest

from datar.__main__ import main as datar_main
from datar.data.availability import count_availability, write_availability
from datar.data.download import DownloadBlocked, ShardPaths, download_shard
from datar.data.failures import describe
from datar.data.fetch_clip import ClipJob, fetch_clip
from datar.data.shard_rows import ClipRow
from datar.data.validate import validate_shard
from datar.report.availability import read_availability

sys.path.insert(0, str(Path(__file__).parent))
from httpserver import MediaServer, make_media  # noqa: E402
from test_download import SHARD, make_config, read_status, write_manifest  # noqa: E402

BOT = ("[youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies "
       "for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  "
       "for how to manually pass cookies")
LIMIT = ("[youtube] 8NxoMpXM2oI: Video unavailable. This content isn't available, try again later. The current "
         "session has been rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add a "
         "delay between video requests to avoid exceeding the rate limit.")


@pytest.mark.parametrize(("message", "kind", "reason"), [
    (BOT, "blocked", "bot check"),
    (LIMIT, "blocked", "request limit"),
    ("You've hit the request limit", "blocked", "request limit"),
    ("[youtube] abc: Requested format is not available. Use --list-formats for a list of available formats",
     "blocked", "no downloadable format"),
    ("[youtube] abc: YouTube is requiring a captcha challenge before playback", "blocked", "captcha"),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "blocked", "HTTP 403 on the media stream"),
    ("HTTP Error 429: Too Many Requests", "throttled", "HTTP 429"),
    ("[youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable", "video removed"),
    ("[youtube] abc: Video unavailable", "unavailable", "video unavailable"),
    ("[youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
     "unavailable", "age-restricted"),
    ("[generic] x: Unable to download webpage: HTTP Error 404: Not Found", "unavailable", "HTTP 404"),
    ("/data/clips/x/a.mp4: No such file or directory", "unavailable", "file missing"),
    ("/srv/x/a b.mp4: Invalid data found when processing input", "invalid", "undecodable: Invalid data found"),
])
def test_refusals_are_blocked_not_dead(message: str, kind: str, reason: str) -> None:
    got_kind, got_reason = describe(message)
    assert (got_kind, got_reason[: len(reason)]) == (kind, reason)
    assert "/srv" not in got_reason and "/data" not in got_reason and "http" not in got_reason.lower().replace("http ", "")


def test_bot_check_from_a_server_is_blocked(tmp_path: Path) -> None:
    """The bot-check sentence in yt-dlp's error makes a clip blocked, at once (no retries)."""
    media = {"v.mp4": make_media(str(tmp_path / "v.mp4"), seconds=3)}
    cfg = make_config(tmp_path, retries=3)
    with MediaServer(media) as srv:
        job = ClipJob(row=ClipRow("v", srv.url("botcheck", "v.mp4"), 0.0, 2.0, 2), flac=tmp_path / "v.flac",
                      scratch=tmp_path / "scratch")
        st = fetch_clip(job, cfg, sleep=lambda s: None)
        asked = srv.count("v.mp4", method="GET")
    assert st.status == "blocked" and st.attempts == 1 and asked == 1
    assert st.reason.startswith("bot check") and "not a bot" in st.message
    assert st.origin == "http" and st.yt_dlp


def test_breaker_trips_keeps_what_finished_and_a_rerun_carries_on(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """3 clips finish, then the server keeps answering 429: 5 blocked in a row (the default) trip the breaker."""
    names = [f"c{i}.mp4" for i in range(11)]
    tone = make_media(str(tmp_path / "tone.mp4"), seconds=3)
    cfg = make_config(tmp_path, workers=1, retries=1)
    config_path = tmp_path / "config.yaml"
    assert cfg.download.max_consecutive_blocked == 5
    with MediaServer({n: tone for n in names}) as srv:
        srv.gate_status = 429
        write_manifest(cfg, [(f"c{i}", srv.url("ok" if i < 3 else "gate", n), 0.5, 2.5) for i, n in enumerate(names)])
        code = datar_main(["download", "--config", str(config_path), "--dataset", "vggsound", "--shard", SHARD])
        err = capsys.readouterr().err
        paths = ShardPaths.of(cfg, "vggsound", SHARD)
        assert code == 2
        for key in ("download.cookies", "download.rate_limit", "download.sleep_interval", "yt-dlp"):
            assert key in err, key
        assert "5 consecutive blocked clips" in err and "3 of 11 clips are finished" in err
        assert not paths.tar.exists() and not paths.status.exists(), "no shard output from a stopped job"
        kept = sorted(p.name for p in paths.work.glob("*.flac"))
        assert kept == ["c0.flac", "c1.flac", "c2.flac"]
        gated = [srv.count(n) for n in names[3:]]
        assert all(n > 0 for n in gated[:5]) and gated[5:] == [0] * 3, "nothing is asked after the trip"
        assert srv.count(mode="gate", method="GET") <= 5 * 2, "each blocked clip: at most 1 + retries requests"
        with pytest.raises(DownloadBlocked):  # still refusing: stops again, quickly
            download_shard(cfg, "vggsound", SHARD)
        before = {n: srv.count(n) for n in names}
        srv.gate_status = None  # the server recovers
        summary = download_shard(cfg, "vggsound", SHARD)
        after = {n: srv.count(n) for n in names}
    assert (summary.ok, summary.blocked, summary.fetched) == (11, 0, 8)
    assert all(after[n] == before[n] for n in names[:3]), "clips already ok are not downloaded again"
    assert all(after[n] > before[n] for n in names[3:])
    assert {r["status"] for r in read_status(cfg).values()} == {"ok"}
    assert not paths.work.exists()


def test_shard_with_some_blocked_clips_completes_and_only_they_are_refetched(tmp_path: Path) -> None:
    """Blocked clips apart (not consecutive): the shard completes; blocked is not-yet-known downstream."""
    tone = make_media(str(tmp_path / "tone.mp4"), seconds=3)
    names = [f"c{i}.mp4" for i in range(5)]
    cfg = dataclasses.replace(make_config(tmp_path, workers=1, retries=0), results_dir=str(tmp_path / "results"))
    with MediaServer({n: tone for n in names}) as srv:
        srv.gate_status = 429
        modes = ["ok", "gate", "ok", "gate", "404"]
        write_manifest(cfg, [(f"c{i}", srv.url(m, n), 0.5, 2.5) for i, (m, n) in enumerate(zip(modes, names))])
        s = download_shard(cfg, "vggsound", SHARD)
        assert (s.ok, s.blocked, s.unavailable) == (2, 2, 1)
        st = read_status(cfg)
        assert [st[f"c{i}"]["status"] for i in range(5)] == ["ok", "blocked", "ok", "blocked", "unavailable"]
        assert st["c1"]["reason"].startswith("HTTP 429") and st["c1"]["bytes"] == "0"
        paths = ShardPaths.of(cfg, "vggsound", SHARD)
        assert paths.finished.is_file() and paths.finished.stat().st_ino == paths.tar.stat().st_ino
        assert not list(paths.work.glob("*.flac")), "ok clips are kept once, in the tar"

        checks = {c.clip_id: c.status for c in validate_shard(cfg, "vggsound", SHARD)}
        assert checks == {"c0": "ok", "c1": "blocked", "c2": "ok", "c3": "blocked", "c4": "unavailable"}
        total = count_availability(cfg, "vggsound")[-1]
        assert (total.downloaded, total.missing, total.blocked, total.valid) == (2, 1, 2, 2)
        md, csv_path = write_availability(cfg, "vggsound")
        text = md.read_text()
        assert "Blocked clips (not known yet)" in text and f"clips/{SHARD}.status.csv" in text
        avail = read_availability(csv_path)
        assert avail is not None and avail.blocked == {"train": 2} and avail.downloaded["train"] == 2

        paths.tar.unlink()  # what Snakemake does before it reruns a job (--force on this shard)
        paths.status.unlink()
        before = {n: srv.count(n) for n in names}
        srv.gate_status = None
        s = download_shard(cfg, "vggsound", SHARD)
        after = {n: srv.count(n) for n in names}
    assert (s.ok, s.blocked, s.unavailable, s.fetched) == (4, 0, 1, 2)
    assert [after[n] - before[n] > 0 for n in names] == [False, True, False, True, False]
    with tarfile.open(paths.tar) as tar:
        assert sorted(tar.getnames()) == ["c0.flac", "c1.flac", "c2.flac", "c3.flac"]
    assert not paths.work.exists()


def test_old_status_csvs_are_still_read(tmp_path: Path) -> None:
    from datar.data.clip_status import read_status_csv

    path = tmp_path / "s.csv"
    path.write_text("clip_id,status,reason,attempts,bytes\na,ok,,1,10\nb,unavailable,HTTP Error 404,1,0\n")
    rows = read_status_csv(path)
    assert [(r.clip_id, r.status, r.origin, r.source_seconds) for r in rows] == [
        ("a", "ok", "", None), ("b", "unavailable", "", None)]
    with open(path, "a") as fh:
        csv.writer(fh).writerow(["c", "pending", "", 1, 0])
    with pytest.raises(Exception, match=r"s.csv:4: status 'pending' is not one of ok, unavailable, invalid, blocked"):
        read_status_csv(path)
