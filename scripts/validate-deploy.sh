#!/usr/bin/env bash
# Validates the deploy files offline (ctest deploy_lint):
#   1. Prometheus rules: promtool check rules + promtool test rules (deploy/prometheus/)
#   2. Kubernetes: kubectl kustomize renders every overlay; each rendered object is checked against
#      the Kubernetes OpenAPI schemas (npm kubernetes-models, deploy/tools/validate.mjs) and the
#      relay policy (probes on /healthz, preStop, non-root, read-only fs, secrets by reference,
#      PDB/HPA/NetworkPolicy present, admin port cluster-internal)
#   3. deploy/compose.yml structure (no compose CLI on this machine); Dockerfile lint (stages,
#      non-root, HEALTHCHECK, COPY sources vs .dockerignore) and every apt package it installs has a
#      Debian 12 candidate (apt-cache). The image itself is not built here (README "Deploy").
#   4. self-test: deliberately broken copies must be refused, so this script cannot pass vacuously
# Exit 0 = valid, 1 = a problem, 77 = skipped because a tool is missing (after running what can run).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
missing=()
step() { echo "== $*"; }

command -v node >/dev/null || { echo "SKIP: node not found" >&2; exit 77; }
if [ ! -d deploy/tools/node_modules/kubernetes-models ]; then
  (cd deploy/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
validate() { node deploy/tools/validate.mjs "$@"; }
expect_refused() {  # expect_refused WHAT MODE FILE EXPECTED-MESSAGE
  if validate "$2" "$3" >/dev/null 2>"$tmp/err"; then
    echo "FAIL: the validator accepted $1" >&2
    exit 1
  fi
  grep -F -- "$4" "$tmp/err" >/dev/null || { echo "FAIL: $1 refused for another reason:" >&2; cat "$tmp/err" >&2; exit 1; }
  echo "refused as expected ($1): $(grep -F -- "$4" "$tmp/err" | head -1)"
}

if command -v promtool >/dev/null; then
  step "promtool"
  promtool check rules deploy/prometheus/alerts.yml
  (cd deploy/prometheus && promtool test rules alerts.test.yml)
  # self-test: a rule file whose alert no longer fires must fail its unit test
  sed 's/relay_pending_join_waiters{job="relay"} > 48/relay_pending_join_waiters{job="relay"} > 4800/' \
    deploy/prometheus/alerts.yml >"$tmp/alerts.yml"
  sed 's|  - alerts.yml|  - '"$tmp"'/alerts.yml|' deploy/prometheus/alerts.test.yml >"$tmp/alerts.test.yml"
  if promtool test rules "$tmp/alerts.test.yml" >/dev/null 2>&1; then
    echo "FAIL: promtool accepted a rule file whose alert cannot fire" >&2
    exit 1
  fi
  echo "refused as expected (alert threshold broken)"
else
  missing+=(promtool)
fi

step "compose"
validate compose deploy/compose.yml
sed 's/condition: service_healthy/condition: service_started/' deploy/compose.yml >"$tmp/compose.yml"
expect_refused "compose without health-gated depends_on" compose "$tmp/compose.yml" "must wait for service_healthy"

step "Dockerfile"
validate dockerfile Dockerfile | tee "$tmp/docker.out"
if command -v apt-cache >/dev/null; then
  for p in $(sed -n 's/^packages: //p' "$tmp/docker.out"); do
    policy=$(apt-cache policy "$p" 2>/dev/null)
    [[ $policy == *"Candidate: "[0-9]* ]] || { echo "FAIL: Dockerfile installs $p: no Debian candidate" >&2; exit 1; }
  done
  echo "every Dockerfile package has a Debian candidate"
else
  missing+=(apt-cache)
fi
sed 's/^USER .*/USER root/' Dockerfile >"$tmp/Dockerfile"
expect_refused "Dockerfile running as root" dockerfile "$tmp/Dockerfile" "non-root USER"

if command -v kubectl >/dev/null; then
  for overlay in deploy/k8s/overlays/*/; do
    name=$(basename "$overlay")
    step "kustomize $name"
    kubectl kustomize "$overlay" >"$tmp/$name.yaml"
    validate k8s "$tmp/$name.yaml"
  done
  step "kustomize base"
  kubectl kustomize deploy/k8s/base >"$tmp/base.yaml"
  validate k8s "$tmp/base.yaml"
  # self-tests on the rendered base: a schema error and two policy errors must each be refused
  sed 's/revisionHistoryLimit: 5/revisionHistoryLimit: five/' "$tmp/base.yaml" >"$tmp/bad1.yaml"
  expect_refused "revisionHistoryLimit: five" k8s "$tmp/bad1.yaml" "revisionHistoryLimit must be integer"
  sed 's|path: /healthz|path: /|' "$tmp/base.yaml" >"$tmp/bad2.yaml"
  expect_refused "probes not on /healthz" k8s "$tmp/bad2.yaml" "readinessProbe must be httpGet /healthz"
  sed 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "$tmp/base.yaml" >"$tmp/bad3.yaml"
  expect_refused "writable root filesystem" k8s "$tmp/bad3.yaml" "readOnlyRootFilesystem must be true"
  # a manifest that does not render at all must fail kubectl kustomize
  cp -r deploy/k8s/base "$tmp/brokenbase"
  sed -i 's/^resources:$/resources:\n  - missing.yaml/' "$tmp/brokenbase/kustomization.yaml"
  grep -q '^  - missing.yaml' "$tmp/brokenbase/kustomization.yaml"
  if kubectl kustomize "$tmp/brokenbase" >/dev/null 2>&1; then
    echo "FAIL: kustomize rendered a base with a missing resource" >&2
    exit 1
  fi
  echo "refused as expected (missing resource)"
else
  # kubectl is not a Debian package: without it, validate the base's resources as written (the
  # base has no patches; the overlays are not rendered).
  step "base resources (no kustomize)"
  for f in $(sed -n '/^resources:/,/^[a-z]/p' deploy/k8s/base/kustomization.yaml | sed -n 's/^  - //p'); do
    cat "deploy/k8s/base/$f"
    echo "---"
  done >"$tmp/rawbase.yaml"
  validate k8s "$tmp/rawbase.yaml"
  sed 's|path: /healthz|path: /|' "$tmp/rawbase.yaml" >"$tmp/rawbad.yaml"
  expect_refused "probes not on /healthz" k8s "$tmp/rawbad.yaml" "readinessProbe must be httpGet /healthz"
  missing+=(kubectl)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIP: ${missing[*]} not found (the other checks passed)" >&2
  exit 77
fi
echo "deploy_lint: all deploy files valid"
