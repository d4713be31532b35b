#!/usr/bin/env bash
# One real PostgreSQL server on 127.0.0.1, trust auth for user `pulse`, no Docker.
#
#   postgres.sh start | stop | status | createdb NAME
#
# PULSE_PG_PORT  port (default 5432)
# PULSE_PG_DIR   cluster, log (default ./data/postgres)
set -euo pipefail

PORT="${PULSE_PG_PORT:-5432}"
DIR="$(realpath -m "${PULSE_PG_DIR:-./data/postgres}")"
DATA="$DIR/pgdata"
LOG_FILE="$DIR/postgres.log"
# The service databases are listed once, in the file the postgres image runs at its first start.
mapfile -t DATABASES < <(sed -n 's/^create database \([a-z_]*\);$/\1/p' "$(dirname "${BASH_SOURCE[0]}")/databases.sql")
((${#DATABASES[@]} > 0)) || { echo "postgres.sh: no 'create database' lines in databases.sql" >&2; exit 1; }
START_TIMEOUT=60
STOP_TIMEOUT=30
# initdb and postgres refuse to run as root; as root we run them as this system user.
OS_USER=postgres

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bindir() {
  local dir
  if command -v pg_config >/dev/null; then
    dir="$(pg_config --bindir)"
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
  done
  return 1
}

ensure_bindir() {
  BIN="$(find_bindir)" && return 0
  [[ "$(id -u)" -eq 0 ]] || die "PostgreSQL server programs not found; install the 'postgresql' package"
  echo "installing postgresql with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  BIN="$(find_bindir)" || die "postgresql installed, but initdb is still not found"
}

as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then runuser -u "$OS_USER" -- "$@"; else "$@"; fi
}

# As root: the server user needs its own folder and a way through every folder above it.
prepare_dir() {
  mkdir -p "$DIR"
  touch "$LOG_FILE"
  [[ "$(id -u)" -eq 0 ]] || return 0
  id -u "$OS_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  chown "$OS_USER:" "$DIR" "$LOG_FILE"
  local dir="$DIR"
  while [[ "$dir" != / ]]; do
    dir="$(dirname "$dir")"
    if ! runuser -u "$OS_USER" -- test -x "$dir"; then
      echo "postgres.sh: letting $OS_USER pass through $dir (chmod o+x)" >&2
      chmod o+x "$dir"
    fi
  done
}

init_once() {
  [[ -f "$DATA/PG_VERSION" ]] && return 0
  as_owner "$BIN/initdb" -D "$DATA" -U pulse --auth=trust --encoding=UTF8 --no-locale >>"$LOG_FILE" 2>&1 \
    || { tail -n 20 "$LOG_FILE" >&2; die "initdb failed"; }
  # Loopback TCP only: no other host, no unix socket.
  echo "host all all 127.0.0.1/32 trust" | as_owner tee "$DATA/pg_hba.conf" >/dev/null
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<'CONF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_buffers = 64MB
CONF
}

running() { as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

psql_admin() { PGCONNECT_TIMEOUT=5 "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U pulse -d postgres -XqtA "$@"; }

create_database() {
  [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || die "database names here are lower_snake_case: '$1'"
  [[ -n "$(psql_admin -c "select 1 from pg_database where datname = '$1'")" ]] && return 0
  psql_admin -c "create database $1"
}

start() {
  ensure_bindir
  prepare_dir
  init_once
  if ! running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG_FILE" -o "-p $PORT" -w -t "$START_TIMEOUT" start >/dev/null \
      || { tail -n 20 "$LOG_FILE" >&2; die "server did not start on 127.0.0.1:$PORT"; }
  fi
  local db
  for db in "${DATABASES[@]}"; do create_database "$db"; done
  echo "postgresql://pulse@127.0.0.1:$PORT/"
}

stop() {
  ensure_bindir
  running || { echo "postgres is not running"; return 0; }
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null \
    || as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null
  echo "postgres stopped"
}

status() {
  ensure_bindir
  if running; then echo "postgres running, url postgresql://pulse@127.0.0.1:$PORT/"
  else echo "postgres is not running"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  createdb) [[ -n "${2:-}" ]] || die "usage: $0 createdb NAME"; ensure_bindir; create_database "$2" ;;
  *) echo "usage: $0 start|stop|status|createdb NAME" >&2; exit 2 ;;
esac
