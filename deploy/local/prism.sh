#!/usr/bin/env bash
# Builds Beam's Prism runner (Go) once with `go install` and prints its path.
# Beam would download a prebuilt Prism; offline machines build it from the Go module proxy instead.
set -euo pipefail

BEAM_VERSION="${BEAM_VERSION:-2.77.0}"
CACHE="${SAFECAMPUS_CACHE:-$HOME/.cache/safecampus}"
BIN_DIR="$CACHE/prism-$BEAM_VERSION"
PRISM="$BIN_DIR/prism"

# Prism keeps no state of its own; it is started by the Beam SDK, so this only builds it.
if [[ "${1:-}" == "stop" ]]; then
  exit 0
fi

if [[ -x "$PRISM" ]]; then
  echo "$PRISM"
  exit 0
fi

command -v go >/dev/null || { echo "prism.sh: Go toolchain not found (needed to build Prism)" >&2; exit 1; }
mkdir -p "$BIN_DIR"
echo "prism.sh: building Prism v$BEAM_VERSION with go install (first run takes minutes)..." >&2
# Two cores: keep the build parallelism to what the machine has.
GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:--buildvcs=false}" \
  go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION" >&2
echo "$PRISM"
