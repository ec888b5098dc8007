#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for development and integration tests.
#
#   kafkactl.sh start | stop | restart | status | logs [-f] [LINES] | env
#   kafkactl.sh acquire HOLDER_PID | release HOLDER_PID | reap      (used by the test harness, see below)
#
# Environment (defaults in brackets):
#   KAFKA_PORT [19092]             PLAINTEXT listener on 127.0.0.1
#   KAFKA_SASL_PORT [PORT+1]       SASL_SSL listener, only with KAFKA_SECURITY=sasl_ssl
#   KAFKA_CONTROLLER_PORT [PORT+2] KRaft controller listener
#   KAFKA_SECURITY [plaintext]     plaintext | sasl_ssl (adds the SASL_SSL listener; PLAINTEXT stays)
#   KAFKA_STATE_DIR [.vigil/kafka/<PORT>]  config, data, logs, pid, TLS material
#   KAFKA_HEAP [-Xmx512m]          JVM heap options;  KAFKA_JVM_OPTS: any further JVM options
#   KAFKA_FRESH=1                  wipe data (and TLS material) before starting
#   KAFKA_START_TIMEOUT [90]  KAFKA_STOP_TIMEOUT [30]  seconds
#   KAFKA_CACHE_DIR [deploy/kafka/.cache]  where the resolved jars live (libs/)
#   KAFKA_SASL_USER [vigil]  KAFKA_SASL_PASSWORD [vigil-secret]
#
# stdout carries only KEY=VALUE connection lines (start, status, env); messages go to stderr, and every failure
# is a single line there. Exit codes: 0 ok, 1 failure, 3 `status` when not running.
#
# Leases let several test runs share one broker: `acquire PID` starts the broker if needed and records PID as a
# user; `release PID` drops that record, and stops the broker only when this tool started it for a lease (not a
# manual `start`) and no living holder remains. `reap` does the same for holders that died without releasing.
set -euo pipefail

# shellcheck disable=SC2034  # read by scripts/lib/svc.sh
SVC_NAME=kafkactl
# shellcheck disable=SC2034
SVC_PORT_HINT=KAFKA_PORT
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/svc.sh
source "$HERE/../../scripts/lib/svc.sh"
REPO=$(cd "$HERE/../.." && pwd)

KAFKA_VERSION=4.1.1
PORT=${KAFKA_PORT:-19092}
[[ $PORT =~ ^[0-9]+$ ]] || svc_die "KAFKA_PORT must be a port number, got '$PORT'"
SASL_PORT=${KAFKA_SASL_PORT:-$((PORT + 1))}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((PORT + 2))}
SECURITY=${KAFKA_SECURITY:-plaintext}
case $SECURITY in
plaintext | sasl_ssl) ;;
*) svc_die "KAFKA_SECURITY must be plaintext or sasl_ssl, got '$SECURITY'" ;;
esac
STATE=${KAFKA_STATE_DIR:-$REPO/.vigil/kafka/$PORT}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
CACHE=${KAFKA_CACHE_DIR:-$HERE/.cache}
# Absolute: Maven resolves a relative output directory against the pom's folder, not ours.
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
LIBS=$CACHE/libs
HEAP=${KAFKA_HEAP:--Xmx512m}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
SASL_USER=${KAFKA_SASL_USER:-vigil}
SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-vigil-secret}

PIDFILE=$STATE/kafka.pid
LOG=$STATE/broker.log
JVM_OUT=$STATE/jvm.out
PROPS=$STATE/server.properties
DATA=$STATE/data
TLS=$STATE/tls
CONN_ENV=$STATE/connection.env
# Identifies our JVM in /proc/PID/cmdline, so a recycled pid is never mistaken for the broker.
MARKER=$PROPS

# ---------------------------------------------------------------------------------------------------------
# Jars: resolved once by Maven into $LIBS; a marker with the pom's hash and the jar count says "complete".

jars_complete() {
  [[ -f $LIBS/.complete ]] || return 1
  local want_hash want_count
  read -r want_hash want_count <"$LIBS/.complete" || return 1
  [[ $want_hash == "$(svc_sha256 "$HERE/pom.xml")" ]] || return 1
  [[ $(find "$LIBS" -maxdepth 1 -name '*.jar' | wc -l) -eq $want_count ]]
}

