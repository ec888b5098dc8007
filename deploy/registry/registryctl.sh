#!/usr/bin/env bash
# Local Confluent-compatible schema registry (Apicurio Registry, in-memory storage) for development and tests.
#
#   registryctl.sh start | stop | restart | status | logs [-f] [LINES] | env
#   registryctl.sh acquire HOLDER_PID | release HOLDER_PID | reap      (test harness leases, as in kafkactl.sh)
#
# The Confluent API is at http://127.0.0.1:<port>/apis/ccompat/v7. Storage is in memory: every start is empty.
# Global compatibility is BACKWARD (Apicurio's own default would be NONE).
#
# Environment (defaults in brackets):
#   REGISTRY_PORT [18081]                 HTTP port on 127.0.0.1
#   REGISTRY_STATE_DIR [.vigil/registry/<PORT>]  log, pid
#   REGISTRY_HEAP [-Xmx384m]  REGISTRY_JVM_OPTS  JVM options
#   REGISTRY_COMPATIBILITY [BACKWARD]    global compatibility rule
#   REGISTRY_START_TIMEOUT [120]  REGISTRY_STOP_TIMEOUT [20]  seconds
#   REGISTRY_CACHE_DIR [deploy/registry/.cache]  where the unpacked distribution lives
#
# stdout carries only KEY=VALUE lines; messages go to stderr; every failure is one line there.
# Exit codes: 0 ok, 1 failure, 3 `status` when not running.
set -euo pipefail

# shellcheck disable=SC2034  # read by scripts/lib/svc.sh
SVC_NAME=registryctl
# shellcheck disable=SC2034
SVC_PORT_HINT=REGISTRY_PORT
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/svc.sh
source "$HERE/../../scripts/lib/svc.sh"
REPO=$(cd "$HERE/../.." && pwd)

