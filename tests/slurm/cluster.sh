#!/usr/bin/env bash
# Bring up / tear down a REAL single-node Slurm cluster on this machine, for tests.
#
#   tests/slurm/cluster.sh install            # apt-get install Slurm + munge if sbatch is missing
#   tests/slurm/cluster.sh start  [STATE_DIR] # write slurm.conf, start slurmctld + slurmd, wait for idle
#   tests/slurm/cluster.sh stop   [STATE_DIR] # cancel jobs, SIGTERM daemons by pid file, wait for exit
#   tests/slurm/cluster.sh status [STATE_DIR] # exit 0 if both daemons run and the node answers, else 3
#   tests/slurm/cluster.sh env    [STATE_DIR] # prints: export SLURM_CONF=STATE_DIR/slurm.conf
#
# STATE_DIR defaults to $PYRULE_SLURM_DIR or /tmp/pyrule-slurm.  Everything (config, state,
# spool, logs, pid files, job completion log) lives under it.  Clients (sbatch, squeue, sacct ...)
# must be given SLURM_CONF=STATE_DIR/slurm.conf, e.g.  eval "$(tests/slurm/cluster.sh env)".
#
# Written for Debian 12 (Slurm 22.05), run as root, no systemd, no cgroups.
#
# Design choices (see docs/slurm-test-cluster.md for observed behaviour):
#  * AuthType=auth/none + CredType=cred/none: no munged to start or to stop; quickest and
#    one process fewer that can fail.  Fine for a throw-away single-node test cluster.
#  * slurmd runs with -N localhost because the machine's hostname is not "localhost".
#  * OverSubscribe=FORCE:8: without it Slurm starts only ~1 job per CPU per second.
#  * SelectTypeParameters=CR_Core_Memory with DefMemPerCPU=RealMemory/(CPUs*8): memory is a
#    consumable resource, which is REQUIRED for any memory enforcement (with plain CR_Core the
#    job's --mem never reaches slurmstepd: a 50M job using 300M was observed to COMPLETE).
#    The default per-job memory is chosen so that CPUs*8 default jobs fit at once, i.e. it
#    does not reduce concurrency below what OverSubscribe=FORCE:8 allows.  Jobs without --mem
#    get that default as their limit (printed by `status`, MinMemoryCPU in scontrol).
#  * Memory enforcement, PYRULE_SLURM_MEMORY=auto|cgroup|poll (default auto):
#     - cgroup: chosen by auto when a cgroup-v1 "memory" and "freezer" hierarchy is mounted
#       under /sys/fs/cgroup (true on the Debian 12 test VMs, although there is no systemd).
#       ProctrackType=proctrack/cgroup, TaskPlugin=task/cgroup, cgroup.conf with
#       CgroupPlugin=cgroup/v1 and ConstrainRAMSpace=yes.  OBSERVED: a job that uses more than
#       --mem has its process OOM-killed by the kernel and the job ends
#       JobState=OUT_OF_MEMORY Reason=OutOfMemory ExitCode=0:125 (even if the batch script
#       itself goes on and exits 0), sacct -c: OUT_OF_MEMORY|0:125.
#     - poll: no usable cgroups.  JobAcctGatherType=jobacct_gather/linux polls /proc every
#       second and JobAcctGatherParams=OverMemoryKill kills the step.  OBSERVED: OUT_OF_MEMORY
#       is NOT produced this way; the job ends JobState=FAILED Reason=JobLaunchFailure
#       ExitCode=0:9, and the job's output file contains
#       "slurmstepd-localhost: error: Exceeded job memory limit".  Polling based: a job can
#       grow well past the limit for up to a second before it dies.
#     In auto mode, if slurmd does not come up with cgroups, the start is retried with poll.
#     The mode in use is written to STATE_DIR/memory-mode and printed by `status`.
#  * OverTimeLimit=0 and KillWait=2: a job that exceeds --time is killed promptly and ends
#    TIMEOUT.  The time limit resolution is one minute (--time=0:01 is rounded UP to 1
#    minute) and slurmctld checks limits every ~30 s, so a --time=1 job ends TIMEOUT
#    60-90 s after it started (observed: 67 s).
#  * JobCompType=jobcomp/filetxt: without slurmdbd, `sacct -c` reads this file.
#  * MinJobAge=300: finished jobs stay visible to squeue/scontrol for 5 minutes.
#  * Only one such cluster per machine at a time (fixed ports 6817/6818 unless
#    PYRULE_SLURM_CTLD_PORT / PYRULE_SLURM_SLURMD_PORT are set).
set -euo pipefail

