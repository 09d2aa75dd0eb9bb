#!/usr/bin/env bash
# Side by side, one load method, one machine:
#   1. bare: the floor, a bare tonic server of elevator's tonic version answering only
#      grpc.health.v1.Health/Check (benches/bare_tonic.rs: tonic-health and nothing else, the
#      same HTTP/2 settings, allocator and socket options as elevator's gRPC port);
#   2. health: the same call on elevator's own server, through the layers every call passes
#      (what every call pays: target >= 0.95 x bare);
#   3. check: elevator.v1.CheckService/Check on a cache hit, the subject holding 10 grants, the
#      deciding one passing a rule (benches/policy.yaml): target >= 0.8 x bare throughput,
#      p99 at the fixed rate <= 1.2 x bare's;
#   4. logged: the same Check on a second elevator that logs every decision (the decision
#      log's cost);
#   5. cerbos: the same question asked of Cerbos PDP through its gRPC CheckResources
#      (benches/cerbos/purchase_order.yaml), when Cerbos is installed.
# The server under test is pinned to core 0 and the load to core 1. Saturation: h2load with a
# pre-encoded gRPC body, the neutral method (it does not read grpc-status, so each target is
# first asked once by `elevator-loadtest --verify`, a real gRPC client that does). Latency at a
# fixed rate: `elevator-loadtest --rate`, an open loop that times each request from when it was
# due (h2load's --rps sends in bursts, which measures its own scheduling, not the server).
# CPU per call: the server's user + system CPU time (from /proc) over a fixed number of
# h2load requests, divided by that number. Unlike throughput it hardly moves when other work
# shares the machine, so it is the figure to compare changes by on a busy machine.
#
#   benches/compare.sh                 # needs h2load (apt nghttp2-client); Cerbos optional
#   RATE=5000 SECONDS_EACH=10 REPEATS=3 benches/compare.sh
#   REPEATS=1 SECONDS_EACH=4 SKIP_CERBOS=1 benches/compare.sh     # a quick look
#   TARGETS="bare health check" benches/compare.sh                 # a subset
#   CPU_REQUESTS=200000 (the fixed number of requests for CPU per call; 0 skips it)
#   SKIP_BUILD=1 ELEVATOR_BIN=/tmp/a/elevator BARE_BIN=/tmp/a/bare_tonic benches/compare.sh
#                       # A/B: binaries built elsewhere (the load tester is target/release's)
#
# Cerbos: `npm install cerbos` in the repository (node_modules/.bin/cerbos), a `cerbos` on the
# PATH, or CERBOS=/path/to/cerbos; when none is found (or SKIP_CERBOS=1) its row is skipped.
# Results go to BENCHMARKS.md by hand, with the machine they came from.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-5000}
SECONDS_EACH=${SECONDS_EACH:-10}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-32}
CPU_REQUESTS=${CPU_REQUESTS:-200000}
ELEVATOR_PORT=${ELEVATOR_PORT:-55051}
ADMIN_PORT=${ADMIN_PORT:-59090}
CERBOS_PORT=${CERBOS_PORT:-53593}
BARE_PORT=${BARE_PORT:-55061}
TARGETS=${TARGETS:-bare health check logged cerbos}

# shellcheck source=benches/common.sh
source benches/common.sh
need h2load "apt install nghttp2-client"
need taskset "apt install util-linux"
need python3 "apt install python3"
wanted() { [[ " $TARGETS " == *" $1 "* ]]; }

if wanted cerbos; then
  CERBOS=${CERBOS:-$(command -v cerbos || echo node_modules/.bin/cerbos)}
  if [ "${SKIP_CERBOS:-0}" = 1 ]; then
    echo "==> skipping Cerbos (SKIP_CERBOS=1)"
    TARGETS=${TARGETS/cerbos/}
  elif [ ! -x "$CERBOS" ]; then
    echo "==> skipping Cerbos: no cerbos found (npm install cerbos here, or set CERBOS=/path/to/cerbos)"
    TARGETS=${TARGETS/cerbos/}
  fi
