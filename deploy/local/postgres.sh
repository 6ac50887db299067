#!/usr/bin/env bash
# Starts a PostgreSQL server (Debian's package) for safecampus on 127.0.0.1:5432 with role and
# database `safecampus` (password `safecampus`), and the tests' own (`safecampus_test`, or $SAFECAMPUS_TEST_DB
# when several checkouts test at once), which the tests empty at each run. Idempotent.
#   postgres.sh [start]   install if absent, initdb once, start, create role + database, print the URL
#   postgres.sh stop      fast shutdown, waits for exit
set -euo pipefail

DATA="${SAFECAMPUS_DATA:-$HOME/.local/share/safecampus}"
PORT="${SAFECAMPUS_PG_PORT:-5432}"
URL="postgresql+psycopg2://safecampus:safecampus@127.0.0.1:$PORT/safecampus"

# As root the server runs as the `postgres` user, which cannot enter /root: keep its files in its own home.
if [[ "$(id -u)" == 0 ]]; then
  PGDATA="${SAFECAMPUS_PGDATA:-/var/lib/postgresql/safecampus}"
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGDATA="${SAFECAMPUS_PGDATA:-$DATA/postgres}"
  as_pg() { "$@"; }
fi

install_if_absent() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  [[ "$(id -u)" == 0 ]] || { echo "postgres: not installed; run as root or: apt-get install postgresql" >&2; exit 1; }
  echo "postgres: installing Debian's postgresql"
  # apt-get update only when the package lists are missing (a fresh image) or install fails on stale ones.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
}

pick_bin() {
  # The newest installed major version.
  PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
}

pg() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" "$@"; }
psql_su() { as_pg "$PGBIN/psql" -h "$PGDATA" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

start() {
  install_if_absent
  pick_bin
  if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
    mkdir -p "$PGDATA"
    [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$PGDATA"
    # Local socket: trust (only the owner can reach it); TCP: passwords.
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    echo "postgres: initialised $PGDATA"
  fi
  if pg status >/dev/null 2>&1; then
    echo "postgres: already running ($PGDATA)"
  else
    # The socket lives in the data dir so the server needs no /var/run access.
    pg -l "$PGDATA/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$PGDATA'" >/dev/null
    echo "postgres: started, log $PGDATA/server.log; stop it with: $0 stop"
  fi
  TEST_DB="${SAFECAMPUS_TEST_DB:-safecampus_test}"
  psql_su <<SQL
SELECT 'CREATE ROLE safecampus LOGIN PASSWORD ''safecampus'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'safecampus') \gexec
SELECT 'CREATE DATABASE safecampus OWNER safecampus'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'safecampus') \gexec
SELECT 'CREATE DATABASE $TEST_DB OWNER safecampus'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$TEST_DB') \gexec
SQL
  # Wait until the server answers over TCP with the app's credentials.
  for _ in $(seq 1 60); do
    PGPASSWORD=safecampus "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U safecampus -d safecampus && break
    sleep 0.5
  done
  echo "$URL"
}

stop() {
  pick_bin 2>/dev/null || { echo "postgres: not installed"; return 0; }
  if [[ -f "$PGDATA/PG_VERSION" ]] && pg status >/dev/null 2>&1; then
    pg -m fast -w stop >/dev/null
    echo "postgres: stopped"
  else
    echo "postgres: not running"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
