#!/usr/bin/env bash
# Build (or restore from cache) the real Kubernetes control plane the tests run against:
# kube-apiserver, kube-controller-manager and kube-scheduler from k8s.io/kubernetes, kwok (simulated
# nodes) and helm, all with `go build` from the Go module proxy, plus etcd from Debian's packages.
#
# Why from source: no container runtime runs here, so kind/minikube cannot; the binaries are the
# same code a real cluster runs. A cold build takes 12-18 min on 2 cores; the binaries are kept
# under ~/.cache/aiflow/k8s/<versions>/bin, so a warm run costs a few stat calls. A lock makes two
# concurrent callers (a test session and a benchmark) build once.
#
# Usage: scripts/build_k8s.sh      prints the bin directory on stdout (progress goes to stderr)
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=1.33.13       # kube-apiserver, kube-controller-manager, kube-scheduler
KWOK_VERSION=0.8.0
HELM_VERSION=3.21.4       # the last 3.x the proxy here serves and approves
key="k8s-v${K8S_VERSION}_kwok-v${KWOK_VERSION}_helm-v${HELM_VERSION}"
root="${AIFLOW_CACHE:-$HOME/.cache/aiflow}/k8s"
bin="$root/$key/bin"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kwok helm)

have_all() {
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ -f "$bin/kwok-stages.yaml" ] && command -v etcd >/dev/null 2>&1
}

if have_all; then echo "$bin"; exit 0; fi

command -v etcd >/dev/null 2>&1 || scripts/apt_install.sh etcd-server >&2 || {
  echo "etcd is missing and could not be installed (apt-get install etcd-server)" >&2; exit 1; }
command -v go >/dev/null 2>&1 || { echo "building the test control plane needs Go >= 1.24" >&2; exit 1; }

mkdir -p "$root"
exec 9>"$root/.build.lock"
flock 9
if have_all; then echo "$bin"; exit 0; fi  # another caller built it while we waited

# Each piece is built into bin/ only when missing, so an interrupted build resumes where it
# stopped and a new piece (a version bump of one) costs only its own build.
work="$root/$key/src"
mkdir -p "$work/out" "$bin"
missing() { for b in "$@"; do [ -e "$bin/$b" ] || return 0; done; return 1; }
export GOFLAGS=-buildvcs=false CGO_ENABLED=0

# --- kube-apiserver, kube-controller-manager, kube-scheduler ----------------------------------
# k8s.io/kubernetes is not meant to be a dependency: its go.mod points every k8s.io/* staging
# module at ./staging. Requiring it from a small module and replacing each staging module by its
# published tag (v0.X.Y for v1.X.Y) builds the same code.
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver)
{
  echo "module aiflow.test/controlplane"
  echo
  echo "go 1.24"
  echo
  echo "require k8s.io/kubernetes v${K8S_VERSION}"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m v0.${K8S_VERSION#1.}"; done
  echo ")"
} > "$work/go.mod"
cat > "$work/tools.go" <<'EOF'
//go:build tools

// Package controlplane pins the Kubernetes commands the tests build.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
EOF
version_flags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=v${K8S_VERSION} -X $pkg.gitMajor=1"
  version_flags+=" -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean"
done
if missing kube-apiserver kube-controller-manager kube-scheduler; then
  echo "building the Kubernetes control plane v${K8S_VERSION} (cold: 12-18 min on 2 cores)..." >&2
  (
    cd "$work"
    go mod tidy >&2
    go build -trimpath -ldflags "$version_flags" -o "$work/out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler >&2
  )
  mv "$work/out/"* "$bin/"
fi

# --- kwok: simulated nodes (their pods are driven by tests/k8s/node_agent.py where code must run)
if missing kwok kwok-stages.yaml; then
  echo "building kwok v${KWOK_VERSION}..." >&2
  GOBIN="$work/out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}" >&2
  # kwok's shipped stages (node: initialize, heartbeat with lease; pod: ready, complete, delete),
  # joined into the one config file `kwok --config` takes
  stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@v${KWOK_VERSION}/kustomize/stage"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    echo "---"; cat "$stages/$f.yaml"
  done > "$work/out/kwok-stages.yaml"
  mv "$work/out/kwok" "$work/out/kwok-stages.yaml" "$bin/"
fi

# --- helm: lint, template and install the chart -----------------------------------------------
if missing helm; then
  echo "building helm v${HELM_VERSION}..." >&2
  helm_flags="-s -w -X helm.sh/helm/v3/internal/version.version=v${HELM_VERSION}"
  helm_flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  helm_flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  helm_flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  helm_flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  GOBIN="$work/out" go install -trimpath -ldflags "$helm_flags" "helm.sh/helm/v3/cmd/helm@v${HELM_VERSION}" >&2
  mv "$work/out/helm" "$bin/"
fi

echo "Kubernetes test control plane ready in $bin" >&2
echo "$bin"
