#!/usr/bin/env bash
# Local Redis and single-node Apache Kafka (KRaft) on 127.0.0.1 for development, tests and CI.
#
#   scripts/services.sh up      start both (no-op for what already runs), wait until they
#                               answer, then print KAFKA_BROKERS=... and REDIS_URL=... on stdout
#   scripts/services.sh down    stop both: SIGTERM, then SIGKILL after a timeout
#   scripts/services.sh status  print what runs; exit 0 when both run, 3 otherwise
#
# `up`, `down` and `restart` (down, then up) take an optional service, `kafka` or `redis`, to act
# on that one only; `up kafka` prints only KAFKA_BROKERS=..., `up redis` only REDIS_URL=....
# `kill kafka` sends SIGKILL to the broker (a crash, for fault-injection tests).
#
# Only those lines go to stdout, so callers can `eval "$(scripts/services.sh up)"` or parse
# them; progress and errors go to stderr.
#
# Settings (environment):
#   TAILSIFT_SERVICES_DIR     state dir: data, pids, logs, configs   (default <repo>/.services)
#   REDIS_PORT                Redis port                             (default 6379)
#   KAFKA_PORT                Kafka client listener port             (default 9092)
#   KAFKA_CONTROLLER_PORT     KRaft controller listener port         (default 9093)
#   KAFKA_VERSION             org.apache.kafka:kafka_2.13 version    (default below)
#   TAILSIFT_KAFKA_CACHE      where the broker jars are kept, outside the repo so they survive
#                             a fresh clone (default ${XDG_CACHE_HOME:-~/.cache}/tailsift/kafka-<version>)
#   KAFKA_HEAP_OPTS           broker JVM heap flags                  (default -Xms128m -Xmx512m)
#   TAILSIFT_SERVICES_TIMEOUT seconds `up` waits for both to answer  (default 90)
#   TAILSIFT_SERVICES_STOP_TIMEOUT  seconds `down` waits before SIGKILL (default 30)
#   KAFKA_LIFETIME            when set, seconds after which the broker stops by itself (SIGTERM,
#                             SIGKILL 30 s later), for throwaway brokers tests start (default unset)
#   KAFKA_SASL_PORT           when set, a second client listener, SASL_PLAINTEXT on this port,
#                             taking PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for one user:
#   KAFKA_SASL_USERNAME       (default tailsift) and
#   KAFKA_SASL_PASSWORD       (required with KAFKA_SASL_PORT; letters, digits, - and _). SCRAM
#                             credentials are written when the storage is formatted, so they
#                             apply to a fresh state dir. For tests of SASL clients.
#   KAFKA_SSL_PORT            when set, a client listener speaking TLS (SSL) on this port, with
#   KAFKA_SSL_CERT            the server certificate (PEM, its chain after it) and
#   KAFKA_SSL_KEY             its unencrypted PKCS#8 key (PEM); with
#   KAFKA_SSL_CLIENT_CA       (optional) a PEM CA file, clients must present a certificate it
#                             signed (mutual TLS). For tests of TLS clients.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kafka_conf_dir="$repo_root/scripts/kafka"

# 4.3.1 is the newest release whose whole dependency tree resolves from Maven Central
# (4.4.0's kafka-tools-api is not published) and its broker classes target Java 17.
KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
ready_timeout="${TAILSIFT_SERVICES_TIMEOUT:-90}"
kafka_lifetime="${KAFKA_LIFETIME:-}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-}"
KAFKA_SASL_USERNAME="${KAFKA_SASL_USERNAME:-tailsift}"
KAFKA_SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-}"
KAFKA_SSL_CERT="${KAFKA_SSL_CERT:-}"
KAFKA_SSL_KEY="${KAFKA_SSL_KEY:-}"
KAFKA_SSL_CLIENT_CA="${KAFKA_SSL_CLIENT_CA:-}"
stop_timeout="${TAILSIFT_SERVICES_STOP_TIMEOUT:-30}"

state_dir="${TAILSIFT_SERVICES_DIR:-$repo_root/.services}"
kafka_cache="${TAILSIFT_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tailsift/kafka-$KAFKA_VERSION}"
kafka_libs="$kafka_cache/libs"

redis_dir="$state_dir/redis"
redis_conf="$redis_dir/redis.conf"
redis_pidfile="$redis_dir/redis.pid"
redis_log="$redis_dir/redis.log"

