#!/usr/bin/env bash
# Starts Meterline's local backbone without Docker and prints its settings as KEY=VALUE lines:
# Kafka (KRaft, jars from Maven Central), Apicurio Registry (Confluent-compatible API), maildev (SMTP catcher),
# and the machine's Postgres and Redis (installed from Debian packages and started only when they do not answer).
# Idempotent: parts that already answer are left alone. Downloads are cached in ${XDG_CACHE_HOME:-~/.cache}/meterline,
# runtime state (pids, logs, Kafka data, env file) lives in <repo>/.infra. See docs/adr/0001-*.
# Every port can be moved by its variable (KAFKA_PORT, KAFKA_SASL_PORT, REGISTRY_PORT, ...; infra/lib/common.sh).
# `--kafka-only` starts only Kafka and writes only its settings: a second broker from another checkout, e.g.
#   KAFKA_PORT=29092 bash infra/up.sh --kafka-only   (then `bash infra/down.sh` in that checkout)
# `--redis-cluster` also starts a local 3-master Redis Cluster (ADR 0020); `--redis-cluster-only` starts
# only that and adds its line to the env file, leaving every other part alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/redis-cluster.sh"

KAFKA_POM=$INFRA_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_DIR=$STATE_DIR/kafka
MVN_FLAGS=(-q -B -Dstyle.color=never)
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1

# Prints the last lines of a part's logs and fails.
fail_part() {
  local name=$1 why=$2 file
  log "ERROR: $name $why; last log lines:"
  for file in "$LOG_DIR/$name.log" "$LOG_DIR/$name.out"; do
    [[ -s $file ]] || continue
    printf -- '--- %s\n' "$file" >&2
    tail -n 30 "$file" >&2
  done
  exit 1
}

# Waits until `probe` succeeds; gives up after timeout seconds or when the part's process died.
wait_ready() {
  local name=$1 timeout=$2 probe=$3 deadline=$((SECONDS + $2))
  while ! $probe; do
    if [[ -f $RUN_DIR/$name.pid ]] && ! our_pid "$name" >/dev/null; then
      fail_part "$name" "exited while starting"
    fi
    if ((SECONDS >= deadline)); then
      stop_part "$name"
      fail_part "$name" "did not answer within ${timeout}s"
    fi
    sleep 0.5
  done
}

apt_install() {
  log "installing Debian packages: $*"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >&2
}

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

# Prints a java binary of at least the given major version: $2 (explicit choice), JAVA_HOME, PATH, /usr/lib/jvm.
find_java() {
  local min=$1 candidate major
  for candidate in ${2:+"$2"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -x $candidate ]] || continue
    major=$(java_major "$candidate")
    if [[ $major =~ ^[0-9]+$ ]] && ((major >= min)); then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v setsid >/dev/null || missing+=(util-linux)
  command -v node >/dev/null || die "node is required (Node 22.12+; scripts/ensure-node.sh installs one)"
  command -v npm >/dev/null || die "npm is required (it comes with Node)"
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

# ---------------------------------------------------------------- downloads (cached)

