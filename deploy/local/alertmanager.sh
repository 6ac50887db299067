#!/usr/bin/env bash
# Starts a Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on 127.0.0.1 with
# deploy/alertmanager/alertmanager.yml, clustering off. Idempotent.
#   alertmanager.sh [start]   install once (apt-get update first), check the config, start, print the URL
#   alertmanager.sh stop      stop the server this script started
# Settings: SAFECAMPUS_AM_PORT (9193; Kafka's controller has 9093), SAFECAMPUS_AM_DATA
#   (~/.cache/safecampus/alertmanager), SAFECAMPUS_AM_CONFIG (the shipped config; tests pass their own copy
#   with the receivers' URLs pointing at them and shorter waits).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${SAFECAMPUS_AM_PORT:-9193}"
DATA="${SAFECAMPUS_AM_DATA:-${SAFECAMPUS_CACHE:-$HOME/.cache/safecampus}/alertmanager}"
CONFIG="${SAFECAMPUS_AM_CONFIG:-$(cd "$HERE/../alertmanager" && pwd)/alertmanager.yml}"
PID_FILE="$DATA/alertmanager.pid"
URL="http://127.0.0.1:$PORT"

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

install_if_absent() {
  command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null && return 0
  [[ "$(id -u)" == 0 ]] || { echo "alertmanager: not installed; as root: apt-get install prometheus-alertmanager" >&2; exit 1; }
  echo "alertmanager: installing Debian's prometheus-alertmanager (once)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager >/dev/null
}

start() {
  install_if_absent
  mkdir -p "$DATA/data"
  amtool check-config "$CONFIG" >/dev/null
  if running; then
    kill -HUP "$(cat "$PID_FILE")"
    echo "alertmanager: already running, reloaded ($DATA)"
  else
    # Templates are found relative to the config file's directory.
    cd "$(dirname "$CONFIG")"
    nohup prometheus-alertmanager --config.file="$CONFIG" --storage.path="$DATA/data" \
      --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address="" \
      >"$DATA/alertmanager.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 120); do
      curl -sf "$URL/-/ready" >/dev/null 2>&1 && break
      running || { tail -20 "$DATA/alertmanager.log" >&2; echo "alertmanager: did not start" >&2; exit 1; }
      sleep 0.25
    done
    echo "alertmanager: started, log $DATA/alertmanager.log; stop it with: $0 stop"
  fi
  echo "$URL"
}

stop() {
  if ! running; then echo "alertmanager: not running"; rm -f "$PID_FILE"; return 0; fi
  local pid; pid="$(cat "$PID_FILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PID_FILE"
  echo "alertmanager: stopped"
}

case "${1:-start}" in
  start) start ;;
  install) install_if_absent ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop|install]" >&2; exit 2 ;;
esac
