#!/usr/bin/env bash
# A local single-node Apache Kafka 3.9 (KRaft) on 127.0.0.1:9092 for development and tests.
#
#   deploy/kafka.sh start    fetch the jars once (Maven Central), format storage once, start the broker
#                            in the background and wait until it answers; does nothing when a broker
#                            already answers on the port
#   deploy/kafka.sh stop     stop the broker this script started (pid file)
#   deploy/kafka.sh status   say whether a broker answers and whether this script started it
#   deploy/kafka.sh jars     fetch the jars once if needed and print their directory as the last line
#                            (the tests run a second, TLS + SASL broker from them: test/helpers)
#
# Everything it writes lives in deploy/kafka/.cache/ (gitignored): libs/ (jars, reused between runs),
# data/ (the log dirs), server.properties (generated from deploy/kafka/server.properties), kafka.pid
# and kafka.log. Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP_OPTS
# (-Xms512m -Xmx512m), KAFKA_START_TIMEOUT seconds (120).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
kafka_dir="$here/kafka"
cache="$kafka_dir/.cache"
libs="$cache/libs"
data="$cache/data"
props="$cache/server.properties"
pid_file="$cache/kafka.pid"
log_file="$cache/kafka.log"
lock_file="$cache/start.lock"
kafka_version="3.9.1"

port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"
start_timeout="${KAFKA_START_TIMEOUT:-120}"

say() { printf 'kafka.sh: %s\n' "$*"; }
die() {
  printf 'kafka.sh: error: %s\n' "$*" >&2
  exit 1
}

# True when something accepts TCP connections on the broker port.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

# True when a Kafka broker answers a metadata request on the port. A bare TCP check is not enough:
# the socket opens before the broker serves requests. kafkajs comes from the repo's node_modules;
# before `npm ci` has run there is none, and the open port (plus the startup line in the log, for a
# broker this script starts) has to do.
broker_answers() {
  port_open || return 1
  if command -v node >/dev/null 2>&1 && [[ -d "$repo/node_modules/kafkajs" ]]; then
    (cd "$repo" && timeout 15 node -e '
      const { Kafka, logLevel } = require("kafkajs");
      const admin = new Kafka({
        clientId: "kafka-sh-probe", brokers: [process.argv[1]], logLevel: logLevel.NOTHING,
        connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 },
      }).admin();
      admin.connect().then(() => admin.listTopics()).then(
        () => admin.disconnect().then(() => process.exit(0)),
        () => process.exit(1),
      );' "127.0.0.1:$port") >/dev/null 2>&1
  else
    return 0
  fi
}

pid_alive() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

print_log_tail() {
  if [[ -f "$log_file" ]]; then
    printf -- '--- last 40 lines of %s ---\n' "$log_file" >&2
    tail -n 40 "$log_file" >&2
    printf -- '---\n' >&2
  fi
}

need_tools() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: the local broker needs a JRE 11+ (Debian: apt-get install -y openjdk-17-jre-headless), or set KAFKA_BROKERS=host:port to use an existing broker"
  if ! ls "$libs"/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1; then
    command -v mvn >/dev/null 2>&1 ||
      die "mvn not found: it fetches the Kafka jars once (Debian: apt-get install -y maven), or set KAFKA_BROKERS=host:port to use an existing broker"
  fi
}

fetch_jars() {
  if ls "$libs"/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1; then
    return 0
  fi
  say "fetching Kafka $kafka_version jars from Maven Central into $libs (once)"
  # Jars of another version left in libs/ would share the classpath with the new ones.
  rm -rf "$libs"
  mkdir -p "$libs"
  local mvn_log="$cache/mvn.log"
  if ! mvn -q -B -f "$kafka_dir/pom.xml" package -Dkafka.version="$kafka_version" -Dlibs.dir="$libs" \
    -Dstyle.color=never >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2
    rm -rf "$libs"
    die "mvn could not fetch the Kafka jars (full output: $mvn_log)"
  fi
  # Maven writes nothing we need into deploy/kafka/target.
  rm -rf "$kafka_dir/target"
}

write_config() {
  mkdir -p "$data"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data|g" \
    "$kafka_dir/server.properties" >"$props"
}

