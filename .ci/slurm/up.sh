#!/usr/bin/env bash
# Start a throwaway one-node SLURM cluster on this machine (CI only).
#
#   .ci/slurm/up.sh            # slurmctld + slurmd + munge + slurmdbd/MariaDB (sacct works)
#   .ci/slurm/up.sh --no-accounting
#                              # no slurmdbd: job status through squeue (MinJobAge=600)
#   .ci/slurm/down.sh          # stop everything this script started
#
# Needs root and a Debian-like system without systemd (daemons are started by hand).
# Missing packages are installed with apt-get. Everything listens on 127.0.0.1 only.
# The node is the local host with its real CPUs and memory and one fake GPU
# (gres.conf File=/dev/null), so jobs that ask for a GPU schedule and run on the CPU.
#
# Idempotent: when the cluster from an earlier run is up and the node is idle/mixed,
# it prints "already up" and exits 0; a half-started cluster is stopped and restarted.
# Every start is a clean one (slurmctld -c, fresh accounting database): job ids restart
# at 1, and a stale database would otherwise clash with them.
#
# Environment: DATAR_SLURM_STATE (default /tmp/datar-slurm: logs, spool, pids, database),
# DATAR_SLURM_TIMEOUT (seconds to wait for an idle node, default 60).
# Exit status: 0 when the node is idle; 1 with the daemon logs printed otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

accounting=1
for arg in "$@"; do
    case "$arg" in
        --no-accounting) accounting=0 ;;
        --accounting) accounting=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (see --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "must run as root (writes /etc/slurm, starts daemons)"
t0=$(date +%s.%N)

# ---------------------------------------------------------------- already up?
# A cluster started by another version of these scripts is restarted (its config differs).
version="$(cat "$here/up.sh" "$here/common.sh" | sha256sum | cut -c1-16)"
if [ -f "$STATE/mode" ] && node_ready && all_running; then
    if [ "$(cat "$STATE/version" 2>/dev/null)" != "$version" ]; then
        log "up, but started by another version of up.sh: restarting"
    elif [ "$(cat "$STATE/mode")" = "$accounting" ]; then
        log "already up ($(mode_name "$accounting")), node $(node_state); nothing to do"
        exit 0
    else
        log "up in the other mode ($(mode_name "$(cat "$STATE/mode")")): restarting"
    fi
fi
"$here/down.sh" --quiet || true

# ---------------------------------------------------------------- packages
need=()
for pair in slurmctld:slurmctld slurmd:slurmd sinfo:slurm-client sbatch:slurm-client \
            munged:munge; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ "$accounting" = 1 ]; then
    command -v slurmdbd >/dev/null 2>&1 || need+=(slurmdbd)
    command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
fi
if [ "${#need[@]}" -gt 0 ]; then
    mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >"$TMPDIR_LOG" 2>&1 \
        || { apt-get update -qq >>"$TMPDIR_LOG" 2>&1 \
             && apt-get install -y -qq "${need[@]}" >>"$TMPDIR_LOG" 2>&1; } \
        || { cat "$TMPDIR_LOG" >&2; die "apt-get install ${need[*]} failed"; }
fi

# ---------------------------------------------------------------- config
host="$(hostname -s)"
ncpu="$(nproc)"
avail_mb=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) / 1024 ))
real_mb=$(( avail_mb * 3 / 4 ))          # below what is free, or slurmd drains the node
def_mem=$(( real_mb / ncpu < 1000 ? real_mb / ncpu : 1000 ))

rm -rf "$STATE"
mkdir -p "$STATE"/{log,spool,ctld,run}
echo "$accounting" >"$STATE/mode"
echo "$version" >"$STATE/version"
mkdir -p /etc/slurm

# Refuse to overwrite a slurm.conf that is not ours (a real cluster's).
for f in slurm.conf gres.conf slurmdbd.conf; do
    if [ -s "/etc/slurm/$f" ] && ! grep -q "$MARKER" "/etc/slurm/$f"; then
        die "/etc/slurm/$f exists and was not written by this script; not touching it"
    fi
done

