#!/usr/bin/env bash
# CPU per call of builds side by side, in one run: the bare tonic health server and one
# elevator server per build, all pinned to core 0 and idle but for the target being measured;
# h2load on core 1 sends each target REQUESTS calls in turn (health, then Check on a cache hit,
# 10 grants, one rule, for every build), ROUNDS times, interleaved. A call's CPU is the
# server's user + system time over those calls (from /proc), and each figure is compared with
# the bare server's in the same round, so a noisy minute on a shared VM hits both sides of a
# ratio; the medians of the per-round ratios are printed.
#
#   BUILDS="/tmp/before /tmp/after" benches/cpu_per_call.sh   # directories holding an elevator binary
#   benches/cpu_per_call.sh                                   # this tree's build alone
#   ROUNDS=3 REQUESTS=200000 (the defaults)
#
# Needs h2load (apt install nghttp2-client) and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
BARE_PORT=${BARE_PORT:-55061}
FIRST_PORT=${FIRST_PORT:-55071}

# shellcheck source=benches/common.sh
source benches/common.sh
need h2load "apt install nghttp2-client"
need taskset "apt install util-linux"

cargo build --release --quiet --bins
BARE=$(bench_binary bare_tonic)
BUILDS=${BUILDS:-target/release}
LOADER=target/release/elevator-loadtest
use_workspace
export ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000

serving() { # url
  wait_for "$LOADER" --server "$1" --mode health --verify
}

declare -A pid_of url_of body_of token_of
taskset -c 0 "$BARE" "127.0.0.1:$BARE_PORT" >/dev/null 2>&1 &
pids+=($!)
pid_of[bare]=$!
serving "http://127.0.0.1:$BARE_PORT"
"$LOADER" --mode health --emit-body "$work/health.bin" >/dev/null
url_of[bare]=http://127.0.0.1:$BARE_PORT/grpc.health.v1.Health/Check
body_of[bare]=$work/health.bin

targets=(bare)
port=$FIRST_PORT
index=0
for build in $BUILDS; do
  index=$((index + 1))
  at=http://127.0.0.1:$port
  state=$work/state-$index
  ELEVATOR_STATE_DIR=$state ELEVATOR_ADMIN_LISTEN=127.0.0.1:$((port + 1000)) RUST_LOG=warn \
    taskset -c 0 "$build/elevator" serve --listen "127.0.0.1:$port" --policy benches/policy.yaml \
    >"$work/elevator-$index.log" 2>&1 &
  pids+=($!)
  serving "$at"
  ELEVATOR_STATE_DIR=$state taskset -c 1 "$LOADER" --server "$at" --seed-grants --subjects 100 \
    --grants-per-subject 10 --duration 1s --warmup 0s --quiet >/dev/null
  token=$(ELEVATOR_STATE_DIR=$state "$LOADER" --server "$at" --mode check --emit-body "$work/check-$index.bin")
  ELEVATOR_STATE_DIR=$state "$LOADER" --server "$at" --mode check --verify >/dev/null
  for kind in health check; do
    name="$build:$kind"
    targets+=("$name")
    pid_of[$name]=${pids[-1]}
    token_of[$name]=$token
  done
  url_of[$build:health]=$at/grpc.health.v1.Health/Check
  body_of[$build:health]=$work/health.bin
  url_of[$build:check]=$at/elevator.v1.CheckService/Check
  body_of[$build:check]=$work/check-$index.bin
  port=$((port + 1))
done
# The bare server ignores the token but gets one of the same length: decoding it is part of a call.
token_of[bare]=${token_of[${targets[1]}]}

hz=$(getconf CLK_TCK)
declare -A runs
for round in $(seq 1 "$ROUNDS"); do
  for name in "${targets[@]}"; do
    before=$(cpu_ticks "${pid_of[$name]}")
    out=$(taskset -c 1 h2load -t 1 -c 16 -m 32 -H 'content-type: application/grpc' -H 'te: trailers' \
      -H "authorization: Bearer ${token_of[$name]}" -d "${body_of[$name]}" -n "$REQUESTS" "${url_of[$name]}" 2>&1)
    after=$(cpu_ticks "${pid_of[$name]}")
    echo "$out" | grep -q " 0 failed, 0 errored" || { echo "$name: failures" >&2; echo "$out" >&2; exit 1; }
    runs[$round:$name]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$REQUESTS" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    printf 'round %d  %-36s %6s us per call\n' "$round" "$name" "${runs[$round:$name]}"
  done
done
echo
for name in "${targets[@]}"; do
  cpu=$(for round in $(seq 1 "$ROUNDS"); do echo "${runs[$round:$name]}"; done | median)
  ratio=$(for round in $(seq 1 "$ROUNDS"); do
    awk -v a="${runs[$round:$name]}" -v b="${runs[$round:bare]}" 'BEGIN {printf "%.3f\n", a / b}'
  done | median)
  printf '%-36s median %6s us per call, %s x bare (median of the rounds)\n' "$name" "$cpu" "$ratio"
done
