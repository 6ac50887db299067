#!/usr/bin/env bash
# Starts every real service the project uses locally: Kafka, PostgreSQL, Alertmanager, Prometheus, then builds Prism.
# Each script is idempotent, so this is safe to run again. Stop them with stop.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/kafka.sh" start
"$HERE/postgres.sh" start
"$HERE/alertmanager.sh" start
"$HERE/prometheus.sh" start   # scrapes safecampus exporter on 127.0.0.1:9108 once one runs
"$HERE/chromium.sh" >/dev/null  # headless Chromium + Noto CJK fonts: the canteen reports are checked in it
# Prism is no daemon: the Beam SDK starts it per pipeline from this binary (--prism_location).
PRISM="$("$HERE/prism.sh")"
echo "prism: $PRISM (pass --runner=PrismRunner --prism_location=$PRISM)"
