# shellcheck shell=bash
# Helpers shared by deploy/kafka/kafkactl.sh and deploy/registry/registryctl.sh: one-line failures, Java and
# port checks, pid files that survive pid reuse, detached launch, bounded waits and clean stops.
# Source it after setting SVC_NAME (the prefix of every message, e.g. "kafkactl").
# Functions return values through globals (SVC_JAVA, SVC_PID) as well as stdout.
# shellcheck disable=SC2034

SVC_NAME=${SVC_NAME:-svc}

# Every failure is exactly one line on stderr, so callers (the vitest global setup, CI logs) can quote it whole.
svc_die() {
  printf '%s: %s\n' "$SVC_NAME" "$*" >&2
  exit "${SVC_EXIT:-1}"
}

svc_info() {
  printf '%s: %s\n' "$SVC_NAME" "$*" >&2
}

svc_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# svc_require_java MIN_MAJOR: java on PATH (or $JAVA_HOME/bin) with at least that feature version.
# Sets SVC_JAVA to the binary.
svc_require_java() {
  local min=$1 java ver major
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    java=$JAVA_HOME/bin/java
  elif command -v java >/dev/null 2>&1; then
    java=$(command -v java)
  else
    svc_die "no Java found: install a JDK/JRE ${min}+ (e.g. apt-get install -y openjdk-17-jre-headless) or set JAVA_HOME"
  fi
  # First line looks like: openjdk version "17.0.15" 2025-04-15   (or "1.8.0_392" for Java 8)
  ver=$("$java" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
  major=${ver%%.*}
  [[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$ver")
  if [[ ! $major =~ ^[0-9]+$ ]]; then
    svc_die "could not read the Java version from '$java -version' (got '${ver:-nothing}')"
  fi
  if ((major < min)); then
    svc_die "Java $ver at $java is too old: Java ${min}+ is required (set JAVA_HOME to a newer JDK)"
  fi
  SVC_JAVA=$java
}

# svc_port_busy PORT: true when something listens on 127.0.0.1:PORT (or on all interfaces).
svc_port_busy() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$port" 2>/dev/null | grep -q .
    return
  fi
  # No ss: a successful connect means a listener.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# svc_port_owner PORT: "pid 123 (java)" when ss can tell, empty otherwise.
svc_port_owner() {
  local port=$1 line
  command -v ss >/dev/null 2>&1 || return 0
  line=$(ss -Htlnp "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n1)
  [[ -n $line ]] && sed -E 's/users:\(\("([^"]*)",pid=([0-9]+)/pid \2 (\1)/' <<<"$line"
  return 0
}

# svc_require_free_ports WHAT PORT...: fail with one line naming the first busy port and, if known, its owner.
svc_require_free_ports() {
  local what=$1 port owner
  shift
  for port in "$@"; do
    if svc_port_busy "$port"; then
      owner=$(svc_port_owner "$port")
      svc_die "port $port on 127.0.0.1 is already in use${owner:+ by $owner}: cannot start $what there (pick another port, e.g. ${SVC_PORT_HINT:-PORT}=$((port + 100)))"
    fi
  done
}

# svc_pid_alive PIDFILE MARKER: true when the pid in PIDFILE runs and its command line contains MARKER.
# The marker (the state directory) keeps a recycled pid from passing for our process.
svc_pid_alive() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  fi
  return 0
}

# svc_launch PIDFILE OUTFILE CMD...: run CMD detached (own session, stdin closed, output to OUTFILE) and write
# its pid to PIDFILE. The process must not inherit our lock descriptor (fd 9), or the lock would live on with it.
# Sets SVC_PID.
svc_launch() {
  local pidfile=$1 outfile=$2
  shift 2
  # bash -c writes its own pid, then exec makes that pid the service itself.
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >"$outfile" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && break
    sleep 0.1
  done
  [[ -s $pidfile ]] || svc_die "could not launch $1: no pid written to $pidfile (see $outfile)"
  # Without job control setsid does not fork, so this pid is our child and `wait` can reap its exit status.
  SVC_PID=$(<"$pidfile")
}

# svc_exit_status PID: the exit status of a launched service that has died (best effort; "?" if unknown).
svc_exit_status() {
  local rc=0
  wait "$1" 2>/dev/null || rc=$?
  ((rc == 127)) && rc='?'
  printf '%s' "$rc"
}

# svc_stop PIDFILE MARKER TIMEOUT_S LABEL: SIGTERM, wait up to TIMEOUT_S, then SIGKILL. Removes PIDFILE.
svc_stop() {
  local pidfile=$1 marker=$2 timeout=$3 label=$4 pid waited=0
  if ! svc_pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    svc_info "$label is not running"
    return 0
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= timeout * 10)); then
      svc_info "$label (pid $pid) ignored SIGTERM for ${timeout}s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
  svc_info "$label (pid $pid) stopped"
}

# svc_lock FILE: serialise start/stop of one service instance (two test runs starting the same broker).
# Holds fd 9 until the script exits.
svc_lock() {
  local file=$1
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$file"
  flock -w "${SVC_LOCK_TIMEOUT:-180}" 9 || svc_die "timed out waiting for lock $file (another start/stop of the same instance is running)"
}

# svc_last_error LOGFILE...: the last ERROR/FATAL/Exception line among the files, squeezed to one short line;
# failing that, the last lines of the first non-empty file (a JVM that dies before logging writes only there).
svc_last_error() {
  local f l line='' tail_text=''
  for f in "$@"; do
    [[ -s $f ]] || continue
    l=$(grep -E 'ERROR|FATAL|Exception|Error:' "$f" 2>/dev/null | tail -n1)
    [[ -n $l ]] && line=$l
    [[ -z $tail_text ]] && tail_text=$(grep -v '^[[:space:]]*$' "$f" | tail -n2 | paste -sd'/' - | sed 's|/| / |g')
  done
  [[ -n $line ]] || line=$tail_text
  line=$(printf '%s' "$line" | tr -s '[:space:]' ' ' | sed -E 's/^ +| +$//g')
  printf '%s' "${line:0:300}"
}

# svc_sha256 FILE...: one hash over the files' contents (cache markers).
svc_sha256() {
  cat "$@" | sha256sum | cut -d' ' -f1
}

# svc_maven_localrepo: path of the local Maven repository (settings.xml may move it).
svc_maven_localrepo() {
  local repo
  repo=$(mvn -B -q help:evaluate -Dexpression=settings.localRepository -DforceStdout 2>/dev/null | tail -n1)
  [[ -n $repo && -d $repo ]] || repo=$HOME/.m2/repository
  printf '%s' "$repo"
}

# svc_logs LOGFILE [-f] [LINES]: print (or follow) the end of a service log, naming the file first.
svc_logs() {
  local log=$1 follow='' lines=100 a
  shift
  for a in "$@"; do
    case $a in
    -f | --follow) follow=1 ;;
    *[!0-9]* | '') svc_die "logs takes [-f] [LINES], got '$a'" ;;
    *) lines=$a ;;
    esac
  done
  [[ -f $log ]] || svc_die "no log yet at $log"
  svc_info "log: $log"
  if [[ -n $follow ]]; then exec tail -n "$lines" -F "$log"; fi
  tail -n "$lines" "$log"
}

