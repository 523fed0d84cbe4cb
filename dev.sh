#!/usr/bin/env bash
# The project's two commands (and a third for benchmarks). Each installs what is missing,
# builds in Release with assertions kept on, then runs.
#
#   ./dev.sh run [ledgerd flags]   the ledger node (default: --data ./data --http 127.0.0.1:8080)
#   ./dev.sh test                  every test (ctest); LEDGER_CRASH_KILLS=200 for the long crash run
#   ./dev.sh sanitize address|thread [ctest flags]   the tests under ASan+UBSan or TSan
#   ./dev.sh bench [store_bench flags]   benchmarks (not part of the test run)
#   ./dev.sh bench http [flags]          the HTTP benchmark (wrk against ledgerd and an echo server)
#   ./dev.sh cluster [start | node a|b|p | stop]   broker, writer, standby and projector on one
#                                  machine (ports 8080-8082) to try a failover by hand
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config librocksdb-dev librdkafka-dev libflatbuffers-dev
          flatbuffers-compiler libcpprest-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev
          libgmock-dev libbenchmark-dev nlohmann-json3-dev kcat zlib1g-dev curl libjemalloc-dev)
BUILD_DIR=${BUILD_DIR:-build}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

# ---- ./dev.sh cluster: the docker-compose topology on one machine, for trying a failover ----
CLUSTER_DIR=${CLUSTER_DIR:-./cluster-data}
CLUSTER_PORT=${CLUSTER_PORT:-8080}  # writer a: PORT, standby b: PORT+1, projector p: PORT+2

cluster_node() {  # starts node a, b or p in the background (again, after a kill)
  local node=$1 bootstrap port role_flags=()
  bootstrap=$(cat "$CLUSTER_DIR/bootstrap")
  case "$node" in
    a) port=$CLUSTER_PORT
       role_flags=(--node-id site-a --peers "http://127.0.0.1:$((CLUSTER_PORT + 1))") ;;
    b) port=$((CLUSTER_PORT + 1))
       role_flags=(--node-id site-b --role standby --writer "http://127.0.0.1:$CLUSTER_PORT") ;;
    p) port=$((CLUSTER_PORT + 2))
       role_flags=(--node-id projector-1 --role projector --shards 0) ;;
    *) echo "nodes: a (writer), b (standby), p (projector)" >&2; exit 2 ;;
  esac
  if [ "$node" != p ]; then
    role_flags+=(--secrets-key-file "$CLUSTER_DIR/secrets.key" --failover-after-ms 1000 --resolve-after-s 30
                 --advertise-url "http://127.0.0.1:$port")
  fi
  "$BUILD_DIR/api/ledgerd" --data "$CLUSTER_DIR/$node" --http "127.0.0.1:$port" --kafka "$bootstrap" \
      "${role_flags[@]}" >>"$CLUSTER_DIR/$node.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/$node.pid"
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && { echo "node $node: http://127.0.0.1:$port (pid $(cat "$CLUSTER_DIR/$node.pid"))"; return 0; }
    sleep 0.1
  done
  echo "node $node did not come up; see $CLUSTER_DIR/$node.log" >&2
  return 1
}

cluster_stop() {  # by PID, nodes first, the broker last
  for f in a b p broker; do
    [ -f "$CLUSTER_DIR/$f.pid" ] || continue
    kill "$(cat "$CLUSTER_DIR/$f.pid")" 2>/dev/null || true
    rm -f "$CLUSTER_DIR/$f.pid"
  done
}

