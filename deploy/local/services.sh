#!/usr/bin/env bash
# Starts every real service the project uses locally: Kafka, PostgreSQL, then builds Prism.
# Each script is idempotent, so this is safe to run again. Stop them with stop.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$HERE/kafka.sh" start
"$HERE/postgres.sh" start
# Prism is no daemon: the Beam SDK starts it per pipeline from this binary (--prism_location).
PRISM="$("$HERE/prism.sh")"
echo "prism: $PRISM (pass --runner=PrismRunner --prism_location=$PRISM)"
