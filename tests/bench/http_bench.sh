#!/usr/bin/env bash
# The HTTP benchmark (issue 5): wrk over 32 connections posting orders, captures and
# batches to ledgerd (embedded Kafka cluster, ack replicated), and the same order body to
# a bare cpprestsdk echo server in the same run as the baseline. Prints req/s, p50, p99
# and the ratio to the echo. Usage (after a build):
#   tests/bench/http_bench.sh [--seconds N] [--connections N] [--runs N]
# Needs wrk, curl and python3 (./dev.sh bench http installs them). Ports are chosen free.
# --switches: instead, one orders run with the node's thread switches per request, by
# thread name (from /proc; the node names its threads), to see which stage wakes most.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
SECONDS_PER_RUN=10
CONNECTIONS=32
RUNS=1
SWITCHES=
while [ $# -gt 0 ]; do
  case "$1" in
    --switches) SWITCHES=1; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--connections N] [--runs N] [--switches]" >&2; exit 2 ;;
  esac
done
export WRK_SCRIPTS=$PWD/tests/bench/wrk
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; exit 1
}

ECHO_PORT=$(free_port)
"$BUILD_DIR/tests/http_echo_server" --port "$ECHO_PORT" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
NODE_PORT=$(free_port)
"$BUILD_DIR/api/ledgerd" --data "$WORK/data" --http "127.0.0.1:$NODE_PORT" --rate-limit-per-key 1000000 ${LEDGERD_FLAGS:-} \
  >"$WORK/ledgerd.log" 2>&1 &
PIDS+=($!)
NODE=http://127.0.0.1:$NODE_PORT
wait_http "$NODE/health/ready"
for _ in $(seq 1 100); do [ -s "$WORK/data/admin.key" ] && break; sleep 0.1; done
ADMIN=$(cat "$WORK/data/admin.key")
wait_http "http://127.0.0.1:$ECHO_PORT/"