kafka_dir="$state_dir/kafka"
kafka_props="$kafka_dir/server.properties"
kafka_pidfile="$kafka_dir/kafka.pid"
kafka_log="$kafka_dir/kafka.log"
kafka_data="$kafka_dir/data"

read -r -a kafka_heap <<<"$KAFKA_HEAP_OPTS"
kafka_jvm=(java "${kafka_heap[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$kafka_conf_dir/log4j2.properties" -cp "$kafka_libs/*")

say() { printf 'services: %s\n' "$*" >&2; }

die() {
  say "error: $*"
  exit 1
}

log_tail() {
  local file="$1"
  if [[ -f "$file" ]]; then
    say "last lines of $file:"
    tail -n 40 "$file" >&2 || true
  fi
}

# Echoes the pid recorded in $1 when that process is alive and its command line contains $2;
# the second check keeps a stale pid file from pointing `down` at an unrelated process.
live_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$marker" || return 1
  echo "$pid"
}

redis_pid() { live_pid "$redis_pidfile" redis-server; }
kafka_pid() { live_pid "$kafka_pidfile" kafka.Kafka; }

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_port() {
  local port="$1" what="$2" var="$3"
  if port_open "$port"; then
    die "port $port ($what) is taken by a process this script did not start; stop it or set $var"
  fi
}

lock_state_dir() {
  mkdir -p "$state_dir"
  # Test workers call `up` concurrently; one lock keeps them from starting two brokers.
  exec 9>"$state_dir/.lock"
  flock -w 300 9 || die "could not lock $state_dir/.lock within 300 s"
}

# ---------------------------------------------------------------------------------------------
# Redis

redis_start() {
  command -v redis-server >/dev/null ||
    die "redis-server not found; install it with: apt-get install -y redis-server"
  local pid
  if pid="$(redis_pid)"; then
    # It keeps the port it was started with, whatever REDIS_PORT says now.
    REDIS_PORT="$(awk '$1 == "port" { print $2 }' "$redis_conf")"
    say "redis already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    return
  fi
  require_free_port "$REDIS_PORT" redis REDIS_PORT
  mkdir -p "$redis_dir/data"
  cat >"$redis_conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
daemonize yes
pidfile "$redis_pidfile"
logfile "$redis_log"
dir "$redis_dir/data"
# Tests that restart Redis expect their keys back, so every write goes to the AOF.
appendonly yes
appendfsync everysec
save ""
EOF
  rm -f "$redis_pidfile"
  say "starting redis on 127.0.0.1:$REDIS_PORT (log: $redis_log)"
  # 9>&- : the daemon must not inherit the state-dir lock, or it would hold it for its lifetime.
  redis-server "$redis_conf" </dev/null >>"$redis_log" 2>&1 9>&- || {
    log_tail "$redis_log"
    die "redis-server failed to start"
  }
}

redis_ready() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# ---------------------------------------------------------------------------------------------
# Kafka

kafka_fetch_libs() {
  [[ -f "$kafka_libs/kafka_2.13-$KAFKA_VERSION.jar" ]] && return
  command -v mvn >/dev/null || die "mvn not found; it is needed once to fetch the Kafka jars"
  mkdir -p "$kafka_cache"
  local staging
  staging="$(mktemp -d "$kafka_cache/libs.partial.XXXXXX")"
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $kafka_libs"
  # Copy into a staging dir and rename, so an interrupted fetch never looks like a cache hit.
  if ! mvn -q -B -f "$kafka_conf_dir/pom.xml" "-Dkafka.version=$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$staging" \
    >"$kafka_cache/mvn.log" 2>&1; then
    rm -rf "$staging"
    log_tail "$kafka_cache/mvn.log"
    die "could not fetch the Kafka $KAFKA_VERSION jars with mvn"
  fi
  rm -rf "$kafka_libs"
  mv "$staging" "$kafka_libs"
}