CMD=${1:-}
shift || true
STATE_DIR=${1:-${PYRULE_SLURM_DIR:-/tmp/pyrule-slurm}}
START_TIMEOUT=${PYRULE_SLURM_START_TIMEOUT:-30}
CTLD_PORT=${PYRULE_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${PYRULE_SLURM_SLURMD_PORT:-6818}
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { echo "cluster.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root to run: $*"
    fi
}

have_slurm() {
    command -v sbatch >/dev/null 2>&1 && command -v slurmctld >/dev/null 2>&1 \
        && command -v slurmd >/dev/null 2>&1
}

# PATH may lack /usr/sbin for non-login shells.
export PATH="$PATH:/usr/sbin:/sbin"

cmd_install() {
    if have_slurm; then
        log "Slurm already installed ($(command -v sbatch))"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "sbatch missing and no apt-get to install Slurm"
    log "installing ${PACKAGES[*]} ..."
    # policy-rc.d may print "invoke-rc.d: policy-rc.d denied execution of start": harmless.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${PACKAGES[@]}" >/dev/null
    have_slurm || die "apt-get install finished but sbatch/slurmctld/slurmd still missing"
    log "installed"
}

conf() { echo "$STATE_DIR/slurm.conf"; }
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# pid from a pid file, only if that process still is the named daemon (a stale pid file
# after a reboot could name an unrelated process, which `stop` must never signal).
read_pid() {  # pidfile comm
    local pid
    pid=$( [ -s "$1" ] && tr -dc '0-9' <"$1" || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
        echo "$pid"
    fi
}
ctld_pid() { read_pid "$STATE_DIR/run/slurmctld.pid" slurmctld; }
slurmd_pid() { read_pid "$STATE_DIR/run/slurmd.pid" slurmd; }

node_state() {
    # One line per partition ("idle" twice); ask for the debug partition only.
    SLURM_CONF=$(conf) timeout 5 sinfo -h -n localhost -p debug -o %T 2>/dev/null | head -n1 || true
}

is_running() {
    [ -f "$(conf)" ] && pid_alive "$(ctld_pid)" && pid_alive "$(slurmd_pid)"
}

port_in_use() {  # true if something accepts TCP connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cgroup_v1_usable() {
    # Slurm's cgroup/v1 plugin needs the memory (ConstrainRAMSpace) and freezer
    # (proctrack/cgroup) controllers mounted as separate v1 hierarchies, writable by us.
    local c
    for c in memory freezer; do
        awk -v m="/sys/fs/cgroup/$c" '$2 == m && $3 == "cgroup" {f=1} END {exit !f}' /proc/mounts \
            || return 1
        [ -w "/sys/fs/cgroup/$c" ] || return 1
    done
}

pick_memory_mode() {
    case "${PYRULE_SLURM_MEMORY:-auto}" in
        cgroup) echo cgroup ;;
        poll) echo poll ;;
        auto) if cgroup_v1_usable; then echo cgroup; else echo poll; fi ;;
        *) die "PYRULE_SLURM_MEMORY must be auto, cgroup or poll (got '$PYRULE_SLURM_MEMORY')" ;;
    esac
}

write_conf() {  # memory_mode
    local mode=$1 cpus mem_kb mem_mb headroom def_mem
    cpus=$(nproc)
    mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    mem_mb=$((mem_kb / 1024))
    # Leave 10% (at least 256 MB, at most 2 GB) for the OS; slurmd refuses the node
    # (INVAL/DRAIN) if RealMemory is larger than what it finds.
    headroom=$((mem_mb / 10))
    [ "$headroom" -lt 256 ] && headroom=256
    [ "$headroom" -gt 2048 ] && headroom=2048
    mem_mb=$((mem_mb - headroom))
    [ "$mem_mb" -lt 256 ] && mem_mb=256
    # Default memory of a job without --mem: CPUs*8 such jobs fit (= OverSubscribe=FORCE:8).
    def_mem=$((mem_mb / (cpus * 8)))
    [ "$def_mem" -lt 64 ] && def_mem=64

    local proctrack task gather_params
    if [ "$mode" = cgroup ]; then
        proctrack=proctrack/cgroup task=task/cgroup gather_params=""
        cat >"$STATE_DIR/cgroup.conf" <<EOF
# Generated by tests/slurm/cluster.sh (memory mode: cgroup)
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
EOF
    else
        proctrack=proctrack/linuxproc task=task/none gather_params="JobAcctGatherParams=OverMemoryKill"
        rm -f "$STATE_DIR/cgroup.conf"
    fi

    cat >"$(conf).tmp" <<EOF
# Generated by tests/slurm/cluster.sh -- single-node test cluster, do not use in production.
# memory mode: $mode
ClusterName=pyrule
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=$proctrack
TaskPlugin=$task
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
MailProg=/bin/true
# Finished jobs stay in squeue -t all / scontrol show job for this many seconds.
MinJobAge=300
# Time limits: kill exactly at the limit, SIGTERM -> SIGKILL after 2 s.
OverTimeLimit=0
KillWait=2
InactiveLimit=0
Waittime=0
# Accounting: no slurmdbd.  sacct -c reads the jobcomp/filetxt log.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE_DIR/jobcomp.log
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
$gather_params
# Paths
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Node and partitions
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
PartitionName=other Nodes=localhost Default=NO MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
    mv "$(conf).tmp" "$(conf)"
    echo "$mode" >"$STATE_DIR/memory-mode"
}

