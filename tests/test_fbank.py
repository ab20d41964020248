"""The fbank front end against torchaudio, FLAC decoding, and the ``fbank`` verb end to end."""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
from pathlib import Path

import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

import ffmpeg
from conftest import tiny_demo_config, write_config
from datar.__main__ import main as datar_main
from datar.config import FbankConfig
from datar.errors import DataError
from datar.data.ffmpeg_audio import decode_bytes_mono


def decode_audio_bytes(data, *, sample_rate, name):
    return torch.from_numpy(decode_bytes_mono(data, sample_rate=sample_rate, name=name))

from datar.features.fbank import compute_fbank, pad_or_crop
from datar.features.shards import read_shard

SR = 16000


def ast_fbank(**over) -> FbankConfig:
    """AST's fbank settings (128 mel bins, 1024 frames); the config has no defaults for these two."""
    return FbankConfig(**{"num_mel_bins": 128, "target_length": 1024, **over})


def sine(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * math.pi * freq * t)).to(torch.float32)


def flac_bytes(wav: torch.Tensor, sr: int = SR) -> bytes:
    """Encode a mono float waveform to FLAC with the real ffmpeg."""
    out, _ = (
        ffmpeg.input("pipe:0", format="f32le", ar=sr, ac=1)
        .output("pipe:1", format="flac", acodec="flac")
        .global_args("-loglevel", "error")
        .run(input=wav.numpy().astype("<f4").tobytes(), capture_stdout=True, capture_stderr=True)
    )
    return out


