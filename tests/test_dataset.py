"""FbankShardDataset: normalisation, SpecAugment, many shards, DataLoader workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from datar.errors import DataError
from datar.features.dataset import FbankShardDataset, collate_fbank, load_stats, shard_paths
from datar.features.shards import ShardData, read_header, write_shard
from datar.features.specaugment import spec_augment
from datar.features.stats import Stats, compute_stats, write_stats

T, M = 40, 16


def make_shards(d: Path, sizes: list[int], heads=("verb", "noun")) -> list[Path]:
    paths = []
    for k, n in enumerate(sizes):
        g = torch.Generator().manual_seed(k)
        name = f"train-{k:05d}"
        p = d / f"{name}.safetensors"
        write_shard(p, ShardData(
            fbank=torch.randn(n, T, M, generator=g) * 3 - 6,
            labels={h: torch.arange(n) + 100 * k + 10 * j for j, h in enumerate(heads)},
            n_frames=torch.full((n,), T, dtype=torch.int32),
            clip_ids=[f"s{k}c{i}" for i in range(n)],
            dataset="ds", shard=name, fbank_config={},
        ))
        paths.append(p)
    return paths


def dataset(paths, stats, **kw) -> FbankShardDataset:
    opts = dict(stats=stats, heads=["verb", "noun"], train=False, freq_mask=5, time_mask=9)
    opts.update(kw)
    return FbankShardDataset(paths, **opts)


@pytest.fixture()
def shards(tmp_path: Path) -> tuple[list[Path], Stats]:
    paths = make_shards(tmp_path, [4, 0, 3, 5])
    return paths, compute_stats(paths)


def test_normalised_values_have_zero_mean(shards):
    paths, stats = shards
    ds = dataset(paths, stats)
    vals = torch.stack([ds[i]["fbank"] for i in range(len(ds))])
    assert vals.dtype == torch.float32 and vals.shape == (12, T, M)
    assert float(vals.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(vals.std(unbiased=False)) == pytest.approx(0.5, abs=1e-4)  # (x - mean) / (2 std)
    torch.testing.assert_close(ds[5]["fbank"], (ds.raw(5) - stats.mean) / (2 * stats.std))


def test_multi_shard_indexing(shards):
    paths, stats = shards
    ds = dataset(paths, stats)
    assert len(ds) == 12
    assert ds.locate(0) == (0, 0) and ds.locate(4) == (2, 0) and ds.locate(11) == (3, 4)
    item = ds[6]
    assert item["clip_id"] == "s2c2" and item["index"] == 6
    assert item["labels"]["verb"].item() == 202 and item["labels"]["noun"].item() == 212
    assert item["labels"]["verb"].dtype == torch.int64
    with pytest.raises(IndexError):
        ds[12]


def test_specaugment_only_in_train_mode(shards):
    paths, stats = shards
    fill = -stats.mean / (2 * stats.std)  # a zeroed (unnormalised) value after normalisation
    ev = dataset(paths, stats, train=False)
    off = dataset(paths, stats, train=True, specaugment=False)
    for i in range(len(ev)):
        assert torch.equal(ev[i]["fbank"], off[i]["fbank"])
        assert not torch.isclose(ev[i]["fbank"], torch.tensor(fill)).any()
    tr = dataset(paths, stats, train=True)
    torch.manual_seed(0)
    widths_f, widths_t = [], []
    for _ in range(20):
        for i in range(len(tr)):
            x = tr[i]["fbank"]
            masked = torch.isclose(x, torch.tensor(fill))
            bins = masked.all(0).nonzero().flatten().tolist()   # mel bins zeroed at every frame
            frames = masked.all(1).nonzero().flatten().tolist()  # frames zeroed at every bin
            for band, limit, acc in ((bins, 5, widths_f), (frames, 9, widths_t)):
                assert len(band) <= limit
                assert band == list(range(band[0], band[0] + len(band))) if band else True
                acc.append(len(band))
            # nothing masked outside the two bands
            outside = masked.clone()
            outside[:, bins] = False
            outside[frames, :] = False
            assert not outside.any()
    assert max(widths_f) >= 3 and max(widths_t) >= 6  # masks do happen, up to near their limits


def test_spec_augment_limits_and_order():
    g = torch.Generator().manual_seed(1)
    x = torch.ones(100, 30)
    for _ in range(200):
        y = spec_augment(x, freq_mask=7, time_mask=13, generator=g)
        zf = (y == 0).all(0).sum().item()
        zt = (y == 0).all(1).sum().item()
        assert zf <= 7 and zt <= 13
    assert torch.equal(spec_augment(x, freq_mask=0, time_mask=0), x)


def test_dataloader_with_two_workers(shards):
    paths, stats = shards
    ds = dataset(paths, stats, train=True)
    ds.verify_all()
    loader = DataLoader(ds, batch_size=5, shuffle=True, num_workers=2, collate_fn=collate_fbank,
                        generator=torch.Generator().manual_seed(0))
    seen, sizes = [], []
    for batch in loader:
        b = len(batch["clip_id"])
        assert batch["fbank"].shape == (b, T, M) and batch["fbank"].dtype == torch.float32
        assert batch["labels"]["verb"].shape == (b,) and batch["index"].shape == (b,)
        for cid, idx, verb in zip(batch["clip_id"], batch["index"].tolist(), batch["labels"]["verb"].tolist()):
            s, r = ds.locate(idx)
            assert cid == f"s{s}c{r}" and verb == 100 * s + r
        seen += batch["clip_id"]
        sizes.append(b)
    assert sorted(seen) == sorted(f"s{s}c{r}" for s, n in enumerate([4, 0, 3, 5]) for r in range(n))
    assert sizes == [5, 5, 2]


def test_constructor_touches_no_file_and_errors_name_the_file(tmp_path: Path, shards):
    paths, stats = shards
    missing = tmp_path / "train-00042.safetensors"
    ds = dataset([*paths, missing], stats)  # no error yet: nothing read
    with pytest.raises(DataError, match="train-00042"):
        len(ds)
    # a corrupt shard is caught on first open, naming it
    bad = paths[2]
    start, _ = read_header(bad).offsets["fbank"]
    raw = bytearray(bad.read_bytes())
    raw[start + 3] ^= 0x01
    bad.write_bytes(bytes(raw))
    ds = dataset(paths, stats)
    assert ds[0]["clip_id"] == "s0c0"
    with pytest.raises(DataError, match=f"{bad.name}.*corrupt"):
        ds[4]
    with pytest.raises(DataError, match="has no label head"):
        dataset(paths, stats, heads=["label"])[0]


def test_shard_paths_and_load_stats(tmp_path: Path):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "shards.json").write_text(json.dumps({"shards": [
        {"name": "train-00000", "split": "train", "n": 3}, {"name": "test-00000", "split": "test", "n": 1},
        {"name": "train-00001", "split": "train", "n": 2}]}))
    assert shard_paths(tmp_path, "ds", "train") == [d / "fbank" / "train-00000.safetensors",
                                                    d / "fbank" / "train-00001.safetensors"]
    assert shard_paths(tmp_path, "ds", "val") == []
    write_stats(d / "fbank" / "stats.json", Stats(mean=-3.0, std=2.0, n_clips=5, shards=["train-00000"]))
    assert load_stats(d / "fbank" / "stats.json") == Stats(mean=-3.0, std=2.0, n_clips=5, shards=["train-00000"])
    (d / "shards.json").write_text("{broken")
    with pytest.raises(DataError, match="shards.json"):
        shard_paths(tmp_path, "ds", "train")