log_tail() {
    local f
    for f in "$STATE_DIR/log/slurmctld.log" "$STATE_DIR/log/slurmd.log"; do
        if [ -f "$f" ]; then
            echo "----- last lines of $f -----" >&2
            tail -n 25 "$f" >&2
        fi
    done
}

# Start both daemons with the current config and wait for the node to be idle.
# Returns 1 (after printing the reason and the log tails) on failure; leaves cleanup to caller.
start_daemons() {
    mkdir -p "$STATE_DIR"/{state,spool,run,log}
    # Fresh start: job ids restart at 1 (slurmctld -i), so old state and the old job
    # completion log must go, or `sacct -c -j 1` would also find a job of an earlier run.
    rm -rf "$STATE_DIR"/state/* "$STATE_DIR"/spool/* "$STATE_DIR"/run/*
    rm -f "$STATE_DIR/jobcomp.log"
    local f
    for f in slurmctld slurmd; do
        [ -f "$STATE_DIR/log/$f.log" ] && mv -f "$STATE_DIR/log/$f.log" "$STATE_DIR/log/$f.log.old"
    done
    export SLURM_CONF
    SLURM_CONF=$(conf)

    # Both daemonize and write their pid files.  -i: ignore (absent) saved state.
    slurmctld -f "$SLURM_CONF" -i || { log_tail; log "slurmctld failed to start"; return 1; }
    slurmd -f "$SLURM_CONF" -N localhost || { log_tail; log "slurmd failed to start"; return 1; }

    local start=$SECONDS deadline=$((SECONDS + START_TIMEOUT)) st=""
    while :; do
        st=$(node_state)
        # Both of OUR daemons must be alive: sinfo could be answered by another cluster's
        # slurmctld on the same port.
        if [ "$st" = idle ] && pid_alive "$(ctld_pid)" && pid_alive "$(slurmd_pid)"; then
            return 0
        fi
        if [ $SECONDS -ge $deadline ]; then
            log_tail
            log "node did not become idle within ${START_TIMEOUT}s (sinfo says '${st:-nothing}'); config: $SLURM_CONF"
            return 1
        fi
        if [ $((SECONDS - start)) -ge 2 ]; then
            pid_alive "$(ctld_pid)" || { log_tail; log "slurmctld exited during start-up"; return 1; }
            pid_alive "$(slurmd_pid)" || { log_tail; log "slurmd exited during start-up"; return 1; }
        fi
        sleep 0.2
    done
}

cmd_start() {
    have_slurm || die "Slurm is not installed (sbatch/slurmctld/slurmd not found); run: $0 install"
    if is_running; then
        local st
        st=$(node_state)
        case "$st" in
            idle|mixed|allocated)
                log "already running in $STATE_DIR (node $st, memory mode $(cat "$STATE_DIR/memory-mode" 2>/dev/null))"
                return 0 ;;
        esac
        log "daemons running in $STATE_DIR but node state is '${st:-?}'; restarting"
        cmd_stop
    fi
    # A half-started cluster (one daemon left over): stop what is there first.
    if pid_alive "$(ctld_pid)" || pid_alive "$(slurmd_pid)"; then
        cmd_stop
    fi

    local port
    for port in "$CTLD_PORT" "$SLURMD_PORT"; do
        if port_in_use "$port"; then
            die "TCP port $port is already in use (another Slurm cluster on this machine?" \
                "e.g. one started with a different STATE_DIR; stop it, or set" \
                "PYRULE_SLURM_CTLD_PORT/PYRULE_SLURM_SLURMD_PORT)"
        fi
    done

    mkdir -p "$STATE_DIR"
    local mode
    mode=$(pick_memory_mode)
    write_conf "$mode"
    if ! start_daemons; then
        if [ "$mode" = cgroup ] && [ "${PYRULE_SLURM_MEMORY:-auto}" = auto ]; then
            log "start with cgroup memory enforcement failed; retrying with memory mode 'poll'"
            cmd_stop >/dev/null 2>&1 || true
            mode=poll
            write_conf "$mode"
            start_daemons || { cmd_stop >/dev/null 2>&1 || true; die "could not start the Slurm test cluster"; }
        else
            cmd_stop >/dev/null 2>&1 || true
            die "could not start the Slurm test cluster"
        fi
    fi
    log "started in $STATE_DIR (slurmctld pid $(ctld_pid), slurmd pid $(slurmd_pid), memory mode $mode); node idle"
}

wait_exit() {  # pid timeout_s
    local pid=$1 deadline=$((SECONDS + $2))
    while pid_alive "$pid"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}

cmd_stop() {
    local c s
    c=$(ctld_pid); s=$(slurmd_pid)
    if ! pid_alive "$c" && ! pid_alive "$s"; then
        log "not running ($STATE_DIR)"
        rm -f "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR/run/slurmd.pid"
        return 0
    fi
    # Cancel this cluster's jobs first so that no slurmstepd / job process outlives slurmd.
    if pid_alive "$c" && pid_alive "$s" && [ -f "$(conf)" ]; then
        export SLURM_CONF
        SLURM_CONF=$(conf)
        local ids
        ids=$(timeout 5 squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null || true)
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086
            timeout 5 scancel $ids 2>/dev/null || true
            local deadline=$((SECONDS + 10))
            while [ $SECONDS -lt $deadline ] && [ -n "$(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null || true)" ]; do
                sleep 0.2
            done
        fi
    fi
    pid_alive "$s" && kill -TERM "$s" 2>/dev/null || true
    pid_alive "$c" && kill -TERM "$c" 2>/dev/null || true
    for p in $s $c; do
        if ! wait_exit "$p" 15; then
            log "pid $p did not exit after SIGTERM within 15 s; sending SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
            wait_exit "$p" 5 || die "pid $p survived SIGKILL"
        fi
    done
    rm -f "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR/run/slurmd.pid"
    # cgroup mode: slurmd leaves empty /sys/fs/cgroup/{memory,freezer}/slurm_localhost behind.
    # Remove them (best effort; rmdir only succeeds on cgroups without processes).
    local d
    for d in /sys/fs/cgroup/*/slurm_localhost; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    log "stopped ($STATE_DIR)"
}