def test_fbank_equals_direct_torchaudio_call_with_ast_settings():
    wav = sine(1000.0, 2.0) + 0.1  # a DC offset: AST subtracts the mean first
    ref = kaldi.fbank(
        (wav - wav.mean()).unsqueeze(0), htk_compat=True, sample_frequency=16000, use_energy=False,
        window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10, frame_length=25,
    )
    got = compute_fbank(wav, sample_rate=SR, cfg=ast_fbank())
    assert got.shape == (198, 128)  # 1 + (32000 - 400) // 160
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_fbank_1khz_sine_peaks_in_the_expected_mel_bin():
    m = 128
    got = compute_fbank(sine(1000.0, 1.0), sample_rate=SR, cfg=ast_fbank(num_mel_bins=m))
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731  (HTK mel, Kaldi's scale)
    lo, hi = mel(20.0), mel(SR / 2)
    centres = [lo + (i + 1) * (hi - lo) / (m + 1) for i in range(m)]
    expected = min(range(m), key=lambda i: abs(centres[i] - mel(1000.0)))
    assert int(got.mean(0).argmax()) == expected
    # and the peak stands well clear of a bin far away
    assert float(got.mean(0)[expected] - got.mean(0)[expected + 20]) > 10.0


def test_ten_second_clip_has_998_frames():
    fb = compute_fbank(torch.zeros(10 * SR).uniform_(-0.1, 0.1), sample_rate=SR, cfg=ast_fbank())
    assert fb.shape == (998, 128)


def test_frame_settings_come_from_config():
    fb = compute_fbank(sine(440.0, 1.0), sample_rate=SR, cfg=ast_fbank(num_mel_bins=64, frame_shift_ms=20.0))
    assert fb.shape == (1 + (SR - 400) // 320, 64)


def test_pad_or_crop():
    fb = torch.randn(10, 4)
    padded = pad_or_crop(fb, 16)
    assert padded.shape == (16, 4)
    assert torch.equal(padded[:10], fb) and torch.count_nonzero(padded[10:]) == 0
    cropped = pad_or_crop(fb, 6)
    assert cropped.shape == (6, 4) and torch.equal(cropped, fb[:6])
    assert torch.equal(pad_or_crop(fb, 10), fb)


def test_decode_flac_round_trip_and_corrupt_bytes():
    wav = sine(300.0, 0.5)
    back = decode_audio_bytes(flac_bytes(wav), sample_rate=SR, name="x.flac")
    assert back.shape == wav.shape
    torch.testing.assert_close(back, wav, atol=1e-4, rtol=0)  # 16-bit FLAC
    with pytest.raises(DataError, match="bad.flac"):
        decode_audio_bytes(b"fLaC not really a flac file" * 10, sample_rate=SR, name="bad.flac")


# --------------------------------------------------------------------------- the verb


def build_shard_inputs(root: Path, dataset: str, shard: str, clips: dict[str, tuple[float, str, str]]) -> None:
    """Write manifest.csv, classes.json, clips/{shard}.tar and .valid.csv per the contract.

    ``clips``: clip_id -> (sine frequency or 0 for a missing member, label, status).
    """
    d = root / dataset
    (d / "clips").mkdir(parents=True, exist_ok=True)
    labels = sorted({lab for _, lab, _ in clips.values()})
    (d / "classes.json").write_text(json.dumps({"heads": {"label": labels}}))
    with open(d / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "source", "start", "end", "split", "shard", "label"])
        for cid, (_, lab, _) in sorted(clips.items()):
            w.writerow([cid, f"file:///x/{cid}.wav", 0, 1, shard.split("-")[0], shard, lab])
    with tarfile.open(d / "clips" / f"{shard}.tar", "w") as tf:
        for cid, (freq, _, _) in clips.items():
            if freq:
                data = flac_bytes(sine(freq, 1.0 if freq != 700.0 else 0.3))
                info = tarfile.TarInfo(f"{cid}.flac")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    with open(d / "clips" / f"{shard}.valid.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "status", "reason", "duration", "sample_rate", "channels", "rms_dbfs"])
        for cid, (_, _, status) in clips.items():
            w.writerow([cid, status, "" if status == "ok" else "dead link", 1.0, SR, 1, -9.0])


@pytest.fixture()
def tiny_cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path / "tiny.yaml", tiny_demo_config(data_dir=str(tmp_path / "data")))


def test_fbank_verb_end_to_end(tmp_path: Path, tiny_cfg: Path):
    clips = {
        "c1": (440.0, "dog", "ok"),
        "c0": (1000.0, "cat", "ok"),
        "c2": (0.0, "cat", "unavailable"),
        "c3": (700.0, "dog", "ok"),  # shorter than target_length: padded
    }
    build_shard_inputs(tmp_path / "data", "kinetics_sounds", "train-00000", clips)
    assert datar_main(["fbank", "--config", str(tiny_cfg), "--dataset", "kinetics_sounds",
                       "--shard", "train-00000", "--workers", "2"]) == 0
    shard = read_shard(tmp_path / "data" / "kinetics_sounds" / "fbank" / "train-00000.safetensors")
    assert list(shard.clip_ids) == ["c1", "c0", "c3"]  # ok clips, valid.csv order
    assert shard.labels["label"].tolist() == [1, 0, 1]  # classes: [cat, dog]
    assert shard.fbank.shape == (3, 64, 32) and shard.fbank.dtype == torch.float16
    assert shard.n_frames.tolist() == [98, 98, 28]
    assert shard.dataset == "kinetics_sounds" and shard.shard == "train-00000"
    assert shard.fbank_config["num_mel_bins"] == 32 and shard.fbank_config["sample_rate"] == SR
    cfg = FbankConfig(num_mel_bins=32, target_length=64)
    ref = pad_or_crop(compute_fbank(decode_audio_bytes(flac_bytes(sine(440.0, 1.0)), sample_rate=SR, name="r"),
                                    sample_rate=SR, cfg=cfg), 64)
    torch.testing.assert_close(shard.fbank[0].float(), ref, atol=0.02, rtol=2e-3)
    assert torch.count_nonzero(shard.fbank[2, 28:]) == 0


def test_fbank_verb_empty_shard_and_errors(tmp_path: Path, tiny_cfg: Path, capsys):
    args = ["fbank", "--config", str(tiny_cfg), "--dataset", "kinetics_sounds"]
    build_shard_inputs(tmp_path / "data", "kinetics_sounds", "test-00000", {"d0": (0.0, "cat", "invalid")})
    assert datar_main([*args, "--shard", "test-00000"]) == 0
    empty = read_shard(tmp_path / "data" / "kinetics_sounds" / "fbank" / "test-00000.safetensors")
    assert empty.fbank.shape == (0, 64, 32) and list(empty.clip_ids) == []

    assert datar_main([*args, "--shard", "../../etc"]) == 2
    assert "--shard" in capsys.readouterr().err
    # an ok clip whose member is missing from the tar: an error naming the tar and the clip
    build_shard_inputs(tmp_path / "data", "kinetics_sounds", "val-00000", {"e0": (0.0, "cat", "ok")})
    assert datar_main([*args, "--shard", "val-00000"]) == 2
    err = capsys.readouterr().err
    assert "val-00000.tar" in err and "e0.flac" in err
    assert not (tmp_path / "data" / "kinetics_sounds" / "fbank" / "val-00000.safetensors").exists()


def flac_file_bytes(wav: torch.Tensor, sr: int = SR) -> bytes:
    """FLAC as the download stage writes it: ffmpeg to a file (the header carries the length)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/x.flac"
        (
            ffmpeg.input("pipe:0", format="f32le", ar=sr, ac=1)
            .output(out, format="flac", acodec="flac")
            .global_args("-loglevel", "error")
            .run(input=wav.numpy().astype("<f4").tobytes(), capture_stdout=True, capture_stderr=True)
        )
        with open(out, "rb") as fh:
            return fh.read()


def test_in_process_flac_decoder_equals_ffmpeg_bit_for_bit():
    """The fbank stage reads members with libsndfile; ffmpeg (validate's decoder) agrees exactly."""
    from datar.data.flac import decode_flac_mono

    wav = sine(440.0, 1.0) * 0.5 + 0.01 * torch.randn(SR, generator=torch.Generator().manual_seed(0))
    data = flac_file_bytes(wav)
    ours = decode_flac_mono(data, sample_rate=SR, name="x.flac")
    theirs = decode_audio_bytes(data, sample_rate=SR, name="x.flac").numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert (ours == theirs).all()
    # A FLAC written to a pipe (no length in its header) decodes the same, through ffmpeg.
    assert (decode_flac_mono(flac_bytes(wav), sample_rate=SR, name="x.flac") == theirs).all()


def test_in_process_flac_decoder_refuses_wrong_rate_and_garbage():
    from datar.data.flac import decode_flac_mono

    with pytest.raises(DataError, match="x.flac: member is 1 channel.s. at 8000 Hz, expected mono at 16000"):
        decode_flac_mono(flac_file_bytes(sine(440.0, 0.5, sr=8000), sr=8000), sample_rate=SR, name="x.flac")
    with pytest.raises(DataError, match="bad.flac: .*cannot decode"):
        decode_flac_mono(b"fLaC not really a flac file" * 10, sample_rate=SR, name="bad.flac")
