#!/usr/bin/env bash
# Starts a Prometheus server (Debian's `prometheus`) on 127.0.0.1 that scrapes `safecampus exporter` and
# evaluates deploy/prometheus/rules/*.yml, sending alerts to the Alertmanager of alertmanager.sh. Idempotent.
#   prometheus.sh [start]   install once (apt-get update first), write the config, start, print the URL
#   prometheus.sh stop      stop the server this script started
#   prometheus.sh config    print the config it would run with
# Settings (tests run their own instance with their own port, data dir, target and intervals):
#   SAFECAMPUS_PROM_PORT (9090), SAFECAMPUS_PROM_DATA (~/.cache/safecampus/prometheus),
#   SAFECAMPUS_PROM_TARGET (127.0.0.1:9108, the exporter), SAFECAMPUS_PROM_ALERTMANAGER (127.0.0.1:9193),
#   SAFECAMPUS_PROM_INTERVAL (15s: scrape and rule evaluation), SAFECAMPUS_PROM_RULES (deploy/prometheus/rules)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RULES="${SAFECAMPUS_PROM_RULES:-$(cd "$HERE/../prometheus/rules" && pwd)}"
PORT="${SAFECAMPUS_PROM_PORT:-9090}"
DATA="${SAFECAMPUS_PROM_DATA:-${SAFECAMPUS_CACHE:-$HOME/.cache/safecampus}/prometheus}"
TARGET="${SAFECAMPUS_PROM_TARGET:-127.0.0.1:9108}"
ALERTMANAGER="${SAFECAMPUS_PROM_ALERTMANAGER:-127.0.0.1:9193}"
INTERVAL="${SAFECAMPUS_PROM_INTERVAL:-15s}"
PID_FILE="$DATA/prometheus.pid"
URL="http://127.0.0.1:$PORT"

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

install_if_absent() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  [[ "$(id -u)" == 0 ]] || { echo "prometheus: not installed; as root: apt-get install prometheus" >&2; exit 1; }
  echo "prometheus: installing Debian's prometheus (once)"
  apt-get update -q >/dev/null
  # The package's own service is not wanted (no systemd here, and it would bind 0.0.0.0): only the binaries.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null
}

config() {
  cat <<YAML
# Written by deploy/local/prometheus.sh; rules from $RULES.
global:
  scrape_interval: $INTERVAL
  evaluation_interval: $INTERVAL
  external_labels: {site: changzhou}
rule_files:
  - $RULES/*.yml
alerting:
  alertmanagers:
    - static_configs: [{targets: ["$ALERTMANAGER"]}]
scrape_configs:
  - job_name: safecampus
    static_configs: [{targets: ["$TARGET"]}]
YAML
}

start() {
  install_if_absent
  mkdir -p "$DATA/tsdb"
  config >"$DATA/prometheus.yml"
  promtool check config "$DATA/prometheus.yml" >/dev/null
  if running; then
    kill -HUP "$(cat "$PID_FILE")"  # reload: the rules or the config may have changed
    echo "prometheus: already running, reloaded ($DATA)"
  else
    nohup prometheus --config.file="$DATA/prometheus.yml" --storage.tsdb.path="$DATA/tsdb" \
      --web.listen-address="127.0.0.1:$PORT" --web.enable-lifecycle --web.enable-admin-api \
      --storage.tsdb.retention.time=30d >"$DATA/prometheus.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 120); do
      curl -sf "$URL/-/ready" >/dev/null 2>&1 && break
      running || { tail -20 "$DATA/prometheus.log" >&2; echo "prometheus: did not start" >&2; exit 1; }
      sleep 0.25
    done
    echo "prometheus: started, log $DATA/prometheus.log; stop it with: $0 stop"
  fi
  echo "$URL"
}

stop() {
  if ! running; then echo "prometheus: not running"; rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PID_FILE"
  echo "prometheus: stopped"
}

case "${1:-start}" in
  start) start ;;
  install) install_if_absent ;;
  stop) stop ;;
  config) config ;;
  *) echo "usage: $0 [start|stop|install|config]" >&2; exit 2 ;;
esac
