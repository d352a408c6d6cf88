#!/usr/bin/env bash
# A local Redis on 127.0.0.1:6379 for development and tests.
#
#   deploy/redis.sh start    use the Redis that answers on the port (redis-cli ping); otherwise start
#                            redis-server daemonized, with no persistence (installs Debian's
#                            redis-server first when it is missing and we are root)
#   deploy/redis.sh stop     stop the redis-server this script started (pid file); never another one
#
# Files: deploy/redis/.cache/redis-PORT.pid and redis-PORT.log (gitignored). Environment: REDIS_PORT (6379).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/redis/.cache"
port="${REDIS_PORT:-6379}"
pid_file="$cache/redis-$port.pid"
log_file="$cache/redis-$port.log"


say() { printf 'redis.sh: %s\n' "$*"; }
die() {
  printf 'redis.sh: error: %s\n' "$*" >&2
  exit 1
}

answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]
  else
    # No client yet: speak the protocol by hand.
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'PING\r\n' >&3 && read -r reply <&3 && [[ \$reply == +PONG* ]]" 2>/dev/null
  fi
}

pid_alive() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

install_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "redis-server not found; install it (Debian: apt-get install -y redis-server) or set REDIS_URL=redis://host:port to use an existing Redis"
  fi
  say "installing redis-server (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q redis-server; } >"$cache/apt.log" 2>&1 || {
    tail -n 20 "$cache/apt.log" >&2
    die "apt-get install redis-server failed (full output: $cache/apt.log)"
  }
}

start() {
  if answers; then
    say "a Redis already answers on 127.0.0.1:$port; using it"
    return 0
  fi
  mkdir -p "$cache"
  install_redis
  say "starting redis-server on 127.0.0.1:$port (no persistence); log: $log_file"
  # Without --dir, Redis may still write a dump on SHUTDOWN into the working directory.
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$cache" \
    --daemonize yes --pidfile "$pid_file" --logfile "$log_file"
  local deadline=$((SECONDS + 20))
  until answers; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log_file" >&2 || true
      die "redis-server did not answer on 127.0.0.1:$port within 20s (log: $log_file)"
    fi
    sleep 0.2
  done
  say "ready on 127.0.0.1:$port (pid $(cat "$pid_file" 2>/dev/null || echo '?'))"
}

stop() {
  if ! pid_alive; then
    rm -f "$pid_file"
    say "no redis-server started by this script is running"
    return 0
  fi
  local pid
  pid="$(cat "$pid_file")"
  say "stopping redis-server pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
  echo "usage: deploy/redis.sh start|stop" >&2
  exit 2
  ;;
esac