cluster() {
  case "${1:-start}" in
    start)
      install_missing
      build
      cluster_stop
      mkdir -p "$CLUSTER_DIR"
      if [ ! -f "$CLUSTER_DIR/secrets.key" ]; then
        (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_DIR/secrets.key")
      fi
      rm -f "$CLUSTER_DIR/bootstrap"
      "$BUILD_DIR/api/ledgerd" dev-broker --bootstrap-file "$CLUSTER_DIR/bootstrap" >>"$CLUSTER_DIR/broker.log" 2>&1 &
      echo $! >"$CLUSTER_DIR/broker.pid"
      for _ in $(seq 1 100); do [ -s "$CLUSTER_DIR/bootstrap" ] && break; sleep 0.1; done
      [ -s "$CLUSTER_DIR/bootstrap" ] || { echo "the dev broker did not start; see $CLUSTER_DIR/broker.log" >&2; exit 1; }
      echo "dev broker: $(cat "$CLUSTER_DIR/bootstrap") (pid $(cat "$CLUSTER_DIR/broker.pid"))"
      cluster_node a && cluster_node b && cluster_node p
      cat <<HELP
admin key: $CLUSTER_DIR/a/admin.key
try a failover:  kill -9 \$(cat $CLUSTER_DIR/a.pid)
  then:          curl -s http://127.0.0.1:$((CLUSTER_PORT + 1))/health/writer; curl -s http://127.0.0.1:$((CLUSTER_PORT + 1))/v1/status
old writer back: ./dev.sh cluster node a     (it finds it was deposed and follows)
stop it all:     ./dev.sh cluster stop
HELP
      ;;
    node) build; cluster_node "${2:-}" ;;
    stop) cluster_stop ;;
    *) echo "usage: ./dev.sh cluster [start | node a|b|p | stop]" >&2; exit 2 ;;
  esac
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run)
    install_missing
    build
    if [ $# -eq 0 ]; then set -- --data ./data --http 127.0.0.1:8080; fi
    exec "$BUILD_DIR/api/ledgerd" "$@"
    ;;
  test)
    # docker-compose checks docker-compose.yml (no Docker engine needed); iptables cuts one
    # node off from Kafka in a failover test (skipped where the sandbox forbids it).
    PACKAGES+=(docker-compose iptables)
    install_missing
    build
    cd "$BUILD_DIR"
    exec ctest --output-on-failure -j 2 --timeout 900
    ;;
  sanitize)
    # The tests built with a sanitizer, in build-address or build-thread (not part of the
    # default run: the build and the tests take several times longer). ctest flags pass on,
    # e.g. ./dev.sh sanitize address -R 'unit_tests'.
    kind=${1:-address}
    [ $# -gt 0 ] && shift
    case "$kind" in address | thread) ;; *) echo "usage: ./dev.sh sanitize address|thread [ctest flags]" >&2; exit 2 ;; esac
    PACKAGES+=(docker-compose iptables)
    install_missing
    dir=build-$kind
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEDGER_SANITIZE="$kind" -DLEDGER_BUILD_BENCH=OFF >/dev/null
    cmake --build "$dir" -j "$(nproc)"
    cd "$dir"
    # Any report fails the test that met it; the programs the tests start inherit these.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}:suppressions=$PWD/../tests/sanitizer/ubsan.supp
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}:suppressions=$PWD/../tests/sanitizer/tsan.supp
    if [ "$kind" = thread ] && [ $# -eq 0 ]; then
      # Debian's librdkafka starts its threads with C11 thrd_create, which ThreadSanitizer
      # does not intercept: the first allocation on such a thread (the mock cluster's, a
      # client's) crashes inside TSan's allocator. So every test that runs Kafka, and the
      # system and crash tests (their nodes start the embedded cluster), are left out.
      set -- -E '^(LogReader|KafkaClients|Publisher|PublisherWake|Lease|FastPath|ZombieWriter|TopicCheck|KeyringReplication|ReplayFromKafka|ReplicatedShardMonitor|Ledgerd|DevBroker|KafkaTools|HttpApi|LedgerReplay|Standby|Failover|PersonalData|Crash)\.'
    fi
    exec ctest --output-on-failure -j 2 --timeout 1800 "$@"
    ;;
  bench)
    if [ "${1:-}" = http ]; then
      shift
      PACKAGES+=(wrk python3)
      install_missing
      build
      exec tests/bench/http_bench.sh "$@"
    fi
    install_missing
    build
    exec "$BUILD_DIR/tests/store_bench" "$@"
    ;;
  cluster)
    cluster "$@"
    ;;
  *)
    echo "usage: ./dev.sh run [ledgerd flags] | test | sanitize address|thread | bench [flags] | cluster [start | node a|b|p | stop]" >&2
    exit 2
    ;;
esac
