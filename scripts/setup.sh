#!/usr/bin/env bash
# Set up datar-repro on a fresh Debian/Ubuntu machine: a virtual environment at .venv with
# the pinned dependencies (pyproject.toml), and ffmpeg if it is missing.
#
#   bash scripts/setup.sh                  # idempotent; a second run takes a second
#   bash scripts/setup.sh --torch cu126    # torch's CUDA 12.6 build, for drivers older than 580
#   bash scripts/setup.sh --torch cpu --dry-run   # print the commands, run nothing
#
# --torch BUILD: which build of the pinned torch / torchaudio version to install:
#   default  PyPI's wheels (CUDA 13.0: NVIDIA driver 580 or newer)
#   cu130    CUDA 13.0 from PyTorch's index (driver >= 580)
#   cu128    CUDA 12.8 from PyTorch's index (driver >= 570; Blackwell GPUs need 12.8+)
#   cu126    CUDA 12.6 from PyTorch's index (driver >= 525.60.13, CUDA 12 minor-version compatibility)
#   cpu      no CUDA (from PyTorch's index; no GPU or no usable driver)
# README "GPUs and drivers" has the table; `python -m datar doctor` says which one a machine needs.
# Environment: PYTHON (default: python3.11, else python3 if it is 3.11); DATAR_TORCH_BUILD = --torch.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

BUILDS="default cu130 cu128 cu126 cpu"   # datar.doctor.TORCH_BUILDS lists the same (a test checks)
build="${DATAR_TORCH_BUILD:-default}"
dry=0
while [ $# -gt 0 ]; do
    case "$1" in
        --torch) [ $# -ge 2 ] || { log "error: --torch needs a build: $BUILDS"; exit 2; }; build="$2"; shift 2 ;;
        --torch=*) build="${1#--torch=}"; shift ;;
        --dry-run) dry=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) log "error: unknown argument $1 (see --help)"; exit 2 ;;
    esac
done
case " $BUILDS " in
    *" $build "*) ;;
    *) log "error: --torch $build: unknown build; choose one of: $BUILDS"; exit 2 ;;
esac
torch_version="$(sed -n 's/^ *"torch==\([^"]*\)",.*/\1/p' pyproject.toml)"
audio_version="$(sed -n 's/^ *"torchaudio==\([^"]*\)",.*/\1/p' pyproject.toml)"
torch_cmd=()
if [ "$build" != default ]; then
    torch_cmd=(.venv/bin/python -m pip install --quiet "torch==$torch_version" "torchaudio==$audio_version"
               --index-url "https://download.pytorch.org/whl/$build")
fi
if [ "$dry" = 1 ]; then
    [ ${#torch_cmd[@]} -gt 0 ] && echo "+ ${torch_cmd[*]}"
    echo "+ .venv/bin/python -m pip install --quiet -e .[test]"
    exit 0
fi

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
stamp=".venv/.datar-setup-$( (cat pyproject.toml; echo "$build") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    log "installing pinned dependencies into .venv (first time: a few minutes, ~5 GB with torch; torch build: $build)"
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
    if [ ${#torch_cmd[@]} -gt 0 ]; then
        "${torch_cmd[@]}"
    fi
    .venv/bin/python -m pip install --quiet -e '.[test]'
    rm -f .venv/.datar-setup-*
    touch "$stamp"
fi
.venv/bin/python -c 'import torch, torchaudio, snakemake, yt_dlp; c = torch.version.cuda or "none"; print(f"[setup] ok: torch {torch.__version__} (CUDA {c}), snakemake {snakemake.__version__}, yt-dlp {yt_dlp.version.__version__}")'
