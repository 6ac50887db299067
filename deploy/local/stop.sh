#!/usr/bin/env bash
# Stops the services started by services.sh (Prism needs no stopping: it exits with its pipeline).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/kafka.sh" stop
"$HERE/postgres.sh" stop
"$HERE/prometheus.sh" stop
"$HERE/alertmanager.sh" stop