ensure_jars() {
  jars_complete && return 0
  mkdir -p "$CACHE"
  (
    # Two starts at once (two test runs) must not download into the same directory together.
    exec 8>"$CACHE/.lock"
    command -v flock >/dev/null 2>&1 && flock -w 600 8
    jars_complete && exit 0
    command -v mvn >/dev/null 2>&1 ||
      svc_die "Maven (mvn) is not installed and the Kafka jars are not cached in $LIBS: install maven (apt-get install -y maven)"
    local_log=$CACHE/maven.log
    tmp=$LIBS.tmp.$$
    rm -rf "$tmp"
    svc_info "resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS (once; log: $local_log)"
    if ! mvn -B -f "$HERE/pom.xml" dependency:copy-dependencies -Dkafka.libs.dir="$tmp" >"$local_log" 2>&1 </dev/null; then
      rm -rf "$tmp"
      reason=$(grep -E 'Could not (transfer|resolve)|status code|Connection refused|UnknownHost|Unknown host|timed out|offline' "$local_log" |
        head -n1 | sed -E 's/^\[(ERROR|WARNING)\] *//' | tr -s '[:space:]' ' ' | cut -c1-240)
      svc_die "Maven could not download the Kafka $KAFKA_VERSION jars${reason:+: $reason} (full log: $local_log)"
    fi
    count=$(find "$tmp" -maxdepth 1 -name '*.jar' | wc -l)
    ((count > 0)) || svc_die "Maven succeeded but copied no jars into $tmp (full log: $local_log)"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    echo "$(svc_sha256 "$HERE/pom.xml") $count" >"$LIBS/.complete"
  ) 8>&-
}

# ---------------------------------------------------------------------------------------------------------
# Configuration

# Kafka's Uuid: 16 random bytes, URL-safe base64 without padding; never starting with '-' (it would read as an
# option on command lines, which is why Kafka's own generator rejects those too).
random_cluster_id() {
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && break
  done
  printf '%s' "$id"
}

write_config() {
  local listeners="PLAINTEXT://127.0.0.1:$PORT"
  local advertised="PLAINTEXT://127.0.0.1:$PORT"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ $SECURITY == sasl_ssl ]]; then
    listeners+=",SASL_SSL://127.0.0.1:$SASL_PORT"
    advertised+=",SASL_SSL://127.0.0.1:$SASL_PORT"
    protocols+=",SASL_SSL:SASL_SSL"
  fi
  listeners+=",CONTROLLER://127.0.0.1:$CONTROLLER_PORT"

  cat >"$PROPS" <<EOF
# Generated by kafkactl.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests create a fresh group each time; waiting 3 s for more members would only slow them down.
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF

  if [[ $SECURITY == sasl_ssl ]]; then
    cat >>"$PROPS" <<EOF
# SASL_SSL listener: TLS with a self-signed CA (tls/ca.pem), SASL PLAIN and SCRAM-SHA-256/512.
# SCRAM credentials live in the metadata log (added at format time); PLAIN users are listed inline here.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$TLS/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$(<"$TLS/keystore.password")
listener.name.sasl_ssl.ssl.client.auth=none
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi

  cat >"$STATE/log4j2.properties" <<EOF
# Generated by kafkactl.sh. Kafka 4 logs through log4j2; everything goes to one file.
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $LOG
appender.file.filePattern = $LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

# Self-signed CA and a broker certificate for localhost / 127.0.0.1, in a PKCS12 keystore. Kept across restarts
# so clients holding tls/ca.pem keep working; KAFKA_FRESH=1 regenerates them.
ensure_tls() {
  [[ -s $TLS/broker.p12 && -s $TLS/ca.pem && -s $TLS/keystore.password ]] && return 0
  command -v openssl >/dev/null 2>&1 || svc_die "openssl is required for KAFKA_SECURITY=sasl_ssl (apt-get install -y openssl)"
  rm -rf "$TLS"
  mkdir -p "$TLS"
  chmod 700 "$TLS"
  local pass
  pass=$(head -c18 /dev/urandom | base64 | tr -d '/+=\n')
  (
    cd "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.pem \
      -subj "/CN=Vigil local Kafka CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout broker.key -out broker.csr -subj "/CN=localhost"
    printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'extendedKeyUsage=serverAuth' \
      'keyUsage=critical,digitalSignature,keyEncipherment' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 3650 \
      -sha256 -extfile broker.ext
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -out broker.p12 -passout "pass:$pass"
    printf '%s' "$pass" >keystore.password
    rm -f broker.csr broker.ext ca.srl
  ) >"$STATE/tls.log" 2>&1 || svc_die "could not generate the TLS CA/keystore with openssl (see $STATE/tls.log)"
}