kafka_check_sasl_settings() {
  [[ -z "$KAFKA_SASL_PORT" ]] && return
  [[ "$KAFKA_SASL_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_SASL_PORT must be a port number, got '$KAFKA_SASL_PORT'"
  # They are written into the properties file and a JAAS line unquoted.
  [[ "$KAFKA_SASL_USERNAME" =~ ^[A-Za-z0-9_-]+$ ]] || die "KAFKA_SASL_USERNAME may hold letters, digits, - and _ only"
  [[ "$KAFKA_SASL_PASSWORD" =~ ^[A-Za-z0-9_-]+$ ]] || die "KAFKA_SASL_PASSWORD is required with KAFKA_SASL_PORT (letters, digits, - and _)"
}

kafka_check_ssl_settings() {
  [[ -z "$KAFKA_SSL_PORT" ]] && return
  [[ "$KAFKA_SSL_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_SSL_PORT must be a port number, got '$KAFKA_SSL_PORT'"
  [[ -r "$KAFKA_SSL_CERT" ]] || die "KAFKA_SSL_CERT must name a readable PEM certificate with KAFKA_SSL_PORT"
  [[ -r "$KAFKA_SSL_KEY" ]] || die "KAFKA_SSL_KEY must name a readable PEM key with KAFKA_SSL_PORT"
  [[ -z "$KAFKA_SSL_CLIENT_CA" || -r "$KAFKA_SSL_CLIENT_CA" ]] || die "KAFKA_SSL_CLIENT_CA is not readable: $KAFKA_SSL_CLIENT_CA"
}

kafka_write_properties() {
  mkdir -p "$kafka_data"
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT" protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ -n "$KAFKA_SASL_PORT" ]]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    protocols+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [[ -n "$KAFKA_SSL_PORT" ]]; then
    listeners+=",SSL://127.0.0.1:$KAFKA_SSL_PORT"
    protocols+=",SSL:SSL"
  fi
  cat >"$kafka_props" <<EOF
# Written by scripts/services.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listeners
listener.security.protocol.map=$protocols
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$kafka_data

# One node: every internal topic must fit on it, or group and transaction
# coordinators never become available.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# The default 50 partitions make the first consumer group join slow on a small machine.
offsets.topic.num.partitions=10

auto.create.topics.enable=true
num.partitions=3
# Tests start and stop consumer groups constantly; waiting for more members only slows them.
group.initial.rebalance.delay.ms=0
# Test topics pile up; a day of data is plenty for a development broker.
log.retention.hours=24
EOF
  if [[ -n "$KAFKA_SASL_PORT" ]]; then
    cat >>"$kafka_props" <<EOF

# SASL_PLAINTEXT listener: PLAIN checks the password in the JAAS line below, SCRAM the
# credentials stored when the storage was formatted. Inter-broker traffic stays PLAINTEXT.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USERNAME="$KAFKA_SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
  if [[ -n "$KAFKA_SSL_PORT" ]]; then
    # A PEM key store is the key followed by its certificate chain, in one file.
    cat "$KAFKA_SSL_KEY" "$KAFKA_SSL_CERT" >"$kafka_dir/keystore.pem"
    cat >>"$kafka_props" <<EOF

# SSL listener for TLS clients.
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$kafka_dir/keystore.pem
EOF
    if [[ -n "$KAFKA_SSL_CLIENT_CA" ]]; then
      cat >>"$kafka_props" <<EOF
listener.name.ssl.ssl.client.auth=required
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$KAFKA_SSL_CLIENT_CA
EOF
    fi
  fi
}

# The client port of the broker this state dir holds, from the properties it was started with.
kafka_running_port() {
  sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\).*|\1|p' "$kafka_props"
}

kafka_format_storage() {
  [[ -f "$kafka_data/meta.properties" ]] && return
  local output cluster_id
  output="$("${kafka_jvm[@]}" kafka.tools.StorageTool random-uuid 2>&1)" || true
  cluster_id="$(tail -n 1 <<<"$output")"
  # Cluster ids are 16 random bytes in unpadded base64url.
  if [[ ! "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]]; then
    printf '%s\n' "$output" | tail -n 40 >&2
    die "kafka StorageTool random-uuid did not print a cluster id"
  fi
  local scram=()
  if [[ -n "$KAFKA_SASL_PORT" ]]; then
    local mechanism
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$mechanism=[name=$KAFKA_SASL_USERNAME,password=$KAFKA_SASL_PASSWORD]")
    done
  fi
  say "formatting kafka storage in $kafka_data (cluster id $cluster_id)"
  "${kafka_jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$kafka_props" \
    "${scram[@]}" --ignore-formatted >>"$kafka_log" 2>&1 || {
    log_tail "$kafka_log"
    die "kafka storage format failed"
  }
}

kafka_start() {
  command -v java >/dev/null || die "java not found; Kafka needs Java 17 or newer"
  local pid
  if pid="$(kafka_pid)"; then
    KAFKA_PORT="$(kafka_running_port)"
    say "kafka already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  require_free_port "$KAFKA_PORT" kafka KAFKA_PORT
  require_free_port "$KAFKA_CONTROLLER_PORT" "kafka controller" KAFKA_CONTROLLER_PORT
  kafka_check_sasl_settings
  [[ -z "$KAFKA_SASL_PORT" ]] || require_free_port "$KAFKA_SASL_PORT" "kafka SASL" KAFKA_SASL_PORT
  kafka_check_ssl_settings
  [[ -z "$KAFKA_SSL_PORT" ]] || require_free_port "$KAFKA_SSL_PORT" "kafka SSL" KAFKA_SSL_PORT
  kafka_fetch_libs
  kafka_write_properties
  kafka_format_storage
  rm -f "$kafka_pidfile"
  # The broker logs its whole config on every start; keep one old log, not all of them.
  if [[ -f "$kafka_log" ]] && (($(stat -c %s "$kafka_log") > 10 * 1024 * 1024)); then
    mv -f "$kafka_log" "$kafka_log.1"
  fi
  say "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $kafka_log)"
  # A new session, so the broker outlives the shell or test runner that started it and is
  # not hit by signals sent to that caller's process group. The inner shell records its own
  # pid and then becomes java, so the pid file names the broker itself.
  local lifetime=()
  if [[ -n "$kafka_lifetime" ]]; then
    [[ "$kafka_lifetime" =~ ^[0-9]+$ ]] || die "KAFKA_LIFETIME must be a number of seconds, got '$kafka_lifetime'"
    # timeout passes `down`'s SIGTERM on to the broker and exits with it.
    lifetime=(timeout -k 30 "$kafka_lifetime")
  fi
  # shellcheck disable=SC2016 # $$ and $0 belong to the inner shell
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$kafka_pidfile" \
    "${lifetime[@]}" "${kafka_jvm[@]}" kafka.Kafka "$kafka_props" </dev/null >>"$kafka_log" 2>&1 9>&- &
  # Until the inner shell has written the pid file, the broker would look as if it had died.
  local waited=0
  until [[ -s "$kafka_pidfile" ]]; do
    ((waited < 50)) || die "kafka did not start: no pid file after 5 s"
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Real round trips with the same client the engine uses, not just an open port: the listener
# opens before the broker has joined the KRaft quorum, and the first consumer group on a new
# broker waits for __consumer_offsets to be created, which describeGroups sets off and awaits.
kafka_ready_js='
const { Kafka, logLevel } = require("kafkajs");
const kafka = new Kafka({
  clientId: "tailsift-services-check",
  brokers: [process.argv[1]],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2000,
  requestTimeout: 5000,
  retry: { retries: 0 },
});
const admin = kafka.admin();
admin.connect()
  .then(() => admin.describeCluster())
  .then((cluster) => {
    if (cluster.brokers.length === 0) throw new Error("no brokers");
    return admin.describeGroups(["tailsift-services-check"]);
  })
  .then(() => { process.exitCode = 0; })
  .catch(() => { process.exitCode = 1; })
  .finally(() => admin.disconnect().catch(() => {}));
'

kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  (cd "$repo_root" && timeout 20 node -e "$kafka_ready_js" "127.0.0.1:$KAFKA_PORT") >/dev/null 2>&1
}

require_kafkajs() {
  command -v node >/dev/null || die "node not found; the Kafka readiness check runs on Node.js"
  (cd "$repo_root" && node -e 'require.resolve("kafkajs")') >/dev/null 2>&1 ||
    die "kafkajs is not installed in $repo_root/node_modules; run 'npm ci' first"
}

# ---------------------------------------------------------------------------------------------
# Commands

# Waits for the services named in $1 ("redis kafka", "kafka", ...).
wait_until_ready() {
  local started=$SECONDS redis_ok=1 kafka_ok=1
  [[ " $1 " == *" redis "* ]] && redis_ok=0
  [[ " $1 " == *" kafka "* ]] && kafka_ok=0
  while true; do
    if ((!redis_ok)); then
      if redis_ready; then
        redis_ok=1
        say "redis answers PING"
      elif ! redis_pid >/dev/null && ((SECONDS - started >= 3)); then
        # Port and permission errors surface only after redis has daemonized.
        log_tail "$redis_log"
        die "redis exited during start-up"
      fi
    fi
    if ((!kafka_ok)); then
      if kafka_ready; then
        kafka_ok=1
        say "kafka answers metadata and group coordinator requests"
      elif ! kafka_pid >/dev/null; then
        log_tail "$kafka_log"
        die "kafka exited during start-up"
      fi
    fi
    ((redis_ok && kafka_ok)) && return
    if ((SECONDS - started >= ready_timeout)); then
      ((redis_ok)) || log_tail "$redis_log"
      ((kafka_ok)) || log_tail "$kafka_log"
      die "services not ready after ${ready_timeout} s"
    fi
    sleep 1
  done
}

# The services a command acts on: both by default, or the one named.
selected_services() {
  case "${1:-}" in
    "") echo "redis kafka" ;;
    redis | kafka) echo "$1" ;;
    *)
      echo "unknown service '$1'; expected kafka or redis" >&2
      exit 2
      ;;
  esac
}

cmd_up() {
  local services="$1"
  lock_state_dir
  [[ " $services " == *" kafka "* ]] && require_kafkajs
  [[ " $services " == *" redis "* ]] && redis_start
  [[ " $services " == *" kafka "* ]] && kafka_start
  wait_until_ready "$services"
  if [[ " $services " == *" kafka "* ]]; then echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"; fi
  if [[ " $services " == *" redis "* ]]; then echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"; fi
}

stop_process() {
  local name="$1" pid="$2" pidfile="$3" waited=0
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= stop_timeout)); then
      say "$name did not stop within ${stop_timeout} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
}