cmd_status() {
    local c s st
    c=$(ctld_pid); s=$(slurmd_pid)
    echo "state dir: $STATE_DIR"
    echo "slurmctld: $(pid_alive "$c" && echo "running (pid $c)" || echo stopped)"
    echo "slurmd:    $(pid_alive "$s" && echo "running (pid $s)" || echo stopped)"
    if [ -f "$(conf)" ]; then
        echo "memory:    $(cat "$STATE_DIR/memory-mode" 2>/dev/null || echo unknown)" \
             "(DefMemPerCPU=$(sed -n 's/^DefMemPerCPU=//p' "$(conf)") MB)"
    fi
    if is_running; then
        st=$(node_state)
        echo "node:      ${st:-no answer}"
        [ -n "$st" ] && return 0
    fi
    return 3
}

cmd_env() {
    echo "export SLURM_CONF=$(conf)"
}

case "$CMD" in
    install) cmd_install ;;
    start)
        # Serialize concurrent start/stop on the same state dir.
        mkdir -p "$STATE_DIR"
        exec 9>"$STATE_DIR/.lock"; flock -w 120 9 || die "could not lock $STATE_DIR/.lock"
        cmd_start ;;
    stop)
        [ -d "$STATE_DIR" ] || { log "not running ($STATE_DIR does not exist)"; exit 0; }
        exec 9>"$STATE_DIR/.lock"; flock -w 120 9 || die "could not lock $STATE_DIR/.lock"
        cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        echo "usage: $0 {install|start [STATE_DIR]|stop [STATE_DIR]|status [STATE_DIR]|env [STATE_DIR]}" >&2
        exit 2 ;;
esac
