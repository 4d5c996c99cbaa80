#!/usr/bin/env bash
# Stops what infra/up.sh started, and nothing else: Kafka, the registry and maildev by their pid files (a pid
# counts only if the process carries this checkout's METERLINE_INFRA marker), and Postgres/Redis only if up.sh
# had to start them. Kafka's data is deleted too: the registry keeps its schemas in memory, so keeping messages
# whose schema ids the next registry would not know (or would give to other schemas) invites decode errors.
# `--keep-data` keeps .infra/kafka/data. Logs stay in .infra/logs. The local Redis Cluster (up.sh
# --redis-cluster) stops too; `--redis-cluster-only` stops only it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/redis-cluster.sh"

keep_data=false
[[ ${1:-} == --keep-data ]] && keep_data=true

take_lock
# The local Redis Cluster (up.sh --redis-cluster), if it is ours. `--redis-cluster-only` stops only it.
stop_redis_cluster
if [[ ${1:-} == --redis-cluster-only ]]; then
  if [[ -f $STATE_DIR/env ]]; then
    grep -v '^REDIS_CLUSTER_LOCAL_NODES=' "$STATE_DIR/env" >"$STATE_DIR/env.tmp" || true
    mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
  fi
  log "stopped the Redis Cluster"
  exit 0
fi
stop_part maildev
stop_part registry
stop_part kafka

if [[ -f $STARTED_FILE ]]; then
  while read -r part version; do # version: Postgres major version, or Redis port
    case $part in
      redis) stop_part redis "redis-server 127.0.0.1:$version" ;;
      postgres)
        log "stopping Postgres $version main (up.sh had started it)"
        pg_ctlcluster --skip-systemctl-redirect "$version" main stop || true
        ;;
    esac
  done <"$STARTED_FILE"
  rm -f "$STARTED_FILE"
fi

if ! $keep_data; then rm -rf "$STATE_DIR/kafka"; fi
rm -f "$STATE_DIR/env"
log "stopped"
