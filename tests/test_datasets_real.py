"""The datasets as reviewers hold them in 2026 (issue 20), through the real Snakemake data stages.

Fixtures are real media made with ffmpeg in the exact layouts (:mod:`media_fixtures`):
VGGSound's Hugging Face tar.gz (h264 + aac mp4 members under the seven-folder prefix),
CVDF's extracted Kinetics folders with ``replacement/``, EPIC's audio HDF5 written with h5py,
and a tar.gz cut short in the middle. Source lists are fetched from a real local HTTP server.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import run_snakemake, tiny_demo_config, write_config
from httpserver import MediaServer
from media_fixtures import cvdf_tree, epic_hdf5, truncate_gzip, vggsound_archive

pytestmark = pytest.mark.slow

KINETICS_ROWS = [  # youtube_id, start, end, folder of CVDF's tree (None: in no folder), label, split
    ("kinAAAAAAA1", 10, 11, "train", "playing drums", "train"),
    ("kinAAAAAAA2", 20, 21, "train", "playing drums", "train"),
    ("kinAAAAAAA3", 30, 31, "replacement", "bowling", "train"),  # only in replacement/
    ("kinAAAAAAA4", 40, 41, "val", "bowling", "test"),
    ("kinAAAAAAA5", 50, 51, "val", "playing drums", "test"),
    ("kinAAAAAAA6", 60, 61, "train", "bowling", "train"),  # in train/ AND replacement/: replacement wins
]
EPIC_VIDEOS = {"P01_11": 30.0, "P02_03": 20.0}
EPIC_ROWS = [  # narration_id, video, start, stop, verb, noun, split
    ("P01_11_0", "P01_11", "00:00:01.00", "00:00:02.50", 0, 1, "train"),
    ("P01_11_1", "P01_11", "00:00:05.00", "00:00:06.00", 1, 0, "train"),
    ("P01_11_2", "P01_11", "00:00:12.25", "00:00:13.25", 0, 0, "train"),
    ("P02_03_0", "P02_03", "00:00:03.00", "00:00:04.00", 1, 1, "test"),
    ("P02_03_1", "P02_03", "00:00:10.00", "00:00:11.00", 0, 1, "test"),
    ("P09_09_0", "P09_09", "00:00:01.00", "00:00:02.00", 1, 1, "test"),  # video not in the file
]


def _kinetics_csv(path: Path) -> Path:
    lines = ["label,youtube_id,time_start,time_end,split"]
    lines += [f"{label},{yid},{a},{b},{split}" for yid, a, b, _f, label, split in KINETICS_ROWS]
    path.write_text("\n".join(lines) + "\n")
    return path


def _epic_csv(path: Path, split: str) -> Path:
    head = ("narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,"
            "stop_frame,narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes")
    lines = [head]
    for nid, video, a, b, verb, noun, s in EPIC_ROWS:
        if s == split:
            lines.append(f'{nid},{video.split("_")[0]},{video},{a},{a},{b},1,2,"open tap",open,{verb},tap,{noun},'
                         f'"[\'tap\']","[{noun}]"')
    path.write_text("\n".join(lines) + "\n")
    return path


def _base(root: Path) -> dict:
    cfg = tiny_demo_config()
    cfg["data_dir"], cfg["results_dir"] = "data", "results"
    cfg["tables"], cfg["figures"] = {}, {}
    return cfg


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """One data run over the three layouts: VGGSound archive, CVDF folders, EPIC audio HDF5."""
    root = tmp_path_factory.mktemp("held")
    # 16 members, the manifest wants 12, one of which is not an mp4
    archive, vgg_csv, vgg_ids = vggsound_archive(root / "hf", n=12, extra=4, broken=1)
    k400 = cvdf_tree(root / "k400", [(y, a, b, f, lab) for y, a, b, f, lab, _s in KINETICS_ROWS])
    cvdf_tree(k400, [("kinAAAAAAA6", 60, 61, "replacement", "bowling")])  # the replacement of a corrupt file
    h5 = epic_hdf5(root / "EPIC-KITCHENS-100_audio.hdf5", EPIC_VIDEOS)
    cfg = _base(root)
    cfg["datasets"] = {
        "vggsound": {"format": "vggsound", "sources": [{"path": str(vgg_csv)}],
                     "local_source": {"template": "{youtube_id}_{start:06d}.mp4",
                                      "archives": [str(root / "hf" / "vggsound_*.tar.gz")], "fallback": "none"}},
        "kinetics_sounds": {"format": "kinetics400", "sources": [{"path": str(_kinetics_csv(root / "k400.csv"))}],
                            "classes": ["bowling", "playing drums"],
                            "local_source": {"template": [f"{k400}/{f}/{{youtube_id}}_{{start:06d}}_{{end:06d}}.mp4"
                                                          for f in ("replacement", "train", "val", "test")],
                                             "fallback": "none"}},
        "epic100": {"format": "epic100", "heads": ["verb", "noun"],
                    "sources": [{"split": "train", "path": str(_epic_csv(root / "EPIC_100_train.csv", "train"))},
                                {"split": "test", "path": str(_epic_csv(root / "EPIC_100_validation.csv", "test"))}],
                    "audio_source": {"hdf5": str(h5), "key": "{video_id}", "sample_rate": 24000}},
    }
    cfg["train"]["epochs"] = {d: 1 for d in cfg["datasets"]}
    work = root / "work"
    work.mkdir()
    path = write_config(work / "cfg.yaml", cfg)
    targets = [f"data/{d}/version.json" for d in cfg["datasets"]] + \
        [f"results/data/{d}_availability.md" for d in cfg["datasets"]]
    proc = run_snakemake(work, path, "--cores", "2", *targets, timeout=900)
    return root, work, cfg, proc, vgg_ids


def _status(work: Path, dataset: str) -> dict[str, dict[str, str]]:
    out = {}
    for p in sorted((work / "data" / dataset / "clips").glob("*.status.csv")):
        with open(p, newline="") as fh:
            out.update({r["clip_id"]: r for r in csv.DictReader(fh)})
    return out


def test_vggsound_archive_is_read_in_place_one_job_per_archive(held):
    root, work, _cfg, proc, ids = held
    status = _status(work, "vggsound")
    bad = f"{ids[0]}_000000"
    assert status.pop(bad)["status"] == "invalid"  # decoded alone after its batch failed; the others are fine
    assert len(status) == 11 and all(r["status"] == "ok" and r["place"] == "vggsound_00.tar.gz"
                                     for r in status.values()), status
    log = (work / "results/logs/archive/vggsound/vggsound_00.log").read_text()
    assert "vggsound/vggsound_00: 23 members read (16 files), 12 wanted by the manifest: 11 decoded, 1 undecodable" in log
    assert all(r["message"].startswith("vggsound_00.tar.gz: scratch/shared/beegfs/hchen/train_data/VGGSound_final/"
                                       "video/") for r in status.values())
    store = work / "data/vggsound/archives"
    assert not store.exists() or not any(store.iterdir()), "the archive's audio store is temporary"
    assert not list(work.rglob("*.mp4")), "a video was written to disk"
    assert proc.stdout.count("rule archive:") + proc.stderr.count("rule archive:") == 1
    fbank = list((work / "data/vggsound/fbank").glob("*.safetensors"))
    assert fbank and (work / "data/vggsound/version.json").is_file()
    md = (work / "results/data/vggsound_availability.md").read_text()
    assert "| total | vggsound_00.tar.gz | 11 |" in md


def test_cvdf_places_are_tried_in_order_and_counted(held):
    _root, work, *_ = held
    status = _status(work, "kinetics_sounds")
    assert len(status) == 6 and all(r["status"] == "ok" for r in status.values()), status
    places = {cid.split("_")[0]: r["place"] for cid, r in status.items()}
    assert places["kinAAAAAAA6"].endswith("/replacement/") and places["kinAAAAAAA3"].endswith("/replacement/")
    assert places["kinAAAAAAA1"].endswith("/train/") and places["kinAAAAAAA4"].endswith("/val/")
    md = (work / "results/data/kinetics_sounds_availability.md").read_text()
    assert "## Where the local clips came from" in md and "/replacement/ | 2 |" in md


def test_epic_audio_comes_from_the_hdf5_segment(held):
    _root, work, *_ = held
    status = _status(work, "epic100")
    assert status["P09_09_0"]["status"] == "unavailable" and status["P09_09_0"]["reason"] == "video not in the audio file"
    ok = {k for k, r in status.items() if r["status"] == "ok"}
    assert ok == {"P01_11_0", "P01_11_1", "P01_11_2", "P02_03_0", "P02_03_1"}
    from datar.data.ffmpeg_audio import read_tar_member_audio

    tar = next((work / "data/epic100/clips").glob("train-*.tar"))
    x = read_tar_member_audio(tar, "P01_11_2", 16000)  # 12.25 s .. 13.25 s of video 0
    assert abs(len(x) - 16000) <= 2
    for part, second in ((x[:8000], 12), (x[-4000:], 13)):  # epic_hdf5: 200 + 40 x second Hz in video 0
        spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
        assert abs(np.argmax(spectrum) * 16000 / len(part) - (200 + 40 * second)) <= 4.0, second


def test_clip_list_is_written_and_restrict_to_keeps_its_clips(held):
    root, work, cfg, *_ = held
    listed = work / "results/data/kinetics_sounds_clips.csv"
    rows = list(csv.DictReader(open(listed, newline="")))
    assert [k for k in rows[0]] == ["clip_id", "split", "status"] and len(rows) == 6
    # another reviewer keeps only 4 of them (one listed as not ok), plus one clip their sources lack
    mine = root / "theirs_clips.csv"
    mine.write_text("clip_id,split,status\n" + "".join(f"{r['clip_id']},{r['split']},ok\n" for r in rows[:3])
                    + f"{rows[3]['clip_id']},{rows[3]['split']},unavailable\nkinZZZZZZZZ_000001_000002,train,ok\n")
    other = {**cfg, "datasets": {"kinetics_sounds": {**cfg["datasets"]["kinetics_sounds"], "restrict_to": str(mine)}},
             "train": {**cfg["train"], "epochs": {"kinetics_sounds": 1}}}
    w2 = root / "work2"
    w2.mkdir()
    run_snakemake(w2, write_config(w2 / "cfg.yaml", other), "--cores", "2",
                  "results/data/kinetics_sounds_availability.md", timeout=600)
    manifest = list(csv.DictReader(open(w2 / "data/kinetics_sounds/manifest.csv", newline="")))
    assert sorted(r["clip_id"] for r in manifest) == sorted(r["clip_id"] for r in rows[:3])
    md = (w2 / "results/data/kinetics_sounds_availability.md").read_text()
    assert "Restricted to the clip list theirs_clips.csv (sha256" in md and str(root) not in md and "3 of its 4 clips are in this dataset's source lists; 1 are not" in md


def test_a_truncated_archive_keeps_what_was_read_and_names_itself(tmp_path):
    archive, vgg_csv, ids = vggsound_archive(tmp_path / "hf", n=16)
    truncate_gzip(archive, 0.5)
    cfg = _base(tmp_path)
    cfg["datasets"] = {"vggsound": {"format": "vggsound", "sources": [{"path": str(vgg_csv)}],
                                    "local_source": {"template": "{youtube_id}_{start:06d}.mp4",
                                                     "archives": [str(tmp_path / "hf" / "*.tar.gz")],
                                                     "fallback": "none"}}}
    cfg["train"]["epochs"] = {"vggsound": 1}
    work = tmp_path / "work"
    work.mkdir()
    run_snakemake(work, write_config(work / "cfg.yaml", cfg), "--cores", "2",
                  "results/data/vggsound_availability.md", timeout=600)
    log = (work / "results/logs/archive/vggsound/vggsound_00.log").read_text()
    assert "ARCHIVE BREAKS: vggsound_00.tar.gz: ReadError: unexpected end of data" in log
    status = _status(work, "vggsound")
    kept = [k for k, r in status.items() if r["status"] == "ok"]
    lost = [r for r in status.values() if r["status"] != "ok"]
    assert kept and lost and len(kept) + len(lost) == 16
    assert {(r["status"], r["reason"]) for r in lost} == {("unavailable", "archive corrupt: vggsound_00.tar.gz")}
    total = list(csv.DictReader(open(work / "results/data/vggsound_availability.csv", newline="")))[-1]
    assert total["split"] == "total" and total["missing"] == str(len(lost)) and total["local"] == str(len(kept))
    assert total["reasons"] == f"download: unavailable: archive corrupt: vggsound_00.tar.gz ({len(lost)})"


# ----------------------------------------------------------------------------- source lists


def _source_cfg(tmp_path: Path, source: dict) -> tuple[Path, dict]:
    cfg = _base(tmp_path)
    cfg["datasets"] = {"vggsound": {"format": "vggsound", "sources": [source]}}
    cfg["train"]["epochs"] = {"vggsound": 1}
    return tmp_path, cfg


def _manifest(tmp_path: Path, source: dict):
    from datar.config import config_from_mapping
    from datar.data.manifest import make_manifest

    _, raw = _source_cfg(tmp_path, source)
    raw["data_dir"] = str(tmp_path / "data")
    return make_manifest(config_from_mapping(raw), "vggsound")


def test_sources_mirrors_pins_and_dead_urls(tmp_path):
    from datar.errors import ManifestError
    from datar.io import sha256_bytes

    body = b"vid0000AbC_,0,dog barking,train\nvid0001AbC_,10,cat,test\n"
    good = sha256_bytes(body)
    other = sha256_bytes(body + b"vid0002AbC_,20,cat,test\n")
    with MediaServer({"vggsound.csv": body}) as srv:
        dead, ok = srv.url("404", "vggsound.csv"), srv.url("ok", "vggsound.csv")
        # the primary is gone, the mirror answers: used, and its hash recorded
        m = _manifest(tmp_path / "a", {"url": dead, "mirrors": [ok]})
        src = m.info["sources"][0]
        assert src["fetched_from"] == ok and src["sha256"] == good and src["pinned"] is False
        # a pinned hash the file does not have: one line naming the dataset, the URL and both hashes
        with pytest.raises(ManifestError) as err:
            _manifest(tmp_path / "b", {"url": ok, "sha256": other})
        assert str(err.value) == (f"datasets.vggsound.sources[0]: {ok} has sha256 {good}, but the config pins "
                                  f"{other}: refused (another version of the list)")
        # dead, no mirror left: the key, and path: to a local copy
        with pytest.raises(ManifestError) as err:
            _manifest(tmp_path / "c", {"url": dead})
        assert str(err.value) == (f"datasets.vggsound.sources[0]: no copy could be fetched ({dead}: cannot fetch "
                                  "source csv: HTTP 404 Not Found); download the csv yourself and set "
                                  "datasets.vggsound.sources[0].path to the local file (with sha256: to pin it)")
    from datar.data.manifest import summary

    assert f"add sha256: {good} to datasets.vggsound.sources[0]" in summary(m)
