#!/usr/bin/env bash
# Side by side, one load method, one machine:
#   1. the floor: grpc.health.v1.Health/Check on elevator's own server (the cheapest unary
#      call its stack answers, through the same layers as every call);
#   2. elevator.v1.CheckService/Check on a cache hit, the subject holding 10 grants, the
#      deciding one passing a rule (benches/policy.yaml);
#   3. the same Check on a second elevator that logs every decision (the decision log's cost);
#   4. the same question asked of Cerbos PDP through its gRPC CheckResources
#      (benches/cerbos/purchase_order.yaml).
# The server under test is pinned to core 0 and the load to core 1. Saturation: h2load with a
# pre-encoded gRPC body, the neutral method (it does not read grpc-status, so each target is
# first asked once by `elevator-loadtest --verify`, a real gRPC client that does). Latency at a
# fixed rate: `elevator-loadtest --rate`, an open loop that times each request from when it was
# due (h2load's --rps sends in bursts, which measures its own scheduling, not the server).
#
#   benches/compare.sh                 # needs h2load (apt nghttp2-client), cerbos (npm install cerbos)
#   RATE=5000 SECONDS_EACH=10 REPEATS=3 benches/compare.sh
#
# Results go to BENCHMARKS.md by hand, with the machine they came from.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-5000}
SECONDS_EACH=${SECONDS_EACH:-10}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-32}
ELEVATOR_PORT=${ELEVATOR_PORT:-55051}
ADMIN_PORT=${ADMIN_PORT:-59090}
CERBOS_PORT=${CERBOS_PORT:-53593}

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 2; }; }
need h2load "apt install nghttp2-client"
need taskset "apt install util-linux"
CERBOS=${CERBOS:-$(command -v cerbos || echo node_modules/.bin/cerbos)}
[ -x "$CERBOS" ] || { echo "missing cerbos: npm install cerbos (or set CERBOS)" >&2; exit 2; }

cargo build --release --quiet
ELEVATOR=target/release/elevator
LOADER=target/release/elevator-loadtest
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export ELEVATOR_STATE_DIR="$work/state"
# Seeding approves every grant as one manager: lift the per-caller write rate for the run.
export ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000
load() { taskset -c 1 "$@"; }

wait_for() { # command...
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; exit 1
}

echo "==> elevator (dev mode, core 0) with benches/policy.yaml"
ELEVATOR_ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT RUST_LOG=warn \
  taskset -c 0 "$ELEVATOR" serve --listen "127.0.0.1:$ELEVATOR_PORT" --policy benches/policy.yaml \
  >"$work/elevator.log" 2>&1 &
pids+=($!)
target=http://127.0.0.1:$ELEVATOR_PORT
wait_for "$LOADER" --server "$target" --mode health --verify
echo "==> the same, logging every decision (decision_log.sample_allows 1), on another port"
ELEVATOR_ADMIN_LISTEN=127.0.0.1:$((ADMIN_PORT + 1)) RUST_LOG=warn ELEVATOR_DECISION_LOG_ENABLED=true \
  ELEVATOR_DECISION_LOG_SAMPLE_ALLOWS=1 ELEVATOR_DECISION_LOG_PATH="$work/decisions.jsonl" \
  taskset -c 0 "$ELEVATOR" serve --listen "127.0.0.1:$((ELEVATOR_PORT + 1))" --policy benches/policy.yaml \
  >"$work/elevator-logged.log" 2>&1 &
pids+=($!)
logged=http://127.0.0.1:$((ELEVATOR_PORT + 1))
wait_for "$LOADER" --server "$logged" --mode health --verify
echo "==> seeding 100 subjects x 10 grants (both)"
for server in "$target" "$logged"; do
  load "$LOADER" --server "$server" --seed-grants --subjects 100 --grants-per-subject 10 \
    --duration 1s --warmup 0s --quiet >/dev/null
done

echo "==> Cerbos $("$CERBOS" --version 2>/dev/null | head -1) (core 0)"
mkdir -p "$work/cerbos"
cp benches/cerbos/purchase_order.yaml "$work/cerbos/"
cat >"$work/cerbos.yaml" <<EOF
server:
  httpListenAddr: "127.0.0.1:$((CERBOS_PORT - 1))"
  grpcListenAddr: "127.0.0.1:$CERBOS_PORT"
storage:
  driver: disk
  disk:
    directory: $work/cerbos
    watchForChanges: false
telemetry:
  disabled: true
audit:
  enabled: false
EOF
CERBOS_NO_TELEMETRY=1 taskset -c 0 "$CERBOS" server --config="$work/cerbos.yaml" >"$work/cerbos.log" 2>&1 &
pids+=($!)
wait_for "$LOADER" --server "http://127.0.0.1:$CERBOS_PORT" --mode cerbos --verify