# Leases: several test runs share one instance. STATE/leases/<pid> marks a holder (alive while that pid runs);
# STATE/auto-stop marks an instance started for a lease, which the last holder out stops. A manual `start`
# removes auto-stop, so a broker someone started by hand is never stopped by a test run.

svc_lease_add() {
  local state=$1 holder=$2
  [[ $holder =~ ^[0-9]+$ ]] || svc_die "acquire needs the holder's pid, got '${holder}'"
  mkdir -p "$state/leases"
  : >"$state/leases/$holder"
}

# svc_live_holders STATE: count holders whose pid still runs, forgetting the dead ones.
svc_live_holders() {
  local state=$1 f n=0
  mkdir -p "$state/leases"
  for f in "$state/leases"/*; do
    [[ -e $f ]] || continue
    if kill -0 "${f##*/}" 2>/dev/null; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo "$n"
}

# svc_release STATE HOLDER|'' PIDFILE MARKER TIMEOUT LABEL: drop HOLDER's lease (none for a reap), then stop
# the instance if it was started for leases and nobody living holds one. Call under svc_lock.
svc_release() {
  local state=$1 holder=$2 pidfile=$3 marker=$4 timeout=$5 label=$6 n
  if [[ -n $holder ]]; then
    [[ $holder =~ ^[0-9]+$ ]] || svc_die "release needs the holder's pid, got '${holder}'"
    rm -f "$state/leases/$holder"
  fi
  [[ -f $state/auto-stop ]] || return 0
  n=$(svc_live_holders "$state")
  if ((n == 0)); then
    svc_stop "$pidfile" "$marker" "$timeout" "$label"
    rm -f "$state/auto-stop"
  else
    svc_info "leaving $label running: $n other holder(s)"
  fi
}