APICURIO_VERSION=3.0.9
ARTIFACT=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
PORT=${REGISTRY_PORT:-18081}
[[ $PORT =~ ^[0-9]+$ ]] || svc_die "REGISTRY_PORT must be a port number, got '$PORT'"
STATE=${REGISTRY_STATE_DIR:-$REPO/.vigil/registry/$PORT}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
CACHE=${REGISTRY_CACHE_DIR:-$HERE/.cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
DIST=$CACHE/apicurio-registry-app-$APICURIO_VERSION
RUNNER=$DIST/apicurio-registry-app-$APICURIO_VERSION-runner.jar
HEAP=${REGISTRY_HEAP:--Xmx384m}
COMPAT=${REGISTRY_COMPATIBILITY:-BACKWARD}
START_TIMEOUT=${REGISTRY_START_TIMEOUT:-120}
STOP_TIMEOUT=${REGISTRY_STOP_TIMEOUT:-20}

PIDFILE=$STATE/registry.pid
LOG=$STATE/registry.log
CONN_ENV=$STATE/connection.env
URL=http://127.0.0.1:$PORT
PROBE_PATH=/apis/ccompat/v7/subjects
# A -D property naming the state dir identifies our JVM in /proc/PID/cmdline (a recycled pid never matches).
MARKER="-Dvigil.registry.state=$STATE"

ensure_dist() {
  [[ -f $DIST/.complete && -f $RUNNER ]] && return 0
  mkdir -p "$CACHE"
  (
    exec 8>"$CACHE/.lock"
    command -v flock >/dev/null 2>&1 && flock -w 600 8
    [[ -f $DIST/.complete && -f $RUNNER ]] && exit 0
    command -v mvn >/dev/null 2>&1 ||
      svc_die "Maven (mvn) is not installed and Apicurio Registry is not cached in $DIST: install maven (apt-get install -y maven)"
    mlog=$CACHE/maven.log
    svc_info "downloading Apicurio Registry $APICURIO_VERSION with Maven (once, ~110 MB; log: $mlog)"
    # dependency:get, not dependency:copy: copy fails on the artifact's missing parent pom.
    if ! mvn -B dependency:get -Dartifact="$ARTIFACT" -Dtransitive=false >"$mlog" 2>&1 </dev/null; then
      reason=$(grep -E 'Could not (transfer|resolve|find)|status code|Connection refused|UnknownHost|Unknown host|timed out|offline' "$mlog" |
        head -n1 | sed -E 's/^\[(ERROR|WARNING)\] *//' | tr -s '[:space:]' ' ' | cut -c1-240)
      svc_die "Maven could not download $ARTIFACT${reason:+: $reason} (full log: $mlog)"
    fi
    tarball=$(svc_maven_localrepo)/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz
    [[ -f $tarball ]] || svc_die "Maven reported success but $tarball is missing (full log: $mlog)"
    tmp=$DIST.tmp.$$
    rm -rf "$tmp"
    mkdir -p "$tmp"
    tar -xzf "$tarball" -C "$tmp" || svc_die "could not unpack $tarball into $tmp"
    [[ -f $tmp/${RUNNER##*/} ]] || svc_die "unpacked $tarball but found no ${RUNNER##*/} in it"
    rm -rf "$DIST"
    mv "$tmp" "$DIST"
    : >"$DIST/.complete"
  ) 8>&-
}

probe() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "$URL$PROBE_PATH" 2>/dev/null
  else
    node -e "fetch('$URL$PROBE_PATH',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
  fi
}

set_global_compat() {
  local body="{\"compatibility\":\"$COMPAT\"}"
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 5 -o /dev/null -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
      --data "$body" "$URL/apis/ccompat/v7/config" 2>/dev/null
  else
    node -e "fetch('$URL/apis/ccompat/v7/config',{method:'PUT',headers:{'content-type':'application/vnd.schemaregistry.v1+json'},body:process.argv[1]}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "$body"
  fi
}

write_connection() {
  {
    echo "REGISTRY_URL=$URL"
    echo "REGISTRY_CCOMPAT_URL=$URL/apis/ccompat/v7"
    echo "REGISTRY_PID=$1"
    echo "REGISTRY_STATE_DIR=$STATE"
    echo "REGISTRY_LOG=$LOG"
  } >"$CONN_ENV"
}

cmd_start() {
  svc_lock "$STATE/.lock"
  if svc_pid_alive "$PIDFILE" "$MARKER"; then
    svc_info "already running (pid $(<"$PIDFILE")) at $URL; log: $LOG"
    [[ ${REGISTRYCTL_FOR_LEASE:-} == 1 ]] || rm -f "$STATE/auto-stop"
    echo "REGISTRY_STARTED=0"
    cat "$CONN_ENV"
    return 0
  fi
  rm -f "$PIDFILE" "$STATE/auto-stop"
  # Apicurio 3.0.x runs on 17; 3.3.x would need 21.
  svc_require_java 17
  svc_require_free_ports "the schema registry" "$PORT"
  ensure_dist

  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.prev"
  local t0=$SECONDS
  # shellcheck disable=SC2086  # option lists
  svc_launch "$PIDFILE" "$LOG" "$SVC_JAVA" $HEAP ${REGISTRY_JVM_OPTS:-} -XX:+ExitOnOutOfMemoryError \
    "$MARKER" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dquarkus.management.enabled=false \
    -Dapicurio.rules.global.compatibility="$COMPAT" \
    -jar "$RUNNER"
  local pid=$SVC_PID
  svc_info "starting Apicurio Registry $APICURIO_VERSION (pid $pid) on $URL; log: $LOG"
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc why
      rc=$(svc_exit_status "$pid")
      rm -f "$PIDFILE"
      why=$(svc_last_error "$LOG")
      svc_die "registry exited during start (exit $rc)${why:+: $why}; last log lines in $LOG"
    fi
    probe && break
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      kill -TERM "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      svc_die "registry did not answer $URL$PROBE_PATH within ${START_TIMEOUT}s (stopped it); see $LOG"
    fi
    sleep 0.3
  done
  # The -D flag sets the rule Apicurio enforces, but its Confluent API reports NONE from GET /config until a
  # global rule is stored; storing it makes what clients read agree with what is enforced.
  set_global_compat || svc_info "warning: could not store the global $COMPAT rule via PUT $URL/apis/ccompat/v7/config"
  write_connection "$pid"
  svc_info "ready in $((SECONDS - t0))s: $URL/apis/ccompat/v7 (compatibility $COMPAT)"
  [[ ${REGISTRYCTL_FOR_LEASE:-} == 1 ]] && : >"$STATE/auto-stop"
  echo "REGISTRY_STARTED=1"
  cat "$CONN_ENV"
}

cmd_stop() {
  svc_lock "$STATE/.lock"
  svc_stop "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "registry on $URL"
  rm -f "$STATE/auto-stop"
}

cmd_status() {
  if ! svc_pid_alive "$PIDFILE" "$MARKER"; then
    svc_info "not running ($URL, state $STATE)"
    exit 3
  fi
  if probe; then
    svc_info "running (pid $(<"$PIDFILE")) and answering on $URL$PROBE_PATH; log: $LOG"
    cat "$CONN_ENV"
  else
    svc_die "process $(<"$PIDFILE") is running but $URL$PROBE_PATH does not answer; see $LOG"
  fi
}

cmd_env() {
  svc_pid_alive "$PIDFILE" "$MARKER" || SVC_EXIT=3 svc_die "not running ($URL)"
  cat "$CONN_ENV"
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
  REGISTRYCTL_FOR_LEASE=1 cmd_start
  ;;
release)
  svc_lock "$STATE/.lock"
  svc_release "$STATE" "${1:-}" "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "registry on $URL"
  ;;
reap)
  svc_lock "$STATE/.lock"
  svc_release "$STATE" '' "$PIDFILE" "$MARKER" "$STOP_TIMEOUT" "registry on $URL"
  ;;
-h | --help | help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2 ;;
*) svc_die "unknown verb '${verb}': use start, stop, restart, status, logs, env, acquire, release or reap (or help)" ;;
esac
