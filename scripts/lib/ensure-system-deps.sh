#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing:
#   openjdk-17-jre-headless and maven: the local Kafka broker and schema registry (deploy/*/…ctl.sh);
#   kcat, python3-confluent-kafka, python3-avro and python3-requests (interop tests; confluent_kafka's
#   schema_registry client needs requests, which Debian's python3-confluent-kafka only suggests),
#   prometheus (promtool rule checks, the Prometheus integration test), prometheus-alertmanager (its alert),
#   chromium and fonts-dejavu-core (the live view's browser test; without them it skips, saying so).
# Note: Debian 12's kcat and python3-confluent-kafka use librdkafka 2.0.2, whose SCRAM is refused by Kafka 4
# (fixed in librdkafka 2.6.1); they are fine for PLAINTEXT and SASL PLAIN.
# The Python packages land in Debian's /usr/bin/python3, which a pyenv or venv python3 on PATH does not see:
# tests should run /usr/bin/python3 for them.
# Never fails the caller: without root or without the network it prints what is missing and returns 0, and the
# tests that need a package skip with a message naming it.
#   VIGIL_SKIP_SYSTEM_DEPS=1   do nothing
set -uo pipefail

[[ ${VIGIL_SKIP_SYSTEM_DEPS:-0} == 1 ]] && exit 0

# package:probe — the probe says whether the package's feature is usable already (a command or an import).
wanted=(
  'openjdk-17-jre-headless:command -v java'
  'maven:command -v mvn'
  'kcat:command -v kcat'
  'python3-confluent-kafka:/usr/bin/python3 -c "import confluent_kafka"'
  'python3-avro:/usr/bin/python3 -c "import avro.schema"'
  'python3-requests:/usr/bin/python3 -c "import requests"'
  'prometheus:command -v promtool'
  'prometheus-alertmanager:command -v prometheus-alertmanager'
  'chromium:test -x /usr/bin/chromium'
  'fonts-dejavu-core:test -d /usr/share/fonts/truetype/dejavu'
)

missing=()
for entry in "${wanted[@]}"; do
  pkg=${entry%%:*}
  probe=${entry#*:}
  bash -c "$probe" >/dev/null 2>&1 || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

say() { printf 'ensure-system-deps: %s\n' "$*" >&2; }

if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get; missing (tests that need them will skip): ${missing[*]}"
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    say "not root; missing (tests that need them will skip): ${missing[*]} — install with: sudo apt-get install -y ${missing[*]}"
    exit 0
  fi
fi

say "installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp -t vigil-apt.XXXXXX)
# One update per machine run is enough; a stale package index makes installs 404.
stamp=/tmp/vigil-apt-updated
if [[ ! -f $stamp ]]; then
  if "${sudo[@]}" apt-get update -q >"$log" 2>&1; then
    : >"$stamp"
  else
    say "apt-get update failed (see $log); trying the install anyway"
  fi
fi
if "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
  rm -f "$log"
  say "installed ${missing[*]}"
else
  # Install what can be installed one by one, so one unavailable package does not block the rest.
  still=()
  for pkg in "${missing[@]}"; do
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$pkg" >>"$log" 2>&1 || still+=("$pkg")
  done
  say "could not install ${still[*]:-nothing} (see $log); tests that need them will skip"
fi
exit 0
