# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by up.sh and down.sh
# Shared by infra/up.sh and infra/down.sh (sourced, not run).
# Every process up.sh starts carries METERLINE_INFRA=<state dir> in its environment: that marker, not a
# process name, is how down.sh knows a pid is ours (another clone on the same machine has another marker).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
INFRA_DIR=$ROOT/infra
STATE_DIR=$ROOT/.infra
LOG_DIR=$STATE_DIR/logs
RUN_DIR=$STATE_DIR/run
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/meterline
# Parts up.sh started itself (one name per line); down.sh stops exactly these.
STARTED_FILE=$STATE_DIR/started

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
# The SASL_PLAINTEXT listener (PLAIN) beside the PLAINTEXT one, with fixed development credentials (ADR 0023).
KAFKA_SASL_PORT=${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}
KAFKA_SASL_DEV_USERNAME=meterline
KAFKA_SASL_DEV_PASSWORD=meterline-dev-password
# The SSL listener (TLS, server certificate only) beside them, with a self-signed development certificate
# made by up.sh (keytool) for 127.0.0.1 (ADR 0023).
KAFKA_SSL_PORT=${KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
# Quarkus' management interface (health, metrics) cannot be switched off at run time; keep it local.
REGISTRY_MANAGEMENT_PORT=${REGISTRY_MANAGEMENT_PORT:-$((REGISTRY_PORT + 10000))}
SMTP_PORT=${SMTP_PORT:-1025}
MAILDEV_WEB_PORT=${MAILDEV_WEB_PORT:-1080}
POSTGRES_PORT=${POSTGRES_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

APICURIO_VERSION=3.3.3
MAILDEV_VERSION=3.0.0

log() { printf 'infra: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# Serialises up/down: several engineers (and test runs) may call `pnpm infra:up` at the same time.
# Fd 9 holds the lock; spawned parts must not inherit it (they would hold the lock for their lifetime).
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/lock"
  flock -w 600 9 || die "could not get $STATE_DIR/lock within 10 minutes"
}

# Prints the pid recorded for a part if that process is alive and carries our marker. Redis rewrites its
# environment block for its process title, so for it the command line must match instead ($2).
our_pid() {
  local name=$1 cmdline_match=${2:-} pid
  [[ -f $RUN_DIR/$name.pid ]] || return 1
  pid=$(<"$RUN_DIR/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ -n $cmdline_match ]]; then
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$cmdline_match" || return 1
  else
    { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "METERLINE_INFRA=$STATE_DIR" || return 1
  fi
  printf '%s\n' "$pid"
}

# Starts a long-running part in its own session, logs to $LOG_DIR/<name>.out, pid to $RUN_DIR/<name>.pid.
spawn() {
  local name=$1
  shift
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  rm -f "$RUN_DIR/$name.pid"
  # The inner bash writes its own pid and then becomes the program (exec), so the pid file names the program.
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
  METERLINE_INFRA=$STATE_DIR setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN_DIR/$name.pid" "$@" \
    >>"$LOG_DIR/$name.out" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s $RUN_DIR/$name.pid ]] && return 0
    sleep 0.1
  done
  die "$name did not start (see $LOG_DIR/$name.out)"
}

# Stops a part by its pid file, only if the pid is really ours; waits for it to exit.
stop_part() {
  local name=$1 pid i
  if pid=$(our_pid "$name" "${2:-}"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 30 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$RUN_DIR/$name.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