call() {  # call METHOD PATH KEY BODY [IDEMPOTENCY-KEY]
  local extra=()
  [ $# -ge 5 ] && extra=(-H "Idempotency-Key: $5")
  curl -sf -X "$1" "$NODE$2" -H "Authorization: Bearer $3" -H "Content-Type: application/json" "${extra[@]}" -d "$4"
}
KEY=$(call POST /v1/keys "$ADMIN" '{"role":"merchant","merchant_id":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
call PUT /v1/merchant "$KEY" '{"settlement_currency":"USD"}' >/dev/null
call POST /v1/stores "$KEY" '{"store_id":"s1","name":"Bench","channel":"web"}' >/dev/null
call POST /v1/stores/s1/listings "$KEY" '{"sku":"sku-1","title":"Widget","price":2500,"currency":"USD","stock":1000000000000}' >/dev/null
call POST /v1/customers "$KEY" '{"customer_id":"c1","store_id":"s1"}' >/dev/null
# PAYMENTS large authorizations for the capture run (orders of 4,000,000 x 2500), so that
# each order gets few captures, as real ones do.
PAYMENTS=${PAYMENTS:-4000}
python3 - "$PAYMENTS" >"$WORK/setup.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
items = []
for i in range(1, n + 1):
    items.append({"method": "POST", "path": "/v1/orders", "body": {"order_id": f"big-{i}", "store_id": "s1",
                  "customer_id": "c1", "currency": "USD",
                  "lines": [{"sku": "sku-1", "quantity": 4000000, "unit_price": 2500}]}})
    items.append({"method": "POST", "path": "/v1/payments", "body": {"payment_id": f"big-{i}", "order_id": f"big-{i}",
                  "amount": 10000000000, "currency": "USD", "method": "card", "provider": "bench"}})
for b in range(0, len(items), 100):
    print(json.dumps({"items": items[b:b + 100]}))
PY
n=0
while read -r batch; do
  n=$((n + 1))
  call POST /v1/batch "$KEY" "$batch" "setup-$n" | python3 -c '
import json, sys
bad = [r for r in json.load(sys.stdin)["results"] if r["status"] >= 300]
if bad: sys.exit("set-up failed: " + json.dumps(bad[0])[:300])'
done <"$WORK/setup.jsonl"
export LEDGER_KEY=$KEY PAYMENTS

# wrk NAME URL SCRIPT: prints "NAME req/s p50_ms p99_ms non2xx"
run_wrk() {
  RUN="$RUN_ID" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WRK_SCRIPTS/$3" "$2" \
    >"$WORK/wrk.out" 2>"$WORK/wrk.err" || true
  python3 - "$1" "$WORK/wrk.out" <<'PY'
import re, sys
out = open(sys.argv[2]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        sys.exit("cannot read wrk's latency " + repr(v) + " in:\n" + out)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]
rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
if not rps:
    sys.exit("wrk printed no rate:\n" + out)
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
print(f"{sys.argv[1]} {float(rps.group(1)):.0f} {p50:.2f} {p99:.2f} {m.group(1) if m else 0}")
PY
  if [ -s "$WORK/wrk.err" ]; then head -3 "$WORK/wrk.err" >&2; fi
}

if [ -n "$SWITCHES" ]; then
  NODE_PID=${PIDS[1]}
  # "name switches" per thread name, voluntary + involuntary, summed over its threads.
  snapshot() {
    for t in /proc/"$NODE_PID"/task/*; do
      echo "$(tr ' ' _ <"$t/comm") $(awk '/ctxt_switches/ {s += $2} END {print s}' "$t/status")"
    done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
  }
  snapshot >"$WORK/before"
  RUN="$$-s" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WRK_SCRIPTS/orders.lua" "$NODE" >"$WORK/wrk.out"
  snapshot >"$WORK/after"
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
  echo "# POST /v1/orders over $CONNECTIONS connections for ${SECONDS_PER_RUN} s: $requests requests"
  join -a2 "$WORK/before" "$WORK/after" | awk -v n="$requests" '
    {d = NF == 3 ? $3 - $2 : $2; total += d; printf "%-16s %10d %8.2f per request\n", $1, d, d / n}
    END {printf "%-16s %10d %8.2f per request\n", "all threads", total, total / n}' | sort -k2 -n -r
  exit 0
fi

ITEMS=${ITEMS:-50}
export ITEMS
echo "# wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s; ledgerd with the embedded 3-broker cluster, ack replicated"
printf "%-10s %10s %9s %9s %8s\n" run "req/s" "p50 ms" "p99 ms" "non-2xx"
for r in $(seq 1 "$RUNS"); do
  RUN_ID="$$-$r"
  for spec in "echo http://127.0.0.1:$ECHO_PORT orders.lua" "orders $NODE orders.lua" "captures $NODE captures.lua" \
              "batch $NODE batch.lua"; do
    set -- $spec
    line=$(run_wrk "$1" "$2" "$3")
    echo "$line" >>"$WORK/results.txt"
    set -- $line
    printf "%-10s %10s %9s %9s %8s\n" "$1" "$2" "$3" "$4" "$5"
  done
done
python3 - "$WORK/results.txt" "$ITEMS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, bad = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
echo = med["echo"][0]
print("\n# medians over runs, ratio = req/s / echo req/s (target >= 0.60 with p99 <= 15 ms)")
for k in ("orders", "captures"):
    rps, p50, p99 = med[k]
    print(f"{k:10s} {rps:10.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  ratio {rps / echo:.2f}")
rps, p50, p99 = med["batch"]
items = int(sys.argv[2])
print(f"batch      {rps:10.0f} req/s of {items} orders = {rps * items:.0f} orders/s = {rps * items * 2:.0f} events/s  p99 {p99:.2f} ms")
print(f"echo       {echo:10.0f} req/s  p50 {med['echo'][1]:.2f} ms  p99 {med['echo'][2]:.2f} ms")
PY
