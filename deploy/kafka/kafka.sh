#!/usr/bin/env bash
# One real Apache Kafka broker (KRaft: broker and controller in one JVM) on 127.0.0.1, no Docker.
#
#   kafka.sh start | stop | kill | status | fetch
#
# PULSE_KAFKA_PORT             client port (default 9092)
# PULSE_KAFKA_CONTROLLER_PORT  controller port (default client port + 1)
# PULSE_KAFKA_DIR              config, data, pid and log (default ./data/kafka)
# PULSE_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 60)
# PULSE_PYTHON                 python with aiokafka for the readiness check (default .venv/bin/python)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KAFKA_VERSION=4.1.1
PORT="${PULSE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${PULSE_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
DIR="$(realpath -m "${PULSE_KAFKA_DIR:-./data/kafka}")"
# Outside the clone, so every clone and worktree shares one download.
LIBS="${XDG_CACHE_HOME:-$HOME/.cache}/customer-pulse/kafka-$KAFKA_VERSION"
START_TIMEOUT="${PULSE_KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT=30
PID_FILE="$DIR/kafka.pid"
LOG_FILE="$DIR/kafka.log"
BOOTSTRAP="127.0.0.1:$PORT"

die() { echo "kafka.sh: $*" >&2; exit 1; }

python_bin() {
  if [[ -n "${PULSE_PYTHON:-}" ]]; then echo "$PULSE_PYTHON"
  elif [[ -x "$REPO/.venv/bin/python" ]]; then echo "$REPO/.venv/bin/python"
  else echo python3
  fi
}

alive() { [[ -r "/proc/$1/status" ]] && ! grep -q '^State:.*zombie' "/proc/$1/status"; }

# The broker's pid, when the pid file names a live Kafka JVM (not a recycled pid).
running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' && echo "$pid"
}

wait_gone() {  # pid seconds
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

fetch() {
  [[ -d "$LIBS" ]] && return 0
  command -v mvn >/dev/null || die "Maven is needed to fetch the Kafka jars (see deploy/README.md)"
  mkdir -p "$(dirname "$LIBS")"
  FETCH_TMP="$(mktemp -d "$LIBS.partial.XXXXXX")"
  trap 'rm -rf "$FETCH_TMP"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "fetching Kafka $KAFKA_VERSION jars into $LIBS" >&2
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$FETCH_TMP" >&2
  # A rename is atomic: the cache is either complete or absent. Losing a race to another fetch is fine.
  mv -T "$FETCH_TMP" "$LIBS" 2>/dev/null || rm -rf "$FETCH_TMP"
  trap - EXIT INT TERM
}

java_opts() {
  command -v java >/dev/null || die "Java 17+ is needed to run Kafka (see deploy/README.md)"
  JAVA_OPTS=(-Xms128m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -cp "$LIBS/*")
}

write_config() {
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" -e "s|@LOG_DIR@|$DIR/logs|g" \
    "$HERE/server.properties.template" >"$DIR/server.properties"
}

# Only the first start formats: the cluster id and every topic live on across restarts.
format_once() {
  [[ -f "$DIR/logs/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$(java "${JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE")"
  java "${JAVA_OPTS[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$DIR/server.properties" >>"$LOG_FILE" 2>&1 \
    || { tail -n 20 "$LOG_FILE" >&2; die "formatting $DIR/logs failed"; }
}

start() {
  if running_pid >/dev/null; then echo "$BOOTSTRAP"; return 0; fi
  fetch
  java_opts
  mkdir -p "$DIR"
  touch "$LOG_FILE"
  write_config
  format_once
  local first_line=$(($(wc -l <"$LOG_FILE") + 1))
  java "${JAVA_OPTS[@]}" kafka.Kafka "$DIR/server.properties" </dev/null >>"$LOG_FILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local ready=0
  "$(python_bin)" "$HERE/ready.py" "$BOOTSTRAP" --timeout "$START_TIMEOUT" --pid "$pid" || ready=$?
  if ((ready != 0)); then
    echo "kafka.sh: broker on $BOOTSTRAP did not become ready ($LOG_FILE). Errors, then the last lines:" >&2
    tail -n "+$first_line" "$LOG_FILE" | grep -E -A3 '\] (ERROR|FATAL) ' | head -n 40 >&2 || true
    echo "..." >&2
    tail -n 15 "$LOG_FILE" >&2
    stop >/dev/null
    exit 1
  fi
  echo "$BOOTSTRAP"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PID_FILE"; echo "kafka is not running"; return 0; fi
  kill -TERM "$pid"
  wait_gone "$pid" "$STOP_TIMEOUT" || { echo "kafka.sh: no exit after ${STOP_TIMEOUT}s, killing" >&2; kill -KILL "$pid"; }
  wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  rm -f "$PID_FILE"
  echo "kafka stopped"
}

# Like a crash: no controlled shutdown, so restarts exercise log recovery.
kill_now() {
  local pid
  pid="$(running_pid)" || { echo "kafka is not running"; return 0; }
  kill -KILL "$pid"
  wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  rm -f "$PID_FILE"
  echo "kafka killed"
}

status() {
  local pid
  if pid="$(running_pid)"; then echo "kafka running, pid $pid, bootstrap $BOOTSTRAP"
  else echo "kafka is not running"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  status) status ;;
  fetch) fetch; echo "$LIBS" ;;
  *) echo "usage: $0 start|stop|kill|status|fetch" >&2; exit 2 ;;
esac