if [ "$accounting" = 1 ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
else
    acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

# The config must live at /etc/slurm/slurm.conf: the jobstep plugin strips SLURM_*
# variables (SLURM_CONF included) before the job's srun.
cat >/etc/slurm/slurm.conf <<EOF
# $MARKER (.ci/slurm/up.sh); throwaway one-node CI cluster, do not edit by hand
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
# no cgroups here; task/affinity because the jobstep plugin runs srun --cpu-bind=q
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
GresTypes=gpu
SchedulerType=sched/backfill
ReturnToService=2
# squeue keeps finished jobs this long: >= 3x the plugin's status-check delay, so
# 'slurm-status-command: squeue' works where there is no accounting
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$acct_lines
NodeName=$host NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$real_mb Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
EOF

# A GPU gres needs a device file; a count-only entry drains the node.
cat >/etc/slurm/gres.conf <<EOF
# $MARKER (.ci/slurm/up.sh): one fake GPU, jobs run on the CPU
NodeName=$host Name=gpu File=/dev/null
EOF

# ---------------------------------------------------------------- munge
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key >/dev/null
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already running (not ours; left alone)"
else
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
        >"$STATE/log/munged.out" 2>&1 || { cat "$STATE/log/munged.out" >&2; die "munged failed"; }
    cp /run/munge/munged.pid "$STATE/run/munged.pid"
    wait_for 10 "munge" bash -c 'munge -n | unmunge' || fail "munged does not answer"
fi

# ---------------------------------------------------------------- accounting
if [ "$accounting" = 1 ]; then
    db="$STATE/mysql"
    mkdir -p "$db"
    mariadb-install-db --no-defaults --user=root --datadir="$db" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$STATE/log/mariadb-install.log" 2>&1 \
        || { cat "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    setsid mariadbd --no-defaults --user=root --datadir="$db" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$STATE/run/mysql.sock" \
        --pid-file="$STATE/run/mariadbd.pid" --log-error="$STATE/log/mariadbd.log" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-name-resolve \
        >/dev/null 2>&1 &
    wait_for 30 "MariaDB" mariadb --no-defaults --socket="$STATE/run/mysql.sock" -uroot \
        -e 'select 1' || fail "MariaDB did not start"
    mariadb --no-defaults --socket="$STATE/run/mysql.sock" -uroot <<EOF
CREATE DATABASE slurm_acct_db;
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF
    umask 077
    cat >/etc/slurm/slurmdbd.conf <<EOF
# $MARKER (.ci/slurm/up.sh); throwaway CI accounting daemon
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
    umask 022
    chmod 600 /etc/slurm/slurmdbd.conf
    slurmdbd >"$STATE/log/slurmdbd.out" 2>&1 || fail "slurmdbd failed to start"
    wait_for 30 "slurmdbd" bash -c "sacctmgr -n -i show cluster >/dev/null 2>&1" \
        || fail "slurmdbd does not answer"
    # Register the cluster, an account 'datar' and root in it, before slurmctld starts.
    sacctmgr -i add cluster "$CLUSTER" >"$STATE/log/sacctmgr.log" 2>&1 || true
    sacctmgr -i add account datar Cluster="$CLUSTER" Description=ci Organization=ci \
        >>"$STATE/log/sacctmgr.log" 2>&1 || true
    sacctmgr -i add user root Account=datar Cluster="$CLUSTER" \
        >>"$STATE/log/sacctmgr.log" 2>&1 || true
fi

# ---------------------------------------------------------------- slurm
slurmctld -c >"$STATE/log/slurmctld.out" 2>&1 || fail "slurmctld failed to start"
wait_for 20 "slurmctld" scontrol ping || fail "slurmctld does not answer"
slurmd >"$STATE/log/slurmd.out" 2>&1 || fail "slurmd failed to start"

timeout_s="${DATAR_SLURM_TIMEOUT:-60}"
if ! wait_for "$timeout_s" "an idle node" node_ready; then
    st="$(node_state)"
    case "$st" in
        drain*|drng*|down*|fail*)
            sinfo -R >&2 || true ;;
    esac
    fail "node '$host' is '$st', not idle, after ${timeout_s}s"
fi
if [ "$accounting" = 1 ]; then
    wait_for 20 "sacct" bash -c "sacct -n -X -a >/dev/null 2>&1" || fail "sacct does not work"
fi
t1=$(date +%s.%N)
log "up in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s: node $host $(node_state)," \
    "$ncpu CPUs, ${real_mb} MB, gres gpu:1 (fake), partitions cpu (default) and gpu," \
    "job status via $( [ "$accounting" = 1 ] && echo 'sacct (slurmdbd + MariaDB)' || echo 'squeue (MinJobAge=600)')"
log "state and logs: $STATE; stop with .ci/slurm/down.sh"
