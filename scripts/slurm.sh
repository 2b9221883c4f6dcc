#!/usr/bin/env bash
# Start or stop a one-node SLURM cluster on loopback, for the tests and benchmarks that run the
# emitted workflows through Snakemake's SLURM executor plugin and toil's slurm batch system.
#   scripts/slurm.sh up      install Debian's slurm-wlm, munge, slurmdbd and mariadb-server if missing;
#                            start MariaDB, munged, slurmdbd, slurmctld and slurmd by hand (no systemd);
#                            wait until the node is idle
#   scripts/slurm.sh down    stop every daemon `up` started, by its PID file, and wait until each is gone
#   scripts/slurm.sh status  exit 0 when the node answers and is idle or busy
# Needs root (it writes /etc/slurm/slurm.conf). `up` is idempotent: when the cluster it started
# is still up, it only checks it. Accounting (slurmdbd over a private MariaDB, no TCP port) is on,
# because Snakemake's SLURM plugin asks `sacct` for job states by default; SLURM_ACCOUNTING=0 leaves
# it out (then run Snakemake with --slurm-status-command squeue).
# Facts and timings behind this set-up: shared/research/cluster-feasibility.md.
set -euo pipefail
cd "$(dirname "$0")/.."
state=$PWD/build/slurm
accounting=${SLURM_ACCOUNTING:-1}
# slurmd, slurmctld, slurmdbd, munged, mariadbd: stopped in this order (clients before servers)
daemons="slurmd slurmctld slurmdbd munged mariadbd"

pidfile() {
  case "$1" in
    munged) echo /run/munge/munged.pid ;;
    mariadbd) echo "$state/mysql/mariadbd.pid" ;;
    *) echo "$state/run/$1.pid" ;;
  esac
}

# the PID of a daemon we started, if it still runs (the PID's command name must match)
running() {
  local pf pid
  pf=$(pidfile "$1")
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf")
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  echo "$pid"
}

node_up() {
  case "$(sinfo -h -N -o %t 2>/dev/null)" in idle|mix|alloc) return 0 ;; *) return 1 ;; esac
}

install_packages() {
  local want="slurm-wlm munge" missing=0
  [ "$accounting" = 1 ] && want="$want slurmdbd mariadb-server"
  for bin in slurmctld slurmd munged; do command -v "$bin" >/dev/null || missing=1; done
  if [ "$accounting" = 1 ]; then
    for bin in slurmdbd mariadbd; do [ -x "/usr/sbin/$bin" ] || missing=1; done
  fi
  [ "$missing" = 1 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "slurm.sh: SLURM is not installed and installing it needs root (apt-get install $want)" >&2
    exit 1
  fi
  mkdir -p "$state"
  apt-get update -qq >"$state/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $want >>"$state/apt.log" 2>&1 ||
    { echo "slurm.sh: apt-get install $want failed; see $state/apt.log" >&2; exit 1; }
}

write_config() {
  local host node
  host=$(hostname -s)
  # the node's real hardware, so that slurmd is not drained for a CPU or memory mismatch
  node=$(slurmd -C | head -1)
  # /etc/slurm/slurm.conf, the compiled-in path: Snakemake's slurm-jobstep drops SLURM_CONF from
  # the environment of the srun it runs inside each job
  mkdir -p /etc/slurm
  cat >/etc/slurm/slurm.conf <<EOF
# written by yadage2x scripts/slurm.sh: a one-node cluster on loopback for tests
ClusterName=yadage2x
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
ReturnToService=2
MailProg=/bin/true
# finished jobs stay visible to squeue/scontrol for 5 minutes (Snakemake's squeue status mode needs it)
MinJobAge=300
EOF
  if [ "$accounting" = 1 ]; then
    cat >>/etc/slurm/slurm.conf <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
EOF
    # slurmdbd refuses a config others can read
    install -m 600 /dev/null /etc/slurm/slurmdbd.conf
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$state/run/slurmdbd.pid
LogFile=$state/log/slurmdbd.log
EOF
  else
    printf 'AccountingStorageType=accounting_storage/none\nJobAcctGatherType=jobacct_gather/none\n' >>/etc/slurm/slurm.conf
  fi
  cat >>/etc/slurm/slurm.conf <<EOF
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

wait_for() {  # wait_for SECONDS what command...
  local tries=$(($1 * 10)) what=$2
  shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "slurm.sh: $what did not come up; logs in $state/log" >&2
  tail -n 20 "$state"/log/*.log "$state"/mysql/*.err 2>/dev/null >&2 || true
  down
  exit 1
}

up() {
  if running slurmctld >/dev/null && running slurmd >/dev/null && node_up; then
    return 0
  fi
  install_packages
  down  # whatever is left of an earlier run (stale PID files, a half-started daemon)
  rm -rf "$state/state" "$state/spool" "$state/run" "$state/log" "$state/mysql"
  mkdir -p "$state"/{state,spool,run,log}
  write_config
  [ -s /etc/munge/munge.key ] || { mungekey --create; chown munge:munge /etc/munge/munge.key; }
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged  # each daemon forks into the background itself
  if [ "$accounting" = 1 ]; then
    # a private MariaDB: its own data folder, unix socket only, root authenticated by the socket
    install -d -o mysql -g mysql /run/mysqld "$state/mysql"
    mariadb-install-db --user=mysql --datadir="$state/mysql/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$state/log/mariadb-install.log" 2>&1
    /usr/sbin/mariadbd --user=mysql --datadir="$state/mysql/data" --skip-networking --socket=/run/mysqld/mysqld.sock \
      --pid-file="$state/mysql/mariadbd.pid" --log-error="$state/mysql/mariadb.err" >/dev/null 2>&1 </dev/null &
    wait_for 30 MariaDB mariadb-admin ping
    /usr/sbin/slurmdbd  # creates the accounting database; slurmctld dies if it cannot reach it
    wait_for 30 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster yadage2x >/dev/null 2>&1 || true
  fi
  /usr/sbin/slurmctld
  /usr/sbin/slurmd
  wait_for 30 "the SLURM node" node_up
}

down() {
  local pid
  for daemon in $daemons; do
    pid=$(running "$daemon") || continue
    kill "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) running slurmctld >/dev/null && running slurmd >/dev/null && node_up ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
