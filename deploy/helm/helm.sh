#!/usr/bin/env bash
# Prints the path of a helm binary, building it once per machine from the Go module proxy into
# ~/.cache/customer-pulse/bin (the chart's tests and `make helm-lint` need nothing installed by hand).
set -euo pipefail
VERSION="${PULSE_HELM_VERSION:-v3.22.0}"
BIN_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/customer-pulse/bin"
HELM="$BIN_DIR/helm-$VERSION"

if [[ ! -x "$HELM" ]]; then
  command -v go >/dev/null || { echo "helm.sh: Go is needed to build helm $VERSION (apt-get install golang)" >&2; exit 1; }
  mkdir -p "$BIN_DIR"
  build_dir="$(mktemp -d)"
  trap 'rm -rf "$build_dir"' EXIT
  echo "helm.sh: building helm $VERSION (once per machine)" >&2
  (cd "$build_dir" && GOBIN="$build_dir" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$VERSION") >&2
  mv "$build_dir/helm" "$HELM"
fi
echo "$HELM"
