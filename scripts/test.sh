#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it (and .ci/run after `npm ci`):
#   npm deps (npm ci when node_modules is missing or older than package-lock.json) → system packages
#   → lint → typecheck → unit tests → integration tests (the vitest global setup starts the broker and registry)
# Every step runs even when an earlier one failed, so one run shows every problem; a summary follows and the
# exit status is non-zero if any step failed. Brokers and registries this run started are stopped on exit,
# also on failure or Ctrl-C.
#
# Arguments are passed to both vitest runs (e.g. `npm test -- test/unit/core`).
# Environment:
#   VIGIL_TEST_STEPS      steps to run, default "lint typecheck unit integration"
#   VIGIL_TEST_FAIL_FAST=1  stop at the first failing step
#   VIGIL_SKIP_NPM_CI=1   never run npm ci;  VIGIL_SKIP_SYSTEM_DEPS=1  never apt-get
#   KAFKA_BROKERS, REGISTRY_URL, KAFKA_PORT, REGISTRY_PORT, ...  see docs/local-kafka.md
# shellcheck disable=SC2317  # functions below are called through run_step and trap
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
STEPS=${VIGIL_TEST_STEPS:-lint typecheck unit integration}

if [[ -t 1 ]]; then
  bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' yellow=$'\e[33m' reset=$'\e[0m'
else
  bold='' red='' green='' yellow='' reset=''
fi

names=()
results=()
times=()
failed=0

banner() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }

# run_step NAME CMD...: run, time and record one step.
run_step() {
  local name=$1 t0=$SECONDS rc
  shift
  banner "$name: $*"
  "$@"
  rc=$?
  printf -v "${name//-/_}_rc" '%s' "$rc"
  names+=("$name")
  times+=($((SECONDS - t0)))
  if ((rc == 0)); then
    results+=(ok)
  else
    results+=("FAILED (exit $rc)")
    failed=1
    if [[ ${VIGIL_TEST_FAIL_FAST:-0} == 1 ]]; then
      summary
      exit 1
    fi
  fi
}

skip_step() {
  names+=("$1")
  results+=("skipped: $2")
  times+=(0)
}

summary() {
  printf '\n%sSummary%s\n' "$bold" "$reset"
  local i colour
  for i in "${!names[@]}"; do
    case ${results[$i]} in
    ok) colour=$green ;;
    skipped*) colour=$yellow ;;
    *) colour=$red ;;
    esac
    printf '  %-12s %s%-28s%s %4ss\n' "${names[$i]}" "$colour" "${results[$i]}" "$reset" "${times[$i]}"
  done
  if ((failed)); then
    printf '%sFAILED%s\n' "$red$bold" "$reset"
  else
    printf '%sall steps passed%s\n' "$green$bold" "$reset"
  fi
}

# If vitest dies without running its teardown (killed, crashed), its leases on the local broker and registry
# are left behind: reap stops the instances that test runs started and that no living run still holds.
# Instances someone started by hand are never touched.
cleanup() {
  bash deploy/kafka/kafkactl.sh reap >/dev/null 2>&1 || true
  bash deploy/registry/registryctl.sh reap >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; summary; exit 130' INT TERM

step_enabled() { [[ " $STEPS " == *" $1 "* ]]; }

# npm dependencies: .ci/run has just run `npm ci`, so this only acts on a fresh clone or after package-lock.json
# changed (npm records what it installed in node_modules/.package-lock.json).
npm_deps() {
  if [[ ${VIGIL_SKIP_NPM_CI:-0} == 1 ]]; then return 0; fi
  local marker=node_modules/.package-lock.json
  if [[ ! -f $marker ]]; then
    echo "node_modules missing: npm ci"
  elif [[ package-lock.json -nt $marker ]]; then
    echo "package-lock.json is newer than node_modules: npm ci"
  else
    echo "node_modules up to date with package-lock.json"
    return 0
  fi
  npm ci --no-audit --no-fund
}

vitest_args=("$@")
((${#vitest_args[@]} > 0)) && vitest_args+=(--passWithNoTests)

rm -rf .vigil/test-results
run_step deps npm_deps
run_step system bash scripts/lib/ensure-system-deps.sh
run_step chart-tools bash scripts/lib/ensure-chart-tools.sh  # helm, helm-unittest, kubeconform + schemas, cached
if step_enabled lint; then run_step lint npm run --silent lint; else skip_step lint "not in VIGIL_TEST_STEPS"; fi
if step_enabled typecheck; then run_step typecheck npm run --silent typecheck; else skip_step typecheck "not in VIGIL_TEST_STEPS"; fi
if step_enabled unit; then
  run_step unit npx vitest run --project unit --reporter=default --reporter=json \
    --outputFile.json=.vigil/test-results/unit.json "${vitest_args[@]}"
else
  skip_step unit "not in VIGIL_TEST_STEPS"
fi
if step_enabled integration; then
  run_step integration npx vitest run --project integration --reporter=default --reporter=json \
    --outputFile.json=.vigil/test-results/integration.json "${vitest_args[@]}"
else
  skip_step integration "not in VIGIL_TEST_STEPS"
fi

summary
# One closing line over both vitest runs, in the plain "N passed, N failed" form CI systems read. A test file
# that failed outside its tests (it did not load, or a hook threw) has no failed test to count, so it counts as
# one failure itself; a vitest run that failed without writing its JSON report counts as one too, so the line
# never says "0 failed" when the run exits non-zero.
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const arg of process.argv.slice(1)) {
    const [f, rc] = arg.split("=");
    if (!fs.existsSync(f)) {
      if (rc !== "0") failed += 1;
      continue;
    }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    for (const suite of r.testResults ?? []) {
      const failedTests = (suite.assertionResults ?? []).filter((a) => a.status === "failed").length;
      if (suite.status === "failed" && failedTests === 0) failed += 1;
    }
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' ".vigil/test-results/unit.json=${unit_rc:-0}" ".vigil/test-results/integration.json=${integration_rc:-0}"
exit "$failed"
