#!/usr/bin/env bash
# Stop the throwaway CI cluster started by .ci/slurm/up.sh: cancels its jobs, then stops
# slurmd, slurmctld, slurmdbd, MariaDB and munged (munged only if up.sh started it), each
# by its pid file under $DATAR_SLURM_STATE (default /tmp/datar-slurm). Logs stay there.
#   .ci/slurm/down.sh [--quiet] [--purge]   (--purge also removes /etc/slurm/*.conf
#                                            written by up.sh, and the state directory)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

quiet=0
purge=0
for arg in "$@"; do
    case "$arg" in
        --quiet) quiet=1 ;;
        --purge) purge=1 ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done
say() { [ "$quiet" = 1 ] || log "$@"; }

# Jobs first, while slurmctld still answers (their steps would outlive slurmd otherwise).
if pid_alive "$STATE/run/slurmctld.pid"; then
    ids="$(timeout 5 squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
    if [ -n "${ids// /}" ]; then
        say "cancelling jobs $ids"
        # shellcheck disable=SC2086
        timeout 10 scancel $ids 2>/dev/null || true
        sleep 1
    fi
fi

stop() {    # stop NAME...: TERM each by its pid file, together; KILL what is left after 10 s
    local name pidfile pid i left
    local -a pids=() names=()
    for name in "$@"; do
        pidfile="$STATE/run/$name.pid"
        if pid_alive "$pidfile"; then
            pid="$(cat "$pidfile")"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid"); names+=("$name")
        fi
        rm -f "$pidfile"
    done
    for i in $(seq 50); do
        left=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            say "${names[$i]} (${pids[$i]}) ignored TERM; killing"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
        say "stopped ${names[$i]} (${pids[$i]})"
    done
}

# slurmd and slurmctld together, then the accounting daemon, its database, munge.
stop slurmd slurmctld
stop slurmdbd
stop mariadbd
stop munged

if [ "$purge" = 1 ]; then
    for f in slurm.conf gres.conf slurmdbd.conf; do
        grep -qs "$MARKER" "/etc/slurm/$f" && rm -f "/etc/slurm/$f"
    done
    rm -rf "$STATE"
    say "purged configs and $STATE"
fi
exit 0
