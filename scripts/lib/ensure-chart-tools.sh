#!/usr/bin/env bash
# Builds the tools the chart and manifest checks use, into a cache outside the clone, keyed by version:
#   helm (go install), helm-unittest (a throwaway tools module: its go.mod has replace directives, so plain
#   `go install` is refused), kubeconform, and offline JSON schemas for kubeconform: the Kubernetes kinds from
#   PyPI's kubernetes-validate (made standalone) plus the Prometheus-Operator and KEDA CRDs converted with
#   kubeconform's own openapi2jsonschema.py. See ../shared/VERIFIED.md for why each route.
# A no-op when everything is cached. Prints the cache directory on stdout (the last line); the tests read
# $VIGIL_TOOLS_DIR or call this script. Exits non-zero when a tool could not be built (no Go, no network), and
# the tests that need it then skip with the message.
#   VIGIL_TOOLS_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/vigil-tools)
set -euo pipefail

HELM_VERSION=v3.22.0
UNITTEST_VERSION=v1.1.2
KUBECONFORM_VERSION=v0.7.0
K8S_VALIDATE_VERSION=1.37.0
K8S_SCHEMA_VERSION=1.33
PROM_OPERATOR_VERSION=v0.85.0
KEDA_VERSION=v2.21.0

root=${VIGIL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-tools}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$root/bin
mkdir -p "$bin"
say() { printf 'ensure-chart-tools: %s\n' "$*" >&2; }

# One builder at a time: two test runs on one machine (two clones, or CI beside a developer's run) share this
# cache, and the schema step below starts by removing the venv another run may be using.
exec 9>"$root/.lock"
flock 9

need_go() {
  command -v go >/dev/null 2>&1 || { say "go is not installed: cannot build $1"; exit 1; }
}

# Each tool lands as bin/<name>-<version>; a finished build is renamed into place, so a half-built one is never
# taken for done.
if [[ ! -x $bin/helm-$HELM_VERSION ]]; then
  need_go helm
  say "building helm $HELM_VERSION (minutes)"
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$bin/helm-$HELM_VERSION" && rm -rf "$tmp"
fi

if [[ ! -x $bin/kubeconform-$KUBECONFORM_VERSION ]]; then
  need_go kubeconform
  say "building kubeconform $KUBECONFORM_VERSION"
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  mv "$tmp/kubeconform" "$bin/kubeconform-$KUBECONFORM_VERSION" && rm -rf "$tmp"
fi

if [[ ! -x $bin/helm-unittest-$UNITTEST_VERSION ]]; then
  need_go helm-unittest
  say "building helm-unittest $UNITTEST_VERSION (minutes)"
  mod=$(mktemp -d)
  cat >"$mod/go.mod" <<GOMOD
module vigil.local/chart-tools

go 1.24

require github.com/helm-unittest/helm-unittest $UNITTEST_VERSION

replace github.com/vmware-labs/yaml-jsonpath v0.3.2 => github.com/helm-unittest/yaml-jsonpath v0.4.0
GOMOD
  cat >"$mod/tools.go" <<'GOSRC'
//go:build tools

package tools

import _ "github.com/helm-unittest/helm-unittest/cmd/helm-unittest"
GOSRC
  (cd "$mod" && go mod tidy && go build -o untt github.com/helm-unittest/helm-unittest/cmd/helm-unittest)
  mv "$mod/untt" "$bin/helm-unittest-$UNITTEST_VERSION" && rm -rf "$mod"
fi

schemas=$root/schemas/k8s-$K8S_SCHEMA_VERSION+prom-$PROM_OPERATOR_VERSION+keda-$KEDA_VERSION
if [[ ! -f $schemas/.complete ]]; then
  need_go "the CRD schemas"
  command -v python3 >/dev/null 2>&1 || { say "python3 is needed to prepare the schemas"; exit 1; }
  say "preparing offline schemas in $schemas"
  rm -rf "$schemas" "$root/venv"
  python3 -m venv "$root/venv"
  "$root/venv/bin/pip" install -q "kubernetes-validate==$K8S_VALIDATE_VERSION" "PyYAML>=6"
  mkdir -p "$schemas/k8s" "$schemas/crd"
  "$root/venv/bin/python" "$here/k8s-standalone-schemas.py" "$K8S_SCHEMA_VERSION" "$schemas/k8s"
  conv=$(go mod download -json "github.com/yannh/kubeconform@$KUBECONFORM_VERSION" | "$root/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/scripts/openapi2jsonschema.py
  prom=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" | "$root/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  keda=$(go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | "$root/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  (cd "$schemas/crd" && FILENAME_FORMAT='{kind}_{version}' "$root/venv/bin/python" "$conv" \
    "$prom"/example/prometheus-operator-crd/*.yaml "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" >/dev/null)
  : >"$schemas/.complete"
fi

# Stable names for the current versions, so callers need not know them.
ln -sf "helm-$HELM_VERSION" "$bin/helm"
ln -sf "helm-unittest-$UNITTEST_VERSION" "$bin/helm-unittest"
ln -sf "kubeconform-$KUBECONFORM_VERSION" "$bin/kubeconform"
ln -sfn "$schemas" "$root/schemas/current"
echo "$root"
