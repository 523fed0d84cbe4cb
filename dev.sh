#!/usr/bin/env bash
# The project's two commands (and a third for benchmarks). Each installs what is missing,
# builds in Release with assertions kept on, then runs.
#
#   ./dev.sh run [ledgerd flags]   the ledger node (default: --data ./data --http 127.0.0.1:8080)
#   ./dev.sh test                  every test (ctest); LEDGER_CRASH_KILLS=200 for the long crash run
#   ./dev.sh bench [store_bench flags]   benchmarks (not part of the test run)
#   ./dev.sh bench http [flags]          the HTTP benchmark (wrk against ledgerd and an echo server)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config librocksdb-dev librdkafka-dev libflatbuffers-dev
          flatbuffers-compiler libcpprest-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev
          libgmock-dev libbenchmark-dev nlohmann-json3-dev kcat zlib1g-dev curl)
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
    install_missing
    build
    cd "$BUILD_DIR"
    exec ctest --output-on-failure -j 2 --timeout 900
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
  *)
    echo "usage: ./dev.sh run [ledgerd flags] | test | bench [flags]" >&2
    exit 2
    ;;
esac