run_java() {
  # shellcheck disable=SC2086 # heap_opts is a list of JVM flags
  java $heap_opts -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$kafka_dir/log4j.properties" \
    -cp "$libs/*" "$@"
}

format_storage() {
  if [[ -f "$data/meta.properties" ]]; then
    return 0
  fi
  # A KRaft cluster id is 16 random bytes, base64url without padding. One in 64 starts with "-",
  # which the tool's parser reads as an option after a separate "-t": hence "--cluster-id=".
  local cluster_id
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  say "formatting storage in $data (cluster id $cluster_id)"
  if ! run_java kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$props" >"$cache/format.log" 2>&1; then
    cat "$cache/format.log" >&2
    die "kafka.tools.StorageTool format failed"
  fi
}

wait_until_ready() {
  local pid="$1" deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      # Another checkout's script may have won the race for the port; its broker is as good.
      if broker_answers; then
        say "the broker started here exited, but another one answers on 127.0.0.1:$port; using it"
        return 0
      fi
      print_log_tail
      die "the broker exited during startup (log: $log_file)"
    fi
    if grep -q 'Kafka Server started' "$log_file" 2>/dev/null && broker_answers; then
      return 0
    fi
    sleep 0.5
  done
  print_log_tail
  die "the broker did not answer on 127.0.0.1:$port within ${start_timeout}s (still running as pid $pid; log: $log_file; stop it with deploy/kafka.sh stop)"
}

start() {
  if broker_answers; then
    if pid_alive; then
      say "already running on 127.0.0.1:$port (pid $(cat "$pid_file"), log: $log_file)"
    else
      say "a broker already answers on 127.0.0.1:$port; using it"
    fi
    return 0
  fi
  need_tools
  mkdir -p "$cache"

  # Several test runs may start at once: one starts the broker, the others wait for it. (The JVM
  # does not inherit the lock's descriptor, so the lock ends with this script.)
  exec 9>"$lock_file"
  if command -v flock >/dev/null 2>&1; then
    flock -w "$start_timeout" 9 || die "timed out waiting for another deploy/kafka.sh start ($lock_file)"
  fi
  if broker_answers; then
    say "a broker already answers on 127.0.0.1:$port; using it"
    return 0
  fi
  if pid_alive; then
    say "broker pid $(cat "$pid_file") is running but not answering yet; waiting"
    wait_until_ready "$(cat "$pid_file")"
    say "ready on 127.0.0.1:$port (log: $log_file)"
    return 0
  fi
  if port_open; then
    die "something that is not a Kafka broker listens on 127.0.0.1:$port; free the port, set KAFKA_PORT, or set KAFKA_BROKERS=host:port for the tests"
  fi

  fetch_jars
  write_config
  format_storage

  [[ -f "$log_file" ]] && mv -f "$log_file" "$log_file.1"
  say "starting Kafka $kafka_version (KRaft) on 127.0.0.1:$port; log: $log_file"
  # setsid: the broker outlives this script and is not hit by a Ctrl-C in the terminal that started it.
  # (Started from a script without job control, the child is no process group leader, so setsid
  # execs in place and $! is the JVM's own pid.)
  # shellcheck disable=SC2086 # heap_opts is a list of JVM flags
  setsid java $heap_opts -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$kafka_dir/log4j.properties" \
    -cp "$libs/*" kafka.Kafka "$props" </dev/null >"$log_file" 2>&1 9>&- &
  local pid=$!
  echo "$pid" >"$pid_file"
  local t0=$SECONDS
  wait_until_ready "$pid"
  say "ready on 127.0.0.1:$port after $((SECONDS - t0))s (pid $pid; stop with: npm run kafka:stop)"
}

stop() {
  if ! pid_alive; then
    rm -f "$pid_file"
    if port_open; then
      say "no broker started by this script is running (something else serves 127.0.0.1:$port; left alone)"
    else
      say "not running"
    fi
    return 0
  fi
  local pid
  pid="$(cat "$pid_file")"
  say "stopping broker pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  say "stopped"
}

status() {
  if broker_answers; then
    if pid_alive; then
      say "running on 127.0.0.1:$port (pid $(cat "$pid_file"), started by this script; log: $log_file)"
    else
      say "a broker answers on 127.0.0.1:$port (not started by this script)"
    fi
    return 0
  fi
  if pid_alive; then
    say "pid $(cat "$pid_file") is running but does not answer on 127.0.0.1:$port yet (log: $log_file)"
    return 1
  fi
  say "not running"
  return 1
}

jars() {
  need_tools
  mkdir -p "$cache"
  exec 9>"$lock_file"
  if command -v flock >/dev/null 2>&1; then
    flock -w "$start_timeout" 9 || die "timed out waiting for another deploy/kafka.sh ($lock_file)"
  fi
  fetch_jars
  echo "$libs"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
jars) jars ;;
*)
  echo "usage: deploy/kafka.sh start|stop|status|jars" >&2
  exit 2
  ;;
esac