format_storage() {
  [[ -f $DATA/meta.properties ]] && return 0
  local id
  id=$(random_cluster_id)
  rm -rf "$DATA"
  # SCRAM users are added whatever the security mode: harmless without a SASL listener, and switching a
  # plaintext broker to sasl_ssl later then needs no reformat.
  if ! "$SVC_JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$STATE/log4j2.properties" kafka.tools.StorageTool \
    format -t "$id" -c "$PROPS" \
    --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]" \
    >"$STATE/format.log" 2>&1 </dev/null; then
    svc_die "formatting the KRaft log dir $DATA failed: $(tail -n1 "$STATE/format.log" | cut -c1-240) (see $STATE/format.log)"
  fi
}

# ---------------------------------------------------------------------------------------------------------
# Probes and connection info

# One Metadata round trip on the PLAINTEXT listener; prints the probe's JSON.
probe() {
  if command -v node >/dev/null 2>&1; then
    node "$HERE/probe.mjs" "127.0.0.1:$PORT" 2000 2>/dev/null
  else
    "$SVC_JAVA" -cp "$LIBS/*" -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
      org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$PORT" --list >/dev/null 2>&1 </dev/null &&
      echo '{}'
  fi
}

running_security() {
  [[ -f $CONN_ENV ]] && sed -n 's/^KAFKA_SECURITY=//p' "$CONN_ENV" || echo plaintext
}

write_connection() {
  local pid=$1 cluster=$2
  {
    echo "KAFKA_BOOTSTRAP=127.0.0.1:$PORT"
    echo "KAFKA_SECURITY=$SECURITY"
    if [[ $SECURITY == sasl_ssl ]]; then
      echo "KAFKA_SASL_BOOTSTRAP=127.0.0.1:$SASL_PORT"
      echo "KAFKA_SASL_USER=$SASL_USER"
      echo "KAFKA_SASL_PASSWORD=$SASL_PASSWORD"
      echo "KAFKA_SASL_MECHANISMS=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
      echo "KAFKA_CA_PEM=$TLS/ca.pem"
    fi
    echo "KAFKA_CLUSTER_ID=$cluster"
    echo "KAFKA_PID=$pid"
    echo "KAFKA_STATE_DIR=$STATE"
    echo "KAFKA_LOG=$LOG"
  } >"$CONN_ENV"
}

# ---------------------------------------------------------------------------------------------------------
# Verbs