# The broker's classpath, keyed by the POM's hash so that editing infra/kafka/pom.xml refetches.
fetch_kafka() {
  local hash
  hash=$(sha256sum "$KAFKA_POM" | cut -c1-12)
  KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION-$hash/libs
  [[ -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central"
  local tmp=$CACHE_DIR/.kafka-libs.$$
  rm -rf "$tmp"
  mvn "${MVN_FLAGS[@]}" -f "$KAFKA_POM" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$LOG_DIR/fetch-kafka.log" 2>&1 ||
    fail_part fetch-kafka "download failed"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

# Apicurio's runnable Quarkus app is published on Maven Central as the `all` tar.gz of the app module.
fetch_registry() {
  REGISTRY_HOME=$CACHE_DIR/apicurio-registry-$APICURIO_VERSION
  [[ -f $REGISTRY_HOME/quarkus-run.jar ]] && return 0
  log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central (~160 MB)"
  local tmp=$CACHE_DIR/.apicurio.$$
  rm -rf "$tmp"
  # Without a project, unpack leaves marker files in a literal `${project.basedir}` under the current
  # directory: run it in a scratch directory.
  mkdir -p "$tmp.work"
  (cd "$tmp.work" && mvn "${MVN_FLAGS[@]}" "$DEPENDENCY_PLUGIN:unpack" \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$tmp") >"$LOG_DIR/fetch-registry.log" 2>&1 || fail_part fetch-registry "download failed"
  rm -rf "$tmp.work"
  [[ -f $tmp/quarkus-run.jar ]] || fail_part fetch-registry "unexpected layout: no quarkus-run.jar"
  rm -rf "$REGISTRY_HOME"
  mv "$tmp" "$REGISTRY_HOME"
}

# Installed into the cache, not the workspace: it is a tool, not a dependency of the code.
fetch_maildev() {
  MAILDEV_HOME=$CACHE_DIR/maildev-$MAILDEV_VERSION
  MAILDEV_BIN=$MAILDEV_HOME/node_modules/maildev/dist/bin/maildev.js
  [[ -f $MAILDEV_BIN ]] && return 0
  log "installing maildev $MAILDEV_VERSION from npm"
  local tmp=$CACHE_DIR/.maildev.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (cd "$tmp" && npm install --prefix "$tmp" --no-audit --no-fund --omit=dev --no-package-lock \
    --loglevel=error "maildev@$MAILDEV_VERSION") >"$LOG_DIR/fetch-maildev.log" 2>&1 ||
    fail_part fetch-maildev "npm install failed"
  rm -rf "$MAILDEV_HOME"
  mv "$tmp" "$MAILDEV_HOME"
}

# ---------------------------------------------------------------- probes

kafka_ready() { node "$INFRA_DIR/lib/kafka-ready.mjs" "127.0.0.1:$KAFKA_PORT" 2>/dev/null; }
registry_ready() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
    "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects") == 200 ]]
}
smtp_ready() {
  local banner
  banner=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT; head -n 1 <&3; printf 'QUIT\r\n' >&3" \
    2>/dev/null) || return 1
  [[ $banner == 220* ]]
}
maildev_ready() {
  smtp_ready && [[ $(curl -s --max-time 3 "http://127.0.0.1:$MAILDEV_WEB_PORT/api/healthz") == true ]]
}
postgres_ready() {
  pg_isready -q -h 127.0.0.1 -p "$POSTGRES_PORT" &&
    [[ $(psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -XAtqc 'select 1' 2>/dev/null) == 1 ]]
}
redis_ready() {
  local reply
  reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT; printf 'PING\r\n' >&3; head -n 1 <&3" \
    2>/dev/null) || return 1
  [[ $reply == +PONG* ]]
}

# Leaves a running part alone if it answers; waits if it is still starting; otherwise starts it.
# Returns 0 when the part must be started.
needs_start() {
  local name=$1 probe=$2 timeout=$3 port=$4 pid
  if pid=$(our_pid "$name"); then
    $probe && return 1
    log "$name (pid $pid) is running but not answering yet; waiting"
    wait_ready "$name" "$timeout" "$probe"
    return 1
  fi
  rm -f "$RUN_DIR/$name.pid"
  port_open "$port" && die "port $port is taken by a process that is not ours; stop it or set the port variable"
  return 0
}

# ---------------------------------------------------------------- parts

