#!/usr/bin/env bash
# Instructions per call, counted by valgrind (cachegrind): the same three targets as
# benches/compare.sh (the bare tonic health server, elevator's health, elevator's Check on a
# cache hit, 10 grants, one rule), each server started under cachegrind twice and sent N1, then
# N2, requests by h2load with the same headers (the bearer token included); the difference of
# the two totals over N2 - N1 is what one call costs, start-up and seeding cancelled out.
#
# Throughput and CPU time on a shared VM move by ±20% between minutes (other tenants steal the
# cores); a count of instructions does not, so a change is compared by it: run the script on
# the build before and after, or give two builds at once:
#
#   benches/instructions.sh                                # the binaries of this tree (built here)
#   BUILDS="/tmp/before /tmp/after" benches/instructions.sh   # directories holding elevator and bare_tonic
#   N1=2000 N2=12000 TARGETS="bare health check" (the defaults)
#
# What it leaves out: the kernel's share of a call (the socket reads and writes, the same for
# every target), so the ratios it prints are larger than the ratios of CPU time.
# Needs valgrind (apt install valgrind) and h2load (apt install nghttp2-client).
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-2000}
N2=${N2:-12000}
TARGETS=${TARGETS:-bare health check}
ELEVATOR_PORT=${ELEVATOR_PORT:-55051}
ADMIN_PORT=${ADMIN_PORT:-59090}
BARE_PORT=${BARE_PORT:-55061}

# shellcheck source=benches/common.sh
source benches/common.sh
need valgrind "apt install valgrind"
need h2load "apt install nghttp2-client"
need python3 "apt install python3"

use_workspace
cargo build --release --quiet --bins
if [ -z "${BUILDS:-}" ]; then
  # This tree's build, copied: later builds must not change it under a run.
  mkdir "$work/build"
  cp target/release/elevator "$work/build/"
  cp "$(bench_binary bare_tonic)" "$work/build/bare_tonic"
  BUILDS=$work/build
fi
LOADER=target/release/elevator-loadtest
export ELEVATOR_STATE_DIR="$work/state"
export ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000

# Under valgrind a server takes up to a minute to answer.
serving() { # url
  WAIT_TRIES=600 wait_for "$LOADER" --server "$1" --mode health --verify
}

"$LOADER" --mode health --emit-body "$work/health.bin" >/dev/null
token=

# The total instructions of one server run that answered `requests` calls of `target`, in
# $counted (not printed: run in this shell, so that the exit trap knows the server in $pids).
counted=
instructions() { # build target requests
  local build=$1 target=$2 requests=$3
  local out=$work/cachegrind.out
  local url body
  rm -rf "$work/state" "$out"
  if [ "$target" = bare ]; then
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
      "$build/bare_tonic" "127.0.0.1:$BARE_PORT" >/dev/null 2>"$work/valgrind.log" &
    server=$!
    pids+=("$server")
    serving "http://127.0.0.1:$BARE_PORT"
    url=http://127.0.0.1:$BARE_PORT/grpc.health.v1.Health/Check
    body=$work/health.bin
  else
    local at=http://127.0.0.1:$ELEVATOR_PORT
    ELEVATOR_ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT RUST_LOG=warn \
      valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
      "$build/elevator" serve --listen "127.0.0.1:$ELEVATOR_PORT" --policy benches/policy.yaml \
      >/dev/null 2>"$work/valgrind.log" &
    server=$!
    pids+=("$server")
    serving "$at"
    "$LOADER" --server "$at" --seed-grants --subjects 100 --grants-per-subject 10 \
      --duration 1s --warmup 0s --quiet >/dev/null
    token=$("$LOADER" --server "$at" --mode check --emit-body "$work/check.bin")
    "$LOADER" --server "$at" --mode check --verify >/dev/null
    if [ "$target" = health ]; then
      url=$at/grpc.health.v1.Health/Check
      body=$work/health.bin
    else
      url=$at/elevator.v1.CheckService/Check
      body=$work/check.bin
    fi
  fi
  # The bare server ignores the token, but receives one of the same length: decoding it is
  # part of every call.
  [ -n "$token" ] || token=$(head -c 174 /dev/urandom | base64 -w0 | tr '+/' '-_' | head -c 232)
  h2load -t 1 -c 16 -m 32 -H 'content-type: application/grpc' -H 'te: trailers' \
    -H "authorization: Bearer $token" -d "$body" -n "$requests" "$url" >"$work/h2load.txt" 2>&1
  grep -q " 0 failed, 0 errored" "$work/h2load.txt" || { echo "$target: failures" >&2; cat "$work/h2load.txt" >&2; exit 1; }
  kill -INT "$server"
  wait "$server" || true
  counted=$(awk '/^summary:/ {print $2}' "$out")
  [ -n "$counted" ] || { echo "no count in $out" >&2; exit 1; }
}

declare -A per_call
for build in $BUILDS; do
  for target in $TARGETS; do
    instructions "$build" "$target" "$N1"
    few=$counted
    instructions "$build" "$target" "$N2"
    many=$counted
    per_call[$build.$target]=$(awk -v a="$few" -v b="$many" -v n=$((N2 - N1)) 'BEGIN {printf "%.0f", (b - a) / n}')
    printf '%-24s %-7s %8s instructions per call\n' "$build" "$target" "${per_call[$build.$target]}"
  done
done
echo
for build in $BUILDS; do
  bare=${per_call[$build.bare]:-}
  [ -n "$bare" ] || continue
  for target in health check; do
    value=${per_call[$build.$target]:-}
    [ -n "$value" ] || continue
    awk -v a="$value" -v b="$bare" -v label="$build $target / bare:" 'BEGIN {printf "%-40s %6.3f\n", label, a / b}'
  done
done