pep=$("$LOADER" --server "$target" --mode check --emit-body "$work/check.bin")
"$LOADER" --mode health --emit-body "$work/health.bin" >/dev/null
"$LOADER" --mode cerbos --emit-body "$work/cerbos.bin" >/dev/null

names=(health check logged cerbos)
declare -A url body
url[health]=$target/grpc.health.v1.Health/Check
url[check]=$target/elevator.v1.CheckService/Check
url[logged]=$logged/elevator.v1.CheckService/Check
url[cerbos]=http://127.0.0.1:$CERBOS_PORT/cerbos.svc.v1.CerbosService/CheckResources
body[health]=$work/health.bin
body[check]=$work/check.bin
body[logged]=$work/check.bin
body[cerbos]=$work/cerbos.bin
declare -A verify_mode=([health]=health [check]=check [logged]=check [cerbos]=cerbos)
declare -A verify_server=([health]=$target [check]=$target [logged]=$logged [cerbos]=http://127.0.0.1:$CERBOS_PORT)

h2() { # name, extra h2load flags...
  local name=$1; shift
  load h2load -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
    -H "authorization: Bearer $pep" -d "${body[$name]}" "$@" "${url[$name]}"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for name in "${names[@]}"; do
  echo "==> $name: verify with a gRPC client"
  "$LOADER" --server "${verify_server[$name]}" --mode "${verify_mode[$name]}" --verify
done

# Each measurement $REPEATS times, the targets interleaved so that a noisy minute on the
# machine does not land on one target only; the median of each is reported.
declare -A saturated_runs p50_runs p99_runs saturated p50 p99
for round in $(seq 1 "$REPEATS"); do
  for name in "${names[@]}"; do
    echo "==> round $round, $name: saturated, $CLIENTS connections x $STREAMS streams, ${SECONDS_EACH}s"
    out=$(h2 "$name" -c "$CLIENTS" -m "$STREAMS" -D "$SECONDS_EACH" --warm-up-time 2)
    echo "$out" | grep -E "^(finished|requests)"
    if ! echo "$out" | grep -q " 0 failed, 0 errored"; then echo "$name: failures" >&2; exit 1; fi
    saturated_runs[$name]+=" $(echo "$out" | sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p')"
    echo "==> round $round, $name: $RATE req/s for ${SECONDS_EACH}s (open loop)"
    load "$LOADER" --server "${verify_server[$name]}" --output json \
      --mode "${verify_mode[$name]}" --subjects 100 --grants-per-subject 10 --rate "$RATE" \
      --duration "${SECONDS_EACH}s" --warmup 2s --quiet >"$work/$name.json"
    read -r one_p50 one_p99 < <(python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
assert not report["errors"], report["errors"]
latency = report["reads"]["latency_us"]
print("%.3f %.3f" % (latency["p50"] / 1000, latency["p99"] / 1000))' "$work/$name.json")
    echo "p50 ${one_p50}ms p99 ${one_p99}ms"
    p50_runs[$name]+=" $one_p50"
    p99_runs[$name]+=" $one_p99"
  done
done
for name in "${names[@]}"; do
  saturated[$name]=$(echo "${saturated_runs[$name]}" | tr ' ' '\n' | grep . | median)
  p50[$name]=$(echo "${p50_runs[$name]}" | tr ' ' '\n' | grep . | median)
  p99[$name]=$(echo "${p99_runs[$name]}" | tr ' ' '\n' | grep . | median)
done

echo
printf '%-8s %14s %14s %12s   (medians of %s runs)\n' target "saturated/s" "p50 @$RATE/s" "p99 @$RATE/s" "$REPEATS"
for name in "${names[@]}"; do
  printf '%-8s %14.0f %12sms %10sms\n' "$name" "${saturated[$name]}" "${p50[$name]}" "${p99[$name]}"
done
awk -v c="${saturated[check]}" -v h="${saturated[health]}" -v x="${saturated[cerbos]}" \
  -v cp="${p99[check]}" -v hp="${p99[health]}" -v l="${saturated[logged]}" -v lp="${p99[logged]}" 'BEGIN {
    printf "\ncheck / health throughput: %.2f (target >= 0.8)\n", c / h
    printf "check / health p99 at the fixed rate: %.2f (target <= 1.2)\n", cp / hp
    printf "check / cerbos throughput: %.1fx (target >= 8)\n", c / x
    printf "decision log on / off: throughput %.2f, p99 at the fixed rate %.2f\n", l / c, lp / cp
  }'