# The SSL listener, added to the generated server.properties (the template, which the fault suite's own
# broker uses too, stays without it): a self-signed certificate for 127.0.0.1 in a PKCS12 keystore, made
# once with the JDK's keytool, and its PEM copy for the clients (KAFKA_SSL_LISTENER_CA_FILE).
kafka_ssl_listener() {
  local keytool=${1%/java}/keytool tls=$KAFKA_DIR/tls pass=meterline-dev-keystore
  [[ -x $keytool ]] || keytool=$(command -v keytool) || die "Kafka's SSL listener needs the JDK's keytool"
  mkdir -p "$tls"
  if [[ ! -s $tls/broker.p12 || ! -s $tls/ca.pem ]]; then
    rm -f "$tls/broker.p12" "$tls/ca.pem"
    "$keytool" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 -dname CN=127.0.0.1 \
      -ext SAN=IP:127.0.0.1 -ext BC:c=ca:true -storetype PKCS12 -keystore "$tls/broker.p12" \
      -storepass "$pass" -keypass "$pass" >>"$LOG_DIR/kafka.out" 2>&1 || fail_part kafka "keytool failed"
    "$keytool" -exportcert -rfc -alias broker -keystore "$tls/broker.p12" -storepass "$pass" \
      -file "$tls/ca.pem" >>"$LOG_DIR/kafka.out" 2>&1 || fail_part kafka "keytool -exportcert failed"
  fi
  local props=$KAFKA_DIR/server.properties
  sed -i -e "s|^listeners=\(.*\)$|listeners=\1,SSL://127.0.0.1:$KAFKA_SSL_PORT|" \
    -e "s|^advertised.listeners=\(.*\)$|advertised.listeners=\1,SSL://127.0.0.1:$KAFKA_SSL_PORT|" \
    -e "s|^listener.security.protocol.map=\(.*\)$|listener.security.protocol.map=\1,SSL:SSL|" "$props"
  cat >>"$props" <<PROPS
listener.name.ssl.ssl.keystore.type=PKCS12
listener.name.ssl.ssl.keystore.location=$tls/broker.p12
listener.name.ssl.ssl.keystore.password=$pass
listener.name.ssl.ssl.key.password=$pass
listener.name.ssl.ssl.client.auth=none
PROPS
}

start_kafka() {
  needs_start kafka kafka_ready 90 "$KAFKA_PORT" || return 0
  port_open "$KAFKA_CONTROLLER_PORT" && die "Kafka controller port $KAFKA_CONTROLLER_PORT is taken"
  port_open "$KAFKA_SASL_PORT" && die "Kafka SASL port $KAFKA_SASL_PORT is taken (set KAFKA_SASL_PORT)"
  port_open "$KAFKA_SSL_PORT" && die "Kafka SSL port $KAFKA_SSL_PORT is taken (set KAFKA_SSL_PORT)"
  fetch_kafka
  local java
  java=$(find_java 17 "${KAFKA_JAVA:-}") || die "Kafka $KAFKA_VERSION needs Java 17+"
  mkdir -p "$KAFKA_DIR/data"
  sed -e "s/@KAFKA_PORT@/$KAFKA_PORT/g" -e "s/@KAFKA_CONTROLLER_PORT@/$KAFKA_CONTROLLER_PORT/g" \
    -e "s/@KAFKA_SASL_PORT@/$KAFKA_SASL_PORT/g" -e "s/@KAFKA_SASL_USERNAME@/$KAFKA_SASL_DEV_USERNAME/g" \
    -e "s/@KAFKA_SASL_PASSWORD@/$KAFKA_SASL_DEV_PASSWORD/g" \
    -e "s:@DATA_DIR@:$KAFKA_DIR/data:g" "$INFRA_DIR/kafka/server.properties" >"$KAFKA_DIR/server.properties"
  kafka_ssl_listener "$java"
  local jvm=(-Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR"
    -Djava.awt.headless=true -cp "$KAFKA_LIBS/*")
  if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
    [[ -s $KAFKA_DIR/cluster.id ]] || "$java" "${jvm[@]}" kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster.id"
    "$java" "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted -t "$(<"$KAFKA_DIR/cluster.id")" \
      -c "$KAFKA_DIR/server.properties" >>"$LOG_DIR/kafka.out" 2>&1 || fail_part kafka "storage format failed"
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (SASL_PLAINTEXT on $KAFKA_SASL_PORT, SSL on $KAFKA_SSL_PORT)"
  spawn kafka "$java" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 "${jvm[@]}" \
    kafka.Kafka "$KAFKA_DIR/server.properties"
}

start_registry() {
  needs_start registry registry_ready 120 "$REGISTRY_PORT" || return 0
  port_open "$REGISTRY_MANAGEMENT_PORT" && die "registry management port $REGISTRY_MANAGEMENT_PORT is taken"
  fetch_registry
  local java
  # Apicurio 3.3 is compiled for Java 21 (class file 65); Debian bookworm only packages Java 17.
  java=$(find_java 21 "${REGISTRY_JAVA:-}") ||
    die "Apicurio Registry $APICURIO_VERSION needs Java 21+ (set REGISTRY_JAVA=/path/to/bin/java); found none in JAVA_HOME, PATH or /usr/lib/jvm"
  log "starting Apicurio Registry $APICURIO_VERSION on 127.0.0.1:$REGISTRY_PORT ($java)"
  spawn registry "$java" -Xms128m -Xmx512m \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
    -Dquarkus.http.access-log.enabled=false '-Dquarkus.log.category."io.apicurio".level=WARN' \
    '-Dquarkus.log.category."io.quarkus.bootstrap.runner.Timing".level=INFO' \
    -jar "$REGISTRY_HOME/quarkus-run.jar"
}

