# shellcheck shell=bash  # sourced by infra/up.sh and infra/down.sh after common.sh
# A local 3-master Redis Cluster (Debian's redis-server, no replicas, no persistence) on loopback ports,
# for running the counting path against Redis Cluster (ADR 0020). Separate from the single Redis the
# services use by default: `up.sh --redis-cluster` starts it, down.sh stops it. Its addresses go to
# .infra/env as REDIS_CLUSTER_LOCAL_NODES (the services' REDIS_CLUSTER_NODES is set from it only by
# whoever wants a service on the cluster, e.g. the tests' METERLINE_REDIS=cluster switch).

REDIS_CLUSTER_PORTS=(${REDIS_CLUSTER_PORTS:-17001 17002 17003})
REDIS_CLUSTER_DIR=$STATE_DIR/redis-cluster

redis_cluster_nodes() {
  local out=() port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do out+=("127.0.0.1:$port"); done
  (IFS=,; printf '%s\n' "${out[*]}")
}

# The pid file names redis-server, which rewrites its environment: matched by its command line.
redis_cluster_pid() { our_pid "redis-cluster-$1" "redis-server 127.0.0.1:$1"; }

redis_cluster_ok() {
  [[ $(redis-cli -h 127.0.0.1 -p "${REDIS_CLUSTER_PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' |
    sed -n 's/^cluster_state://p') == ok ]] || return 1
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] || return 1
  done
}

stop_redis_cluster() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do stop_part "redis-cluster-$port" "redis-server 127.0.0.1:$port"; done
  rm -rf "$REDIS_CLUSTER_DIR"
}

# Idempotent: a whole cluster of ours is left alone; anything less (a node gone) is started afresh, all
# nodes at once (no persistence: the counters are rebuilt from the ledger, ADR 0011).
start_redis_cluster() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  local port ours=true
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do redis_cluster_pid "$port" >/dev/null || ours=false; done
  if $ours && redis_cluster_ok; then return 0; fi
  stop_redis_cluster
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    port_open "$port" && die "port $port is taken by a process that is not ours; set REDIS_CLUSTER_PORTS"
  done
  mkdir -p "$REDIS_CLUSTER_DIR" "$LOG_DIR" "$RUN_DIR"
  log "starting a 3-master Redis Cluster on 127.0.0.1:${REDIS_CLUSTER_PORTS[*]}"
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
      --cluster-config-file "$REDIS_CLUSTER_DIR/nodes-$port.conf" --cluster-node-timeout 5000 \
      --dir "$REDIS_CLUSTER_DIR" --save "" --appendonly no \
      --pidfile "$RUN_DIR/redis-cluster-$port.pid" --logfile "$LOG_DIR/redis-cluster-$port.log" >&2 9>&-
  done
  local _ up
  for _ in $(seq 1 40); do
    up=0
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
      [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && up=$((up + 1))
    done
    ((up == ${#REDIS_CLUSTER_PORTS[@]})) && break
    sleep 0.25
  done
  local hosts=()
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do hosts+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${hosts[@]}" --cluster-replicas 0 --cluster-yes \
    >>"$LOG_DIR/redis-cluster-create.log" 2>&1 || fail_part redis-cluster-create "could not create the cluster"
  for _ in $(seq 1 60); do
    redis_cluster_ok && return 0
    sleep 0.25
  done
  fail_part "redis-cluster-${REDIS_CLUSTER_PORTS[0]}" "did not reach cluster_state:ok"
}
