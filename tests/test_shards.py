"""Feature shard files: round trip, corruption detection, stats and the data version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import tiny_demo_config, write_config
from datar.__main__ import main as datar_main
from datar.errors import DataError
from datar.features.shards import ShardData, read_header, read_shard, verify_shard, write_shard
from datar.features.stats import compute_stats, load_stats
from datar.features.version import data_version


def make_shard(path: Path, n: int, *, T: int = 12, M: int = 8, fill: float | None = None, seed: int = 0,
               heads=("label",), name: str = "train-00000") -> ShardData:
    g = torch.Generator().manual_seed(seed)
    fb = torch.full((n, T, M), fill) if fill is not None else torch.randn(n, T, M, generator=g) * 4 - 5
    data = ShardData(
        fbank=fb,
        labels={h: torch.randint(0, 5, (n,), generator=g) for h in heads},
        n_frames=torch.randint(1, T + 5, (n,), generator=g, dtype=torch.int32),
        clip_ids=[f"{name}-clip{i}" for i in range(n)],
        dataset="ds",
        shard=name,
        fbank_config={"num_mel_bins": M, "target_length": T},
    )
    write_shard(path, data)
    return data


def test_round_trip(tmp_path: Path):
    p = tmp_path / "train-00000.safetensors"
    data = make_shard(p, 5, heads=("verb", "noun"))
    back = read_shard(p)
    assert back.fbank.dtype == torch.float16 and back.fbank.shape == (5, 12, 8)
    torch.testing.assert_close(back.fbank.float(), data.fbank, atol=1e-2, rtol=1e-3)  # float16
    assert back.heads == ["verb", "noun"]
    for h in ("verb", "noun"):
        assert back.labels[h].dtype == torch.int64 and torch.equal(back.labels[h], data.labels[h])
    assert back.n_frames.dtype == torch.int32 and torch.equal(back.n_frames, data.n_frames)
    assert list(back.clip_ids) == list(data.clip_ids)
    assert (back.dataset, back.shard, dict(back.fbank_config)) == ("ds", "train-00000", {"num_mel_bins": 8, "target_length": 12})
    hdr = read_header(p)
    for key in ("clip_ids", "heads", "dataset", "shard", "fbank_config", "sha256_fbank"):
        assert key in hdr.metadata
    assert json.loads(hdr.metadata["heads"]) == ["verb", "noun"]


def test_empty_shard(tmp_path: Path):
    p = tmp_path / "test-00000.safetensors"
    make_shard(p, 0)
    back = read_shard(p)
    assert back.fbank.shape == (0, 12, 8) and back.labels["label"].shape == (0,) and list(back.clip_ids) == []


def _flip(p: Path, offset: int) -> None:
    b = bytearray(p.read_bytes())
    b[offset] ^= 0x10
    p.write_bytes(bytes(b))


@pytest.mark.parametrize("where", ["fbank", "label_label", "n_frames"])
def test_bit_flip_in_any_tensor_is_caught(tmp_path: Path, where: str):
    p = tmp_path / "train-00000.safetensors"
    make_shard(p, 4)
    start, end = read_header(p).offsets[where]
    _flip(p, (start + end) // 2)
    with pytest.raises(DataError, match=str(p)):
        read_shard(p)


def test_bit_flip_in_metadata_is_caught(tmp_path: Path):
    p = tmp_path / "train-00000.safetensors"
    make_shard(p, 3)
    raw = p.read_bytes()
    at = raw.index(b"clip1")
    p.write_bytes(raw[:at] + b"clipX" + raw[at + 5:])  # same length, other clip id
    with pytest.raises(DataError, match=f"{p}.*corrupt"):
        verify_shard(p)


@pytest.mark.parametrize("keep", [0, 5, 40, -1])
def test_truncated_shard_is_caught(tmp_path: Path, keep: int):
    p = tmp_path / "train-00000.safetensors"
    make_shard(p, 3)
    raw = p.read_bytes()
    p.write_bytes(raw[:keep])
    with pytest.raises(DataError, match=str(p)):
        read_shard(p)


def test_missing_shard_is_named(tmp_path: Path):
    with pytest.raises(DataError, match="nope.safetensors"):
        read_shard(tmp_path / "nope.safetensors")


def test_stats_on_known_values(tmp_path: Path):
    a, b, c = (tmp_path / f"train-0000{i}.safetensors" for i in range(3))
    make_shard(a, 2, fill=1.0, name="train-00000")
    make_shard(b, 2, fill=3.0, name="train-00001")
    make_shard(c, 0, name="train-00002")
    s = compute_stats([a, b, c])
    assert s.mean == pytest.approx(2.0) and s.std == pytest.approx(1.0)
    assert s.n_clips == 4 and s.shards == ["train-00000", "train-00001", "train-00002"]


def test_stats_streaming_equals_all_at_once(tmp_path: Path):
    paths = [tmp_path / f"train-0000{i}.safetensors" for i in range(3)]
    data = [make_shard(p, n, seed=i, name=p.stem) for i, (p, n) in enumerate(zip(paths, [7, 1, 5]))]
    allv = torch.cat([d.fbank.to(torch.float16).double().reshape(-1) for d in data])
    for rows in (1, 3, 64):
        s = compute_stats(paths, rows_per_read=rows)
        assert s.mean == pytest.approx(float(allv.mean()), abs=1e-9)
        assert s.std == pytest.approx(float(allv.std(unbiased=False)), abs=1e-9)


def test_stats_refuses_corrupt_or_empty(tmp_path: Path):
    p = tmp_path / "train-00000.safetensors"
    make_shard(p, 0)
    with pytest.raises(DataError, match="no training clips"):
        compute_stats([p])
    make_shard(p, 2)
    _flip(p, read_header(p).offsets["fbank"][0])
    with pytest.raises(DataError, match=str(p)):
        compute_stats([p])


def test_load_stats_errors(tmp_path: Path):
    p = tmp_path / "stats.json"
    p.write_text(json.dumps({"mean": -4.2, "std": 0.0}))
    with pytest.raises(DataError, match="stats.json"):
        load_stats(p)
    p.write_text(json.dumps({"mean": -4.2, "std": 4.5, "n_clips": 3, "shards": ["train-00000"]}))
    assert load_stats(p).std == 4.5


def _dataset_tree(root: Path) -> tuple[Path, Path]:
    d = root / "data" / "kinetics_sounds"
    d.mkdir(parents=True)
    (d / "manifest.csv").write_text("clip_id,source,start,end,split,shard,label\n")
    (d / "classes.json").write_text(json.dumps({"heads": {"label": ["a", "b"]}}))
    (d / "shards.json").write_text(json.dumps({"shards": [
        {"name": "train-00000", "split": "train", "n": 4},
        {"name": "train-00001", "split": "train", "n": 3},
        {"name": "test-00000", "split": "test", "n": 3},
    ], "n_rows": 10, "n_skipped": 0, "skipped": []}))
    fb = d / "fbank"
    fb.mkdir()
    make_shard(fb / "train-00000.safetensors", 4, fill=-2.0, name="train-00000")
    make_shard(fb / "train-00001.safetensors", 3, fill=2.0, name="train-00001")
    make_shard(fb / "test-00000.safetensors", 3, fill=100.0, name="test-00000")
    cfg = write_config(root / "tiny.yaml", tiny_demo_config(data_dir=str(root / "data")))
    return d, cfg


def test_stats_and_data_version_verbs(tmp_path: Path):
    d, cfg = _dataset_tree(tmp_path)
    args = ["--config", str(cfg), "--dataset", "kinetics_sounds"]
    assert datar_main(["stats", *args]) == 0
    stats = json.loads((d / "fbank" / "stats.json").read_text())
    assert stats["n_clips"] == 7 and stats["shards"] == ["train-00000", "train-00001"]  # test split excluded
    assert stats["mean"] == pytest.approx((4 * -2.0 + 3 * 2.0) / 7)
    assert set(stats) == {"mean", "std", "n_clips", "shards"}

    assert datar_main(["data-version", *args]) == 0
    v1 = json.loads((d / "version.json").read_text())
    assert set(v1["files"]) == {"manifest.csv", "classes.json", "shards.json", "fbank/train-00000.safetensors",
                                "fbank/train-00001.safetensors", "fbank/test-00000.safetensors", "fbank/stats.json"}
    assert len(v1["data_version"]) == 64 and v1 == data_version(tmp_path / "data", "kinetics_sounds")
    make_shard(d / "fbank" / "test-00000.safetensors", 3, fill=101.0, name="test-00000")
    assert data_version(tmp_path / "data", "kinetics_sounds")["data_version"] != v1["data_version"]
    (d / "fbank" / "stats.json").unlink()
    assert datar_main(["data-version", *args]) == 2


def test_stats_verb_names_a_missing_shard(tmp_path: Path, capsys):
    d, cfg = _dataset_tree(tmp_path)
    (d / "fbank" / "train-00001.safetensors").unlink()
    assert datar_main(["stats", "--config", str(cfg), "--dataset", "kinetics_sounds"]) == 2
    assert "train-00001.safetensors" in capsys.readouterr().err


def _reorder_metadata(path: Path) -> None:
    """Rewrite a shard's header with its metadata keys in reverse order (what another process
    may write for the same content), keeping the header length."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    header["__metadata__"] = dict(reversed(list(meta.items())))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n
    path.write_bytes(raw[:8] + text + b" " * (n - len(text)) + raw[8 + n:])


def test_data_version_depends_on_content_not_header_order(tmp_path: Path):
    from datar.io import sha256_file

    d, _ = _dataset_tree(tmp_path)
    (d / "fbank" / "stats.json").write_text(json.dumps({"mean": 0.0, "std": 1.0, "n_clips": 7, "shards": []}))
    shard = d / "fbank" / "train-00000.safetensors"
    before_file, before = sha256_file(shard), data_version(tmp_path / "data", "kinetics_sounds")
    _reorder_metadata(shard)
    verify_shard(shard)  # still a valid, uncorrupted shard
    assert sha256_file(shard) != before_file
    assert data_version(tmp_path / "data", "kinetics_sounds") == before