start_maildev() {
  needs_start maildev maildev_ready 30 "$SMTP_PORT" || return 0
  port_open "$MAILDEV_WEB_PORT" && die "port $MAILDEV_WEB_PORT is taken by a process that is not ours"
  fetch_maildev
  log "starting maildev $MAILDEV_VERSION (SMTP 127.0.0.1:$SMTP_PORT, web 127.0.0.1:$MAILDEV_WEB_PORT)"
  # maildev keeps mail files in /tmp/maildev unless told otherwise; keep them per checkout, empty on start.
  rm -rf "$STATE_DIR/maildev"
  mkdir -p "$STATE_DIR/maildev"
  spawn maildev node "$MAILDEV_BIN" --ip 127.0.0.1 --smtp "$SMTP_PORT" \
    --web-ip 127.0.0.1 --web "$MAILDEV_WEB_PORT" --mail-directory "$STATE_DIR/maildev"
}

mark_started() { grep -qxF "$1" "$STARTED_FILE" 2>/dev/null || echo "$1" >>"$STARTED_FILE"; }

ensure_postgres() {
  postgres_ready && return 0
  log "Postgres does not answer on 127.0.0.1:$POSTGRES_PORT; starting it"
  if ! command -v pg_ctlcluster >/dev/null || ! compgen -G '/etc/postgresql/*/main' >/dev/null; then
    apt_install postgresql
  fi
  local version
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >>"$LOG_DIR/postgres.log" 2>&1 || true
  mark_started "postgres $version"
  local _
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$POSTGRES_PORT" && break
    sleep 0.5
  done
  if ! postgres_ready && pg_isready -q -h 127.0.0.1 -p "$POSTGRES_PORT"; then
    # Debian's default asks for a password on TCP; the local settings use the password-less postgres user.
    log "allowing password-less local TCP logins (trust for 127.0.0.1) in the cluster we started"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' \
      "/etc/postgresql/$version/main/pg_hba.conf"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload >>"$LOG_DIR/postgres.log" 2>&1
    sleep 1
  fi
  postgres_ready || {
    tail -n 30 "/var/log/postgresql/postgresql-$version-main.log" >&2 2>/dev/null || true
    die "Postgres did not answer after starting it"
  }
}

ensure_database() {
  local exists
  exists=$(psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -XAtqc \
    "select 1 from pg_database where datname = 'meterline'")
  [[ $exists == 1 ]] && return 0
  log "creating database meterline"
  # Two concurrent callers may race here; a second create failing with "already exists" is fine.
  psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -Xqc 'create database meterline' >/dev/null 2>&1 ||
    [[ $(psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -XAtqc \
      "select 1 from pg_database where datname = 'meterline'") == 1 ]] || die "could not create database meterline"
}

ensure_redis() {
  redis_ready && return 0
  log "Redis does not answer on 127.0.0.1:$REDIS_PORT; starting it"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save "" --appendonly no --pidfile "$RUN_DIR/redis.pid" --logfile "$LOG_DIR/redis.log" >&2 9>&-
  mark_started "redis $REDIS_PORT"
  local _
  for _ in $(seq 1 40); do
    redis_ready && return 0
    sleep 0.25
  done
  fail_part redis "did not answer PING"
}

# ---------------------------------------------------------------- settings

