#!/usr/bin/env bash
# Set up datar-repro on a fresh Debian/Ubuntu machine: a virtual environment at .venv with
# the pinned dependencies (pyproject.toml), and ffmpeg if it is missing.
#
#   bash scripts/setup.sh          # idempotent; a second run takes a second
#
# Environment: PYTHON (default: python3.11, else python3 if it is 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# --- ffmpeg (yt-dlp and the decoders need it)
if ! command -v ffmpeg >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing ffmpeg with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
    elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
        log "installing ffmpeg with sudo apt-get"
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
    else
        log "error: ffmpeg is not installed and apt-get is not available; install ffmpeg and rerun"
        exit 1
    fi
fi

# --- Python 3.11 virtual environment
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    log "error: $PY is $("$PY" --version 2>&1); datar-repro needs Python 3.11 (Snakemake 9 needs >= 3.11; torch 2.11 is pinned for 3.11). Set PYTHON=/path/to/python3.11"
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $PY"
    "$PY" -m venv .venv
fi

# Reinstall only when the pins change.
stamp=".venv/.datar-setup-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    log "installing pinned dependencies into .venv (first time: a few minutes, ~5 GB with torch)"
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
    .venv/bin/python -m pip install --quiet -e '.[test]'
    rm -f .venv/.datar-setup-*
    touch "$stamp"
fi
.venv/bin/python -c 'import torch, torchaudio, snakemake, yt_dlp; print(f"[setup] ok: torch {torch.__version__}, snakemake {snakemake.__version__}, yt-dlp {yt_dlp.version.__version__}")'
