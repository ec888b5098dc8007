#!/usr/bin/env bash
# `npm run demo`: installs what is missing, builds, and runs `vigil demo` (local Kafka broker, synthetic sensor
# stream, training, live detection, precision/recall, metrics). Extra arguments go to `vigil demo`
# (e.g. `npm run demo -- --transport rdkafka --records 50000`). The broker it starts is stopped on exit,
# Ctrl-C included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "==> npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
echo "==> build" >&2
npm run --silent build >&2
# Logs (JSON, warnings and up) go to stderr; the demo's own story goes to stdout.
export VIGIL_LOG_LEVEL=${VIGIL_LOG_LEVEL:-warn}
exec node bin/vigil.js demo "$@"