# Double-quotes values that the shell would split or expand, so `set -a; . .infra/env` works.
env_line() {
  local key=$1 value=$2
  if [[ $value =~ ^[A-Za-z0-9_./:@,+=-]*$ ]]; then
    printf '%s=%s\n' "$key" "$value"
  else
    value=${value//\\/\\\\}
    value=${value//\"/\\\"}
    value=${value//\$/\\\$}
    value=${value//\`/\\\`}
    printf '%s="%s"\n' "$key" "$value"
  fi
}

# The SASL listener's settings under names of their own: KAFKA_SASL_USERNAME/PASSWORD in every shell that
# loads this file would configure (and, without KAFKA_SECURITY_PROTOCOL, stop) every service. Written only
# when the listener answers: a broker started before it existed has none until it is restarted.
kafka_settings() {
  env_line KAFKA_BROKERS "127.0.0.1:$KAFKA_PORT"
  if port_open "$KAFKA_SASL_PORT"; then
    env_line KAFKA_SASL_LISTENER_BROKERS "127.0.0.1:$KAFKA_SASL_PORT"
    env_line KAFKA_SASL_LISTENER_MECHANISM plain
    env_line KAFKA_SASL_LISTENER_USERNAME "$KAFKA_SASL_DEV_USERNAME"
    env_line KAFKA_SASL_LISTENER_PASSWORD "$KAFKA_SASL_DEV_PASSWORD"
  else
    log "Kafka has no SASL listener on $KAFKA_SASL_PORT (started before it existed?): restart it with" \
      "pnpm infra:down && pnpm infra:up to test SASL"
  fi
  if port_open "$KAFKA_SSL_PORT" && [[ -s $KAFKA_DIR/tls/ca.pem ]]; then
    env_line KAFKA_SSL_LISTENER_BROKERS "127.0.0.1:$KAFKA_SSL_PORT"
    env_line KAFKA_SSL_LISTENER_CA_FILE "$KAFKA_DIR/tls/ca.pem"
  else
    log "Kafka has no SSL listener on $KAFKA_SSL_PORT (started before it existed?): restart it with" \
      "pnpm infra:down && pnpm infra:up to test TLS"
  fi
}

settings() {
  kafka_settings
  env_line SCHEMA_REGISTRY_URL "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
  env_line REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
  env_line DATABASE_URL "postgres://postgres@127.0.0.1:$POSTGRES_PORT/meterline"
  env_line SMTP_URL "smtp://127.0.0.1:$SMTP_PORT"
  env_line EMAIL_FROM "Meterline <alerts@meterline.local>"
  env_line MAILDEV_URL "http://127.0.0.1:$MAILDEV_WEB_PORT"
  cluster_settings
}

# The local Redis Cluster's line, whenever it is ours and whole (a later run without the flag keeps it).
cluster_settings() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do redis_cluster_pid "$port" >/dev/null || return 0; done
  redis_cluster_ok && env_line REDIS_CLUSTER_LOCAL_NODES "$(redis_cluster_nodes)"
  return 0
}

# ---------------------------------------------------------------- main

main() {
  local cluster=false only=false
  case ${1:-} in
    --redis-cluster) cluster=true ;;
    --redis-cluster-only) cluster=true only=true ;;
    --kafka-only | '') ;;
    *) die "unknown option $1 (expected --redis-cluster, --redis-cluster-only or --kafka-only)" ;;
  esac
  take_lock
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$CACHE_DIR"
  if $only; then
    start_redis_cluster
    # The env file's other lines stay; the cluster's line is replaced.
    { grep -v '^REDIS_CLUSTER_LOCAL_NODES=' "$STATE_DIR/env" 2>/dev/null || true; cluster_settings; } >"$STATE_DIR/env.tmp"
    mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
    cat "$STATE_DIR/env"
    return 0
  fi
  ensure_tools

  if [[ ${1:-} == --kafka-only ]]; then
    start_kafka
    wait_ready kafka 90 kafka_ready
    kafka_settings >"$STATE_DIR/env.tmp"
    mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
    cat "$STATE_DIR/env"
    return 0
  fi

  # Postgres and Redis first (cheap); then start the three JVM/Node parts together and wait for them,
  # so their start-up times overlap instead of adding up.
  ensure_postgres
  ensure_database
  ensure_redis
  if $cluster; then start_redis_cluster; fi

  start_kafka
  start_registry
  start_maildev
  wait_ready kafka 90 kafka_ready
  wait_ready registry 120 registry_ready
  wait_ready maildev 30 maildev_ready
  log "all parts answer"

  settings >"$STATE_DIR/env.tmp"
  mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
  cat "$STATE_DIR/env"
}

main "$@"
