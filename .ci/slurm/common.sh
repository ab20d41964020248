# Shared by .ci/slurm/up.sh and .ci/slurm/down.sh (sourced, not run).
# shellcheck shell=bash

STATE="${DATAR_SLURM_STATE:-/tmp/datar-slurm}"
MARKER="datar-repro-ci-slurm"
CLUSTER="datarci"
CTLD_PORT=6817
SLURMD_PORT=6818
DBD_PORT=6819
DB_PORT=33061
DB_PASS="datar-ci-only"         # loopback-only throwaway database
TMPDIR_LOG="$(mktemp /tmp/datar-slurm-apt.XXXXXX)"
trap 'rm -f "$TMPDIR_LOG"' EXIT

log() { echo "[slurm-ci] $*" >&2; }
die() { echo "[slurm-ci] error: $*" >&2; exit 1; }

# Print what the daemons said, then fail.
fail() {
    echo "[slurm-ci] error: $*" >&2
    local f
    for f in "$STATE"/log/*; do
        [ -s "$f" ] || continue
        echo "----- $f (last 40 lines) -----" >&2
        tail -n 40 "$f" >&2
    done
    if [ -s /etc/slurm/slurm.conf ]; then
        echo "----- /etc/slurm/slurm.conf -----" >&2
        cat /etc/slurm/slurm.conf >&2
    fi
    exit 1
}

# wait_for SECONDS WHAT CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
    local limit="$1" what="$2"
    shift 2
    local end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$end" ]; then
            log "timed out after ${limit}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

node_state() { timeout 5 sinfo -h -N -o %t 2>/dev/null | head -n1 || true; }
node_ready() {
    case "$(node_state)" in
        idle|mix|mixed|alloc) return 0 ;;
        *) return 1 ;;
    esac
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

all_running() {
    local d
    for d in slurmctld slurmd; do
        pid_alive "$STATE/run/$d.pid" || return 1
    done
    if [ "$(cat "$STATE/mode" 2>/dev/null)" = 1 ]; then
        pid_alive "$STATE/run/slurmdbd.pid" || return 1
        pid_alive "$STATE/run/mariadbd.pid" || return 1
    fi
}

mode_name() { [ "$1" = 1 ] && echo "accounting: sacct" || echo "no accounting: squeue"; }
