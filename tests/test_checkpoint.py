"""Checkpoint round trip and corruption detection (real models, tiny inputs)."""

from __future__ import annotations

import torch

import pytest

from datar.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint, sidecar_path
from datar.errors import CheckpointError
from datar.models import build_model

MEL, FRAMES = 32, 64


def _payload(variant: str = "datar") -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    model = build_model(variant, size="tiny", heads={"label": 3}, num_mel_bins=MEL, target_length=FRAMES)
    payload = {
        "model": model.state_dict(), "variant": variant, "size": "tiny", "heads": {"label": 3},
        "num_mel_bins": MEL, "target_length": FRAMES, "dataset": "toy", "seed": 0, "epoch": 1,
        "config": {"name": "t"}, "pretrained": False,
    }
    return model, payload


@pytest.mark.parametrize("variant", ["datar", "ast"])
def test_round_trip_rebuilds_identical_model(tmp_path, variant):
    model, payload = _payload(variant)
    path = tmp_path / "checkpoint.pt"
    digest = save_checkpoint(path, payload)
    assert sidecar_path(path).read_text().split()[0] == digest
    rebuilt, loaded = model_from_checkpoint(path)
    assert loaded["format"] == "datar-checkpoint/1" and loaded["epoch"] == 1
    model.eval()
    x = torch.randn(2, FRAMES, MEL)
    with torch.no_grad():
        a, b = model(x), rebuilt(x)
    assert torch.equal(a["label"], b["label"])


def test_bit_flip_is_detected_and_names_file(tmp_path):
    _, payload = _payload()
    path = tmp_path / "last.ckpt"
    save_checkpoint(path, payload)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="last.ckpt.*checksum mismatch"):
        load_checkpoint(path)


def test_truncation_missing_sidecar_and_missing_file(tmp_path):
    _, payload = _payload()
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, payload)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        load_checkpoint(path)
    save_checkpoint(path, payload)
    sidecar_path(path).unlink()
    with pytest.raises(CheckpointError, match="sidecar"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_state_dict_mismatch_is_checkpoint_error(tmp_path):
    _, payload = _payload("datar")
    payload["variant"] = "ast"
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, payload)
    with pytest.raises(CheckpointError, match="does not match variant 'ast'"):
        model_from_checkpoint(path)


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4])
def test_kill_at_any_step_of_a_save_leaves_a_loadable_checkpoint(tmp_path, monkeypatch, kill_at):
    """SIGKILL during save_checkpoint (simulated at the k-th file replacement): resume works."""
    import os as _os

    import datar.checkpoint as ck
    import datar.io as dio

    path = tmp_path / "last.ckpt"
    meta = {"variant": "datar", "size": "tiny", "heads": {"label": 2}, "num_mel_bins": 8, "target_length": 16}
    ck.save_checkpoint(path, {**meta, "model": {"w": torch.zeros(3)}, "epoch": 1})

    class Killed(BaseException):
        pass

    calls = {"n": 0}
    real_replace = _os.replace

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] == kill_at:
            raise Killed
        return real_replace(src, dst)

    monkeypatch.setattr(dio.os, "replace", replace)
    try:
        ck.save_checkpoint(path, {**meta, "model": {"w": torch.ones(3)}, "epoch": 2})
        killed = False
    except Killed:
        killed = True
    monkeypatch.undo()
    assert killed == (kill_at <= 3)  # a save is three replacements
    payload = ck.load_checkpoint(path)
    assert payload["epoch"] in (1, 2)
    assert payload["epoch"] == (2 if kill_at >= 3 else 1)
    # Corrupt bytes still fail, whatever the sidecar lists.
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        ck.load_checkpoint(path)