cmd_down() {
  local services="$1"
  lock_state_dir
  local pid
  if [[ " $services " == *" kafka "* ]]; then
    if pid="$(kafka_pid)"; then
      stop_process kafka "$pid" "$kafka_pidfile"
    else
      say "kafka is not running"
    fi
  fi
  if [[ " $services " == *" redis "* ]]; then
    if pid="$(redis_pid)"; then
      stop_process redis "$pid" "$redis_pidfile"
    else
      say "redis is not running"
    fi
  fi
}

# SIGKILL, no shutdown: what a crashed or OOM-killed broker looks like to its clients.
cmd_kill_kafka() {
  lock_state_dir
  local pid jvm
  if ! pid="$(kafka_pid)"; then
    say "kafka is not running"
    return
  fi
  # Under KAFKA_LIFETIME the recorded pid is timeout's; the broker is its child.
  jvm="$(pgrep -P "$pid" java || true)"
  say "killing kafka (pid ${jvm:-$pid}) with SIGKILL"
  kill -KILL ${jvm:+"$jvm"} "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null || { [[ -n "$jvm" ]] && kill -0 "$jvm" 2>/dev/null; }; do
    sleep 0.1
  done
  rm -f "$kafka_pidfile"
}

cmd_status() {
  local pid running=0
  if pid="$(redis_pid)"; then
    echo "redis: running (pid $pid) on 127.0.0.1:$(awk '$1 == "port" { print $2 }' "$redis_conf"), data in $redis_dir"
    running=$((running + 1))
  else
    echo "redis: stopped"
  fi
  if pid="$(kafka_pid)"; then
    echo "kafka: running (pid $pid) on 127.0.0.1:$(kafka_running_port), data in $kafka_dir"
    running=$((running + 1))
  else
    echo "kafka: stopped"
  fi
  ((running == 2)) || exit 3
}

usage() {
  echo "usage: $(basename "$0") up|down|restart [kafka|redis] | kill kafka | status" >&2
  exit 2
}

case "${1:-}" in
  up | down | restart) services="$(selected_services "${2:-}")" || exit 2 ;;
esac

case "${1:-}" in
  up) cmd_up "$services" ;;
  down) cmd_down "$services" ;;
  restart)
    # Each takes the state-dir lock itself; run them in subshells so the lock is let go between.
    (cmd_down "$services")
    cmd_up "$services"
    ;;
  kill)
    [[ "${2:-}" == kafka ]] || usage
    cmd_kill_kafka
    ;;
  status) cmd_status ;;
  *) usage ;;
esac