cmd_start() {
  svc_lock "$STATE/.lock"
  if svc_pid_alive "$PIDFILE" "$MARKER"; then
    local running
    running=$(running_security)
    svc_info "already running (pid $(<"$PIDFILE"), security=$running) at 127.0.0.1:$PORT; log: $LOG"
    [[ $running == "$SECURITY" ]] ||
      svc_info "warning: KAFKA_SECURITY=$SECURITY requested but the running broker uses $running; use 'restart' to switch"
    # A manual start adopts a broker that a test run started, so that run's release leaves it running.
    [[ ${KAFKACTL_FOR_LEASE:-} == 1 ]] || rm -f "$STATE/auto-stop"
    echo "KAFKA_STARTED=0"
    cat "$CONN_ENV"
    return 0
  fi
  rm -f "$PIDFILE" "$STATE/auto-stop"

  svc_require_java 17
  local ports=("$PORT" "$CONTROLLER_PORT")
  [[ $SECURITY == sasl_ssl ]] && ports+=("$SASL_PORT")
  svc_require_free_ports "Kafka" "${ports[@]}"
  ensure_jars

  if [[ ${KAFKA_FRESH:-0} == 1 ]]; then
    svc_info "KAFKA_FRESH=1: wiping $DATA and $TLS"
    rm -rf "$DATA" "$TLS"
  fi
  [[ $SECURITY == sasl_ssl ]] && ensure_tls
  write_config
  format_storage

  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.prev"
  local t0=$SECONDS
  # shellcheck disable=SC2086  # KAFKA_HEAP and KAFKA_JVM_OPTS are option lists
  svc_launch "$PIDFILE" "$JVM_OUT" "$SVC_JAVA" $HEAP ${KAFKA_JVM_OPTS:-} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$STATE/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS"
  local pid=$SVC_PID meta=''
  svc_info "starting Kafka $KAFKA_VERSION (pid $pid, security=$SECURITY) on 127.0.0.1:$PORT; log: $LOG"

  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc
      rc=$(svc_exit_status "$pid")
      rm -f "$PIDFILE"
      local why
      why=$(svc_last_error "$JVM_OUT" "$LOG")
      svc_die "broker exited during start (exit $rc)${why:+: $why}; last log lines in $LOG and $JVM_OUT"
    fi
    if meta=$(probe); then
      if [[ $SECURITY != sasl_ssl ]] || svc_port_busy "$SASL_PORT"; then
        break
      fi
    fi
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      kill -TERM "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      svc_die "broker did not answer Metadata on 127.0.0.1:$PORT within ${START_TIMEOUT}s (stopped it); see $LOG"
    fi
    sleep 0.3
  done
  local cluster
  cluster=$(sed -n 's/.*"clusterId":"\([^"]*\)".*/\1/p' <<<"$meta")
  [[ -n $cluster ]] || cluster=$(sed -n 's/^cluster.id=//p' "$DATA/meta.properties")
  write_connection "$pid" "$cluster"
  local extra=''
  [[ $SECURITY == sasl_ssl ]] && extra=", SASL_SSL 127.0.0.1:$SASL_PORT (CA $TLS/ca.pem)"
  svc_info "ready in $((SECONDS - t0))s: PLAINTEXT 127.0.0.1:$PORT$extra"
  [[ ${KAFKACTL_FOR_LEASE:-} == 1 ]] && : >"$STATE/auto-stop"
  echo "KAFKA_STARTED=1"
  cat "$CONN_ENV"
}

cmd_stop() {
  svc_lock "$STATE/.lock"
  svc_stop "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "Kafka on 127.0.0.1:$PORT"
  rm -f "$STATE/auto-stop"
}

cmd_status() {
  if ! svc_pid_alive "$PIDFILE" "$MARKER"; then
    svc_info "not running (127.0.0.1:$PORT, state $STATE)"
    exit 3
  fi
  local pid
  pid=$(<"$PIDFILE")
  if probe >/dev/null; then
    svc_info "running (pid $pid, security=$(running_security)) and answering on 127.0.0.1:$PORT; log: $LOG"
    cat "$CONN_ENV"
  else
    svc_die "process $pid is running but 127.0.0.1:$PORT does not answer Metadata requests; see $LOG"
  fi
}

cmd_env() {
  svc_pid_alive "$PIDFILE" "$MARKER" || SVC_EXIT=3 svc_die "not running (127.0.0.1:$PORT)"
  cat "$CONN_ENV"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
}

verb=${1:-}
[[ $# -gt 0 ]] && shift
case $verb in
start) cmd_start ;;
stop) cmd_stop ;;
restart)
  (cmd_stop)
  cmd_start
  ;;
status) cmd_status ;;
logs) svc_logs "$LOG" "$@" ;;
env) cmd_env ;;
acquire)
  svc_lease_add "$STATE" "${1:-}"
  KAFKACTL_FOR_LEASE=1 cmd_start
  ;;
release)
  svc_lock "$STATE/.lock"
  svc_release "$STATE" "${1:-}" "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "Kafka on 127.0.0.1:$PORT"
  ;;
reap)
  svc_lock "$STATE/.lock"
  svc_release "$STATE" '' "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "Kafka on 127.0.0.1:$PORT"
  ;;
-h | --help | help) usage ;;
*) svc_die "unknown verb '${verb}': use start, stop, restart, status, logs, env, acquire, release or reap (or help)" ;;
esac