fi
read -r -a names <<<"$TARGETS"
[ "${#names[@]}" -gt 0 ] || { echo "TARGETS names none of: bare health check logged cerbos" >&2; exit 2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "==> building elevator, elevator-loadtest and the bare tonic server (release)"
  cargo build --release --quiet --bins
fi
# The bench target's binary has a hashed name: ask cargo for it.
BARE=${BARE_BIN:-$(bench_binary bare_tonic)}
[ -x "$BARE" ] || { echo "could not find the bare_tonic bench binary" >&2; exit 1; }
ELEVATOR=${ELEVATOR_BIN:-target/release/elevator}
LOADER=target/release/elevator-loadtest
use_workspace
export ELEVATOR_STATE_DIR="$work/state"
# Seeding approves every grant as one manager: lift the per-caller write rate for the run.
export ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000
load() { taskset -c 1 "$@"; }

declare -A url body server_pid verify_mode verify_server
target=http://127.0.0.1:$ELEVATOR_PORT
logged=http://127.0.0.1:$((ELEVATOR_PORT + 1))
bare=http://127.0.0.1:$BARE_PORT
cerbos=http://127.0.0.1:$CERBOS_PORT

echo "==> bare tonic health server (core 0)"
taskset -c 0 "$BARE" "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 &
pids+=($!)
server_pid[bare]=$!
wait_for "$LOADER" --server "$bare" --mode health --verify

echo "==> elevator (dev mode, core 0) with benches/policy.yaml"
ELEVATOR_ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT RUST_LOG=warn \
  taskset -c 0 "$ELEVATOR" serve --listen "127.0.0.1:$ELEVATOR_PORT" --policy benches/policy.yaml \
  >"$work/elevator.log" 2>&1 &
pids+=($!)
server_pid[health]=$!
server_pid[check]=$!
wait_for "$LOADER" --server "$target" --mode health --verify
seeded=("$target")
if wanted logged; then
  echo "==> the same, logging every decision (decision_log.sample_allows 1), on another port"
  ELEVATOR_ADMIN_LISTEN=127.0.0.1:$((ADMIN_PORT + 1)) RUST_LOG=warn ELEVATOR_DECISION_LOG_ENABLED=true \
    ELEVATOR_DECISION_LOG_SAMPLE_ALLOWS=1 ELEVATOR_DECISION_LOG_PATH="$work/decisions.jsonl" \
    taskset -c 0 "$ELEVATOR" serve --listen "127.0.0.1:$((ELEVATOR_PORT + 1))" --policy benches/policy.yaml \
    >"$work/elevator-logged.log" 2>&1 &
  pids+=($!)
  server_pid[logged]=$!
  wait_for "$LOADER" --server "$logged" --mode health --verify
  seeded+=("$logged")
fi
echo "==> seeding 100 subjects x 10 grants (${seeded[*]})"
for server in "${seeded[@]}"; do
  load "$LOADER" --server "$server" --seed-grants --subjects 100 --grants-per-subject 10 \
    --duration 1s --warmup 0s --quiet >/dev/null
done

if wanted cerbos; then
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
  server_pid[cerbos]=$!
  wait_for "$LOADER" --server "$cerbos" --mode cerbos --verify
  "$LOADER" --mode cerbos --emit-body "$work/cerbos.bin" >/dev/null
fi

pep=$("$LOADER" --server "$target" --mode check --emit-body "$work/check.bin")
"$LOADER" --mode health --emit-body "$work/health.bin" >/dev/null

url[bare]=$bare/grpc.health.v1.Health/Check
url[health]=$target/grpc.health.v1.Health/Check
url[check]=$target/elevator.v1.CheckService/Check
url[logged]=$logged/elevator.v1.CheckService/Check
url[cerbos]=$cerbos/cerbos.svc.v1.CerbosService/CheckResources
body[bare]=$work/health.bin
body[health]=$work/health.bin
body[check]=$work/check.bin
body[logged]=$work/check.bin
body[cerbos]=$work/cerbos.bin
verify_mode=([bare]=health [health]=health [check]=check [logged]=check [cerbos]=cerbos)
verify_server=([bare]=$bare [health]=$target [check]=$target [logged]=$logged [cerbos]=$cerbos)

# Every target gets the same headers, the bearer token included (the bare server ignores it).
h2() { # name, extra h2load flags...
  local name=$1; shift
  load h2load -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
    -H "authorization: Bearer $pep" -d "${body[$name]}" "$@" "${url[$name]}"
}


# The server's user + system CPU time so far, in clock ticks.
TICKS_PER_SECOND=$(getconf CLK_TCK)

for name in "${names[@]}"; do
  echo "==> $name: verify with a gRPC client"
  "$LOADER" --server "${verify_server[$name]}" --mode "${verify_mode[$name]}" --verify
done

# Each measurement $REPEATS times, the targets interleaved so that a noisy minute on the
# machine does not land on one target only; the median of each is reported.
declare -A saturated_runs p50_runs p99_runs cpu_runs saturated p50 p99 cpu
for round in $(seq 1 "$REPEATS"); do
  for name in "${names[@]}"; do
    echo "==> round $round, $name: saturated, $CLIENTS connections x $STREAMS streams, ${SECONDS_EACH}s"
    out=$(h2 "$name" -c "$CLIENTS" -m "$STREAMS" -D "$SECONDS_EACH" --warm-up-time 2)
    echo "$out" | grep -E "^(finished|requests)"
    if ! echo "$out" | grep -q " 0 failed, 0 errored"; then echo "$name: failures" >&2; exit 1; fi
    saturated_runs[$name]+=" $(echo "$out" | sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p')"
    if [ "$CPU_REQUESTS" -gt 0 ]; then
      before=$(cpu_ticks "${server_pid[$name]}")
      out=$(h2 "$name" -c "$CLIENTS" -m "$STREAMS" -n "$CPU_REQUESTS")
      after=$(cpu_ticks "${server_pid[$name]}")
      if ! echo "$out" | grep -q " 0 failed, 0 errored"; then echo "$name: failures" >&2; exit 1; fi
      one_cpu=$(awk -v t=$((after - before)) -v hz="$TICKS_PER_SECOND" -v n="$CPU_REQUESTS" \
        'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
      echo "CPU per call: ${one_cpu} us over $CPU_REQUESTS requests"
      cpu_runs[$name]+=" $one_cpu"
    fi
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
  cpu[$name]=$(echo "${cpu_runs[$name]:--}" | tr ' ' '\n' | grep . | median)
done

echo
printf '%-8s %14s %14s %12s %13s   (medians of %s runs)\n' target "saturated/s" "p50 @$RATE/s" \
  "p99 @$RATE/s" "CPU us/call" "$REPEATS"
for name in "${names[@]}"; do
  printf '%-8s %14.0f %12sms %10sms %13s\n' "$name" "${saturated[$name]}" "${p50[$name]}" \
    "${p99[$name]}" "${cpu[$name]}"
done
echo
ratio() { # label, numerator target, denominator target, name of the values, the target
  local -n values=$4
  local a=${values[$2]:-} b=${values[$3]:-}
  [[ "$a" =~ ^[0-9.]+$ && "$b" =~ ^[0-9.]+$ ]] || return 0
  awk -v a="$a" -v b="$b" -v label="$1" -v goal="$5" 'BEGIN {printf "%-46s %6.2f  %s\n", label, a / b, goal}'
}
ratio "health / bare throughput:" health bare saturated "(target >= 0.95)"
ratio "check / bare throughput:" check bare saturated "(target >= 0.8)"
ratio "check / bare p99 at the fixed rate:" check bare p99 "(target <= 1.2)"
ratio "health / bare CPU per call:" health bare cpu "(at most 1 / 0.95 = 1.05 for the target)"
ratio "check / bare CPU per call:" check bare cpu "(at most 1 / 0.8 = 1.25 for the target)"
ratio "check / health throughput:" check health saturated ""
ratio "check / cerbos throughput:" check cerbos saturated "(target >= 8)"
ratio "decision log on / off, throughput:" logged check saturated ""
ratio "decision log on / off, p99 at the fixed rate:" logged check p99 ""
