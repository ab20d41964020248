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
