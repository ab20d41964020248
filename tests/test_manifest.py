"""Manifests: the four source formats, row checks, skip mode, sharding, val holdout, fetching."""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import json
import shutil
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from datar.__main__ import main as datar_main
from datar.config import Config, config_from_mapping
from datar.data.manifest import make_manifest, val_draw
from datar.data.rows import BadRow, check_clip_id, check_source
from datar.errors import ConfigError, ManifestError

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "manifests"
SHARED = REPO.parent / "shared" / "fixtures" / "manifests"
KS_CLASSES = ["bowling", "playing bass guitar", "playing saxophone", "playing violin"]


def make_cfg(tmp_path: Path, name: str, entry: dict[str, Any], **sections: dict[str, Any]) -> Config:
    """The demo config with ``datasets.<name>`` replaced and data/results under tmp_path."""
    raw = yaml.safe_load((REPO / "config" / "demo.yaml").read_text(encoding="utf-8"))
    raw["data_dir"] = str(tmp_path / "data")
    raw["results_dir"] = str(tmp_path / "results")
    raw["datasets"][name] = entry
    raw["download"]["allowed_schemes"] = ["youtube", "https", "http", "file"]
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return config_from_mapping(raw, origin="test")


def read_manifest(cfg: Config, name: str) -> list[dict[str, str]]:
    with open(Path(cfg.data_dir) / name / "manifest.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_json(cfg: Config, name: str, file: str) -> dict[str, Any]:
    return json.loads((Path(cfg.data_dir) / name / file).read_text(encoding="utf-8"))


def write(tmp_path: Path, text: str | bytes, name: str = "src.csv") -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


# --------------------------------------------------------------------------- formats


def test_vggsound_quoted_labels_clip_ids_and_segments(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, "vggsound", {"format": "vggsound", "sources": [{"path": str(FIXTURES / "vggsound.csv")}]})
    make_manifest(cfg, "vggsound")
    rows = {r["clip_id"]: r for r in read_manifest(cfg, "vggsound")}
    assert len(rows) == 6
    r = rows["--9O4XZOge4_000030"]
    assert r["label"] == "female speech, woman speaking"
    assert r["source"] == "--9O4XZOge4"
    assert float(r["start"]) == 30.0 and float(r["end"]) == 30.0 + cfg.audio.clip_seconds
    assert rows["---g-f_I2yQ_000001"]["split"] == "test"
    classes = read_json(cfg, "vggsound", "classes.json")["heads"]["label"]
    assert classes == sorted(classes) and "bee, wasp, etc. buzzing" in classes and len(classes) == 5


def test_kinetics_filters_classes_and_maps_validate_to_test(tmp_path: Path) -> None:
    entry = {"format": "kinetics400", "classes": KS_CLASSES, "sources": [{"path": str(FIXTURES / "kinetics400.csv")}]}
    cfg = make_cfg(tmp_path, "kinetics_sounds", entry)
    make_manifest(cfg, "kinetics_sounds")
    rows = read_manifest(cfg, "kinetics_sounds")
    assert {r["label"] for r in rows} == set(KS_CLASSES)
    assert {r["split"] for r in rows} == {"test"}
    assert "--7VUM9MKg4_000136_000146" in {r["clip_id"] for r in rows}
    shards = read_json(cfg, "kinetics_sounds", "shards.json")
    assert shards["n_filtered"] == 2 and shards["n_rows"] == 4
    assert read_json(cfg, "kinetics_sounds", "classes.json")["heads"]["label"] == KS_CLASSES


def test_kinetics_configured_split_overrides_the_file(tmp_path: Path) -> None:
    entry = {"format": "kinetics400", "classes": KS_CLASSES,
             "sources": [{"split": "train", "path": str(FIXTURES / "kinetics400.csv")}]}
    cfg = make_cfg(tmp_path, "kinetics_sounds", entry)
    make_manifest(cfg, "kinetics_sounds")
    assert {r["split"] for r in read_manifest(cfg, "kinetics_sounds")} == {"train"}


def test_epic_timestamps_sources_and_integer_classes(tmp_path: Path) -> None:
    entry = {"format": "epic100", "heads": ["verb", "noun"],
             "video_source": "file:///videos/{participant_id}/{video_id}.MP4",
             "sources": [{"split": "train", "path": str(FIXTURES / "epic100.csv")}]}
    cfg = make_cfg(tmp_path, "epic100", entry)
    make_manifest(cfg, "epic100")
    rows = {r["clip_id"]: r for r in read_manifest(cfg, "epic100")}
    r = rows["P02_03_7"]
    assert float(r["start"]) == pytest.approx(3723.25) and float(r["end"]) == pytest.approx(3729.75)
    assert r["source"] == "file:///videos/P02/P02_03.MP4"
    assert (r["verb"], r["noun"]) == ("2", "42")
    assert float(rows["P01_11_0"]["end"]) == pytest.approx(1.89)
    classes = read_json(cfg, "epic100", "classes.json")["heads"]
    assert classes["verb"] == ["0", "1", "2"] and classes["noun"] == [str(i) for i in range(43)]
    with open(Path(cfg.data_dir) / "epic100" / "manifest.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "clip_id,source,start,end,split,shard,verb,noun"


def test_epic_needs_a_configured_split(tmp_path: Path) -> None:
    entry = {"format": "epic100", "heads": ["verb", "noun"], "video_source": "file:///v/{video_id}.MP4",
             "sources": [{"path": str(FIXTURES / "epic100.csv")}]}
    with pytest.raises(ConfigError, match="split"):
        make_manifest(make_cfg(tmp_path, "epic100", entry), "epic100")


def test_user_csv_single_and_two_heads(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, "vggsound", {"format": "csv", "sources": [{"path": str(FIXTURES / "user.csv")}]})
    make_manifest(cfg, "vggsound")
    rows = {r["clip_id"]: r for r in read_manifest(cfg, "vggsound")}
    assert rows["clip_c"]["end"] == "" and rows["clip.d"]["split"] == "val"
    assert rows["clip.d"]["source"] == "http://example.org/d.ogg?x=1&y=2"
    entry = {"format": "csv", "heads": ["verb", "noun"], "sources": [{"path": str(FIXTURES / "user_two_heads.csv")}]}
    cfg2 = make_cfg(tmp_path / "two", "epic100", entry)
    make_manifest(cfg2, "epic100")
    rows2 = read_manifest(cfg2, "epic100")
    assert [(r["verb"], r["noun"]) for r in rows2] == [("take", "plate"), ("wash", "cloth"), ("take", "cloth")]
    assert read_json(cfg2, "epic100", "classes.json")["heads"] == {"verb": ["take", "wash"], "noun": ["cloth", "plate"]}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared fixtures absent (a user's clone)")
def test_real_file_heads_parse(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, "vggsound", {"format": "vggsound", "sources": [{"path": str(SHARED / "vggsound.head40.csv")}]})
    assert make_manifest(cfg, "vggsound").info["n_rows"] == 40
    entry = {"format": "epic100", "heads": ["verb", "noun"], "video_source": "/data/epic/{participant_id}/{video_id}.MP4",
             "sources": [{"split": "test", "path": str(SHARED / "EPIC_100_validation.head40.csv")}]}
    cfg = make_cfg(tmp_path / "e", "epic100", entry)
    m = make_manifest(cfg, "epic100")
    assert m.info["n_rows"] > 30 and m.entries[0].source.startswith("file:///data/epic/P01/")
    entry = {"format": "kinetics400", "classes": KS_CLASSES, "sources": [{"path": str(SHARED / "kinetics400_validate.head40.csv")}]}
    assert make_manifest(make_cfg(tmp_path / "k", "kinetics_sounds", entry), "kinetics_sounds").info["n_rows"] >= 3


# --------------------------------------------------------------------------- bad rows

GOOD_CSV = "clip_id,source,start,end,label,split\nok1,https://example.org/a.wav,0,3,dog,train\n"

BAD_ROWS = [
    # (format, extra config, file text, bad line, kind)
    ("vggsound", {}, "abc,1,dog,train\n", 1, "bad_youtube_id"),
    ("vggsound", {}, "--0PQM4-hqg,1,dog,train\n--0PQM4-hqX,-5,dog,train\n", 2, "bad_time"),
    ("vggsound", {}, "--0PQM4-hqg,1e9,dog,train\n", 1, "bad_time"),
    ("vggsound", {}, "--0PQM4-hqg,nan,dog,train\n", 1, "bad_time"),
    ("vggsound", {}, "--0PQM4-hqg,1,dog,train\n--0PQM4-hqg,1,cat,train\n", 2, "duplicate_clip_id"),
    ("vggsound", {}, "--0PQM4-hqg,1,dog,holdout\n", 1, "bad_split"),
    ("vggsound", {}, "--0PQM4-hqg,1,dog\n", 1, "bad_columns"),
    ("vggsound", {"classes": ["cat", "cow"]}, "--0PQM4-hqg,1,dog,train\n", 1, "unknown_class"),
    ("csv", {"classes": ["dog", "cat"]}, GOOD_CSV + "x,https://example.org/x.wav,0,3,cow,train\n", 3, "unknown_class"),
    ("csv", {}, GOOD_CSV + "../etc/passwd,https://example.org/x.wav,0,3,dog,train\n", 3, "bad_clip_id"),
    ("csv", {}, GOOD_CSV + ".hidden,https://example.org/x.wav,0,3,dog,train\n", 3, "bad_clip_id"),
    ("csv", {}, GOOD_CSV + "a;rm -rf,https://example.org/x.wav,0,3,dog,train\n", 3, "bad_clip_id"),
    ("csv", {}, GOOD_CSV + "caf\u00e9,https://example.org/x.wav,0,3,dog,train\n", 3, "bad_clip_id"),
    ("csv", {}, GOOD_CSV + "x,https://example.org/$(reboot).wav,0,3,dog,train\n", 3, "bad_source"),
    ("csv", {}, GOOD_CSV + "x,https://example.org/a/../../b.wav,0,3,dog,train\n", 3, "bad_source"),
    ("csv", {}, GOOD_CSV + "x,file:///srv/%2e%2e/etc/passwd,0,3,dog,train\n", 3, "bad_source"),
    ("csv", {}, GOOD_CSV + "x,ftp://example.org/x.wav,0,3,dog,train\n", 3, "bad_source"),
    ("csv", {}, GOOD_CSV + "x,https://example.org/x.wav,5,3,dog,train\n", 3, "bad_time"),
    ("csv", {}, GOOD_CSV + "x,https://example.org/x.wav,0,3,dog,dev\n", 3, "bad_split"),
]


def _bad_cfg(tmp_path: Path, fmt: str, extra: dict[str, Any], text: str | bytes, mode: str) -> tuple[Config, str]:
    src = write(tmp_path, text)
    return make_cfg(tmp_path, "vggsound", {"format": fmt, "sources": [{"path": src}], **extra},
                    manifest={"on_bad_row": mode}), src


@pytest.mark.parametrize(("fmt", "extra", "text", "line", "kind"), BAD_ROWS)
def test_bad_row_is_an_error_naming_file_and_line(tmp_path: Path, fmt: str, extra: dict[str, Any], text: str, line: int, kind: str) -> None:
    cfg, src = _bad_cfg(tmp_path, fmt, extra, text, "error")
    with pytest.raises(ManifestError) as exc:
        make_manifest(cfg, "vggsound")
    assert f"{src}: line {line}:" in str(exc.value)
    assert not (Path(cfg.data_dir) / "vggsound" / "manifest.csv").exists()


@pytest.mark.parametrize(("fmt", "extra", "text", "line", "kind"), BAD_ROWS)
def test_bad_row_is_skipped_and_counted(tmp_path: Path, fmt: str, extra: dict[str, Any], text: str, line: int, kind: str) -> None:
    text = text if fmt == "csv" else text + "--Aa4M484QM,0,cat,train\n"
    cfg, src = _bad_cfg(tmp_path, fmt, extra, text, "skip")
    make_manifest(cfg, "vggsound")
    info = read_json(cfg, "vggsound", "shards.json")
    assert info["n_skipped"] == 1 and info["skipped_by_kind"] == {kind: 1}
    assert info["skipped"][0]["file"] == src and info["skipped"][0]["line"] == line


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    text = b"--0PQM4-hqg,1,dog,train\n--Aa4M484QM,0,caf\xe9,train\n--0PQM4-hqX,2,dog,test\n"
    cfg, src = _bad_cfg(tmp_path, "vggsound", {}, text, "error")
    with pytest.raises(ManifestError, match=rf"{src}: line 2: not valid UTF-8"):
        make_manifest(cfg, "vggsound")
    cfg, _ = _bad_cfg(tmp_path / "s", "vggsound", {}, text, "skip")
    m = make_manifest(cfg, "vggsound")
    assert m.info["n_rows"] == 2 and m.info["skipped_by_kind"] == {"not_utf8": 1}


def test_file_urls_need_the_file_scheme_allowed(tmp_path: Path) -> None:
    src = write(tmp_path, "clip_id,source,start,end,label,split\nx,file:///srv/x.wav,0,3,dog,train\n")
    raw_cfg = make_cfg(tmp_path, "vggsound", {"format": "csv", "sources": [{"path": src}]}).raw
    raw = json.loads(json.dumps(raw_cfg))
    raw["download"]["allowed_schemes"] = ["youtube", "https"]
    cfg = config_from_mapping(raw, origin="test")
    with pytest.raises(ManifestError, match=r"line 2: .*'file' is not in download.allowed_schemes"):
        make_manifest(cfg, "vggsound")


def test_cli_turns_errors_into_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path, "bad-id,1,dog,train\n")
    cfg = make_cfg(tmp_path, "vggsound", {"format": "vggsound", "sources": [{"path": src}]})
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(dict(cfg.raw)), encoding="utf-8")
    assert datar_main(["manifest", "--config", str(cfg_path), "--dataset", "vggsound"]) == 2
    assert f"error: {src}: line 1: YouTube id 'bad-id'" in capsys.readouterr().err


# --------------------------------------------------------------------------- sharding, holdout


def _user_rows(n: int, split: str) -> str:
    return "".join(f"c{i:03d},https://example.org/{i}.wav,0,3,{'dog' if i % 2 else 'cat'},{split}\n" for i in range(n))


def test_sorting_and_sharding(tmp_path: Path) -> None:
    text = "clip_id,source,start,end,label,split\n" + _user_rows(7, "train") + _user_rows(2, "test").replace("c0", "t0")
    lines = text.splitlines()
    text = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"  # unsorted input
    src = write(tmp_path, text)
    cfg = make_cfg(tmp_path, "vggsound", {"format": "csv", "sources": [{"path": src}]}, download={"shard_size": 3})
    make_manifest(cfg, "vggsound")
    rows = read_manifest(cfg, "vggsound")
    assert [r["clip_id"] for r in rows] == [f"c{i:03d}" for i in range(7)] + ["t000", "t001"]
    assert [r["shard"] for r in rows] == ["train-00000"] * 3 + ["train-00001"] * 3 + ["train-00002"] + ["test-00000"] * 2
    info = read_json(cfg, "vggsound", "shards.json")
    assert info["shards"] == [{"name": "train-00000", "split": "train", "n": 3}, {"name": "train-00001", "split": "train", "n": 3},
                              {"name": "train-00002", "split": "train", "n": 1}, {"name": "test-00000", "split": "test", "n": 2}]
    assert info["n_rows"] == 9 and info["splits"] == {"train": 7, "test": 2}


def test_val_holdout_is_deterministic_and_near_the_fraction(tmp_path: Path) -> None:
    src = write(tmp_path, "clip_id,source,start,end,label,split\n" + _user_rows(400, "train"))
    entry = {"format": "csv", "sources": [{"path": src}]}
    cfg = make_cfg(tmp_path / "a", "vggsound", entry, manifest={"val_fraction": 0.25})
    val = {e.clip_id for e in make_manifest(cfg, "vggsound").entries if e.split == "val"}
    cfg2 = make_cfg(tmp_path / "b", "vggsound", entry, manifest={"val_fraction": 0.25})
    assert val == {e.clip_id for e in make_manifest(cfg2, "vggsound").entries if e.split == "val"}
    assert val == {f"c{i:03d}" for i in range(400) if val_draw(f"c{i:03d}") < 0.25}
    assert 60 < len(val) < 140
    assert read_manifest(cfg, "vggsound")[-1]["shard"].startswith("val-")


# --------------------------------------------------------------------------- fetching


def test_file_url_source_with_sha256_is_cached_and_checked(tmp_path: Path) -> None:
    src = Path(write(tmp_path, (FIXTURES / "vggsound.csv").read_text(encoding="utf-8")))
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    cfg = make_cfg(tmp_path, "vggsound", {"format": "vggsound", "sources": [{"url": src.as_uri(), "sha256": good}]})
    m = make_manifest(cfg, "vggsound")
    assert m.info["sources"][0]["sha256"] == good
    assert len(list((Path(cfg.data_dir) / "vggsound" / "sources").iterdir())) == 1
    wrong = "0" * 64
    cfg = make_cfg(tmp_path / "w", "vggsound", {"format": "vggsound", "sources": [{"url": src.as_uri(), "sha256": wrong}]})
    with pytest.raises(ManifestError) as exc:
        make_manifest(cfg, "vggsound")
    assert src.as_uri() in str(exc.value) and wrong in str(exc.value) and good in str(exc.value)


def test_http_source_from_a_local_server(tmp_path: Path) -> None:
    served = tmp_path / "www"
    served.mkdir()
    shutil.copy(FIXTURES / "vggsound.csv", served / "vggsound.csv")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/vggsound.csv"
        cfg = make_cfg(tmp_path, "vggsound", {"format": "vggsound", "sources": [{"url": url}]})
        assert make_manifest(cfg, "vggsound").info["n_rows"] == 6
        cfg = make_cfg(tmp_path / "m", "vggsound", {"format": "vggsound", "sources": [{"url": url + ".missing"}]})
        with pytest.raises(ManifestError, match=r"vggsound.csv.missing: cannot fetch"):
            make_manifest(cfg, "vggsound")
    finally:
        server.shutdown()
        server.server_close()


def test_malformed_csv_names_the_line(tmp_path: Path) -> None:
    cfg, src = _bad_cfg(tmp_path, "vggsound", {}, '--0PQM4-hqg,1,dog,train\n--Aa4M484QM,0,"cat\x00,train\n', "skip")
    with pytest.raises(ManifestError, match=rf"{src}: line 2: malformed csv"):
        make_manifest(cfg, "vggsound")


def test_epic_video_source_scheme_must_be_allowed(tmp_path: Path) -> None:
    entry = {"format": "epic100", "heads": ["verb", "noun"], "video_source": "file:///v/{video_id}.MP4",
             "sources": [{"split": "train", "path": str(FIXTURES / "epic100.csv")}]}
    raw = json.loads(json.dumps(make_cfg(tmp_path, "epic100", entry).raw))
    raw["download"]["allowed_schemes"] = ["youtube", "https", "http"]
    with pytest.raises(ConfigError, match=r"datasets.epic100.video_source: .*'file' is not in download.allowed_schemes"):
        make_manifest(config_from_mapping(raw, origin="test"), "epic100")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=140))
def test_accepted_clip_ids_and_sources_are_safe(value: str) -> None:
    try:
        check_clip_id(value)
    except BadRow:
        pass
    else:
        assert value.isascii() and "/" not in value and ".." not in value and not value.startswith(".")
        assert len(value) <= 128 and not set(value) & set(" ;|&$`'\"<>()\\\n\t*?")
    try:
        stored = check_source(value, frozenset({"youtube", "http", "https", "file"}))
    except BadRow:
        pass
    else:  # what reaches the manifest (a local path is stored percent-encoded)
        assert stored.isascii() and not set(stored) & set(" ;|$`'\"<>()\\\n\t*{}")
        assert "/../" not in stored and not stored.endswith("/..")
        assert ".." not in urllib.parse.unquote(urllib.parse.urlsplit(stored).path).split("/")
        assert "%00" not in stored and "%0a" not in stored.lower()
