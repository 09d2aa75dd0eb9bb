#!/usr/bin/env bash
# The AuthZEN evaluation over HTTP beside gRPC Check on the same question, one load method,
# one machine (issue 14, part 6: an HTTP evaluation within 1.5x the cost of a gRPC Check):
#   1. bare_tonic: the gRPC floor, a bare tonic server answering grpc.health.v1.Health/Check
#      (benches/bare_tonic.rs, as in compare.sh);
#   2. bare_hyper: the HTTP floor, a bare hyper server reading the body and answering
#      {"decision":true} (benches/bare_hyper.rs);
#   3. check: elevator.v1.CheckService/Check on a cache hit, the subject holding 10 grants, the
#      deciding one passing a rule (benches/policy.yaml), exactly as compare.sh asks it;
#   4. evaluation: POST /access/v1/evaluation, the same question in AuthZEN's shape (the same
#      subject, session and permission; the resource a `po` whose directory entry places it at
#      the Check's scope), on the same server's HTTP port;
#   5. batch: POST /access/v1/evaluations, ten such questions (ten purchase orders in the same
#      department) in one request.
# Every target but bare_hyper (HTTP/1.1 only, asked with h2load --h1) is asked over h2c (HTTP/2
# without TLS) by h2load, 16 connections x 32 streams,
# the server pinned to core 0 and the load to core 1. Each target is first asked once by a
# client that reads the answer (elevator-loadtest --verify for gRPC, curl for HTTP: the
# decisions must be true). Figures: saturated throughput, and CPU per call: the server's user +
# system CPU time (from /proc) over a fixed number of requests, divided by that number (the
# steadier figure on a shared machine). Each is the median of REPEATS runs, the targets
# interleaved.
#
#   benches/authzen.sh                                   # needs h2load (apt nghttp2-client), curl
#   REPEATS=1 SECONDS_EACH=4 CPU_REQUESTS=100000 benches/authzen.sh     # a quick look
#   TARGETS="check evaluation batch" SKIP_BUILD=1 benches/authzen.sh   # the binaries built already
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${SECONDS_EACH:-10}
REPEATS=${REPEATS:-3}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-32}
CPU_REQUESTS=${CPU_REQUESTS:-200000}
ELEVATOR_PORT=${ELEVATOR_PORT:-56051}
HTTP_PORT=${HTTP_PORT:-56080}
ADMIN_PORT=${ADMIN_PORT:-56090}
BARE_TONIC_PORT=${BARE_TONIC_PORT:-56061}
BARE_HYPER_PORT=${BARE_HYPER_PORT:-56062}
TARGETS=${TARGETS:-bare_tonic bare_hyper check evaluation batch}

# shellcheck source=benches/common.sh
source benches/common.sh
need h2load "apt install nghttp2-client"
need taskset "apt install util-linux"
need python3 "apt install python3"
need curl "apt install curl"
wanted() { [[ " $TARGETS " == *" $1 "* ]]; }
read -r -a names <<<"$TARGETS"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "==> building elevator and elevator-loadtest (release)"
  cargo build --release --quiet --bins
fi
declare -A bare_binary
for name in bare_tonic bare_hyper; do
  if wanted "$name"; then
    echo "==> building the $name floor (release)"
    bare_binary[$name]=$(bench_binary "$name")
    [ -x "${bare_binary[$name]}" ] || { echo "could not find the $name bench binary" >&2; exit 1; }
  fi
done
ELEVATOR=target/release/elevator
LOADER=target/release/elevator-loadtest
use_workspace
export ELEVATOR_STATE_DIR="$work/state"
export ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000
load() { taskset -c 1 "$@"; }
declare -A url body server_pid content_type
grpc=http://127.0.0.1:$ELEVATOR_PORT
http=http://127.0.0.1:$HTTP_PORT

for name in bare_tonic bare_hyper; do
  wanted "$name" || continue
  port=$BARE_TONIC_PORT; [ "$name" = bare_hyper ] && port=$BARE_HYPER_PORT
  echo "==> $name (core 0)"
  taskset -c 0 "${bare_binary[$name]}" "127.0.0.1:$port" >"$work/$name.log" 2>&1 &
  pids+=($!)
  server_pid[$name]=$!
done

echo "==> elevator (dev mode, core 0) with benches/policy.yaml, gRPC and HTTP ports"
ELEVATOR_ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT RUST_LOG=warn \
  taskset -c 0 "$ELEVATOR" serve --listen "127.0.0.1:$ELEVATOR_PORT" \
  --http-listen "127.0.0.1:$HTTP_PORT" --policy benches/policy.yaml >"$work/elevator.log" 2>&1 &
pids+=($!)
for name in check evaluation batch; do server_pid[$name]=$!; done
wait_for "$LOADER" --server "$grpc" --mode health --verify
echo "==> seeding 100 subjects x 10 grants"
load "$LOADER" --server "$grpc" --seed-grants --subjects 100 --grants-per-subject 10 \
  --duration 1s --warmup 0s --quiet >/dev/null

# The Check compare.sh asks (the load generator's first question), and the same question in
# AuthZEN's shape: its resource a `po` the directory places at the Check's scope, its session
# in the context.
pep=$("$LOADER" --server "$grpc" --mode check --subjects 100 --grants-per-subject 10 \
  --emit-body "$work/check.bin")
"$LOADER" --mode health --emit-body "$work/health.bin" >/dev/null
read -r subject session permission scope < <(python3 -c '
import sys
message = open(sys.argv[1], "rb").read()[5:]  # past the gRPC frame header
fields, at = {}, 0
def varint():
    global at
    value, shift = 0, 0
    while True:
        byte = message[at]; at += 1
        value |= (byte & 0x7F) << shift; shift += 7
        if byte < 0x80: return value
while at < len(message):
    key = varint()
    assert key & 7 == 2, "CheckRequest fields 1-4 are strings"
    length = varint()
    fields[key >> 3] = message[at:at + length].decode(); at += length
print(fields[1], fields[2], fields[3], fields[4])' "$work/check.bin")
department=${scope%/PO:*}
admin=$("$ELEVATOR" dev-token --sub bench-admin --roles elevator:admin)
for order in $(seq 0 9); do
  printf '{"type": "po", "id": "po-%s", "scope": "%s/PO:%s"}\n' "$order" "$department" "$order" \
    >"$work/po-$order.json"
  "$ELEVATOR" directory put --server "$grpc" --token "$admin" "$work/po-$order.json" >/dev/null
done
python3 - "$work" "$subject" "$session" "$permission" <<'EOF'
import json, sys
work, subject, session, permission = sys.argv[1:]
def question(order):
    return {"subject": {"type": "user", "id": subject}, "action": {"name": permission},
            "resource": {"type": "po", "id": "po-%d" % order}, "context": {"session_id": session}}
json.dump(question(0), open(work + "/evaluation.json", "w"))
json.dump({"evaluations": [question(order) for order in range(10)]},
          open(work + "/batch.json", "w"))
EOF

url[bare_tonic]=http://127.0.0.1:$BARE_TONIC_PORT/grpc.health.v1.Health/Check
url[bare_hyper]=http://127.0.0.1:$BARE_HYPER_PORT/access/v1/evaluation
url[check]=$grpc/elevator.v1.CheckService/Check
url[evaluation]=$http/access/v1/evaluation
url[batch]=$http/access/v1/evaluations
body=([bare_tonic]=$work/health.bin [bare_hyper]=$work/evaluation.json [check]=$work/check.bin
  [evaluation]=$work/evaluation.json [batch]=$work/batch.json)
content_type=([bare_tonic]=application/grpc [bare_hyper]=application/json [check]=application/grpc
  [evaluation]=application/json [batch]=application/json)

for name in "${names[@]}"; do
  echo "==> $name: verify"
  case $name in
    bare_tonic) wait_for "$LOADER" --server "http://127.0.0.1:$BARE_TONIC_PORT" --mode health --verify ;;
    check) "$LOADER" --server "$grpc" --mode check --subjects 100 --grants-per-subject 10 --verify |
      tee /dev/stderr | grep -q "ok: allowed" ;;
    *)
      version=--http2-prior-knowledge; [ "$name" = bare_hyper ] && version=--http1.1
      wait_for curl -s -o /dev/null "${url[$name]}" $version -d @"${body[$name]}" \
        -H "content-type: application/json"
      answer=$(curl -sf $version -H "content-type: application/json" \
        -H "authorization: Bearer $pep" -d @"${body[$name]}" "${url[$name]}")
      echo "$answer"
      python3 -c '
import json, sys
answer = json.loads(sys.argv[1])
decisions = [item["decision"] for item in answer.get("evaluations", [answer])]
assert decisions and all(d is True for d in decisions), answer' "$answer"
      ;;
  esac
done

h2() { # name, extra h2load flags...
  local name=$1; shift
  # bare_hyper serves HTTP/1.1 only (benches/bare_hyper.rs): h2load speaks it with --h1, one
  # request at a time per connection.
  [ "$name" = bare_hyper ] && set -- --h1 "$@"
  load h2load -t 1 -H "content-type: ${content_type[$name]}" -H 'te: trailers' \
    -H "authorization: Bearer $pep" -d "${body[$name]}" "$@" "${url[$name]}"
}
succeeded() { # h2load's output: no failure, no error, every answer 2xx
  grep -q " 0 failed, 0 errored" <<<"$1" && grep -qE "status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$1"
}
TICKS_PER_SECOND=$(getconf CLK_TCK)

declare -A saturated_runs cpu_runs saturated cpu
for round in $(seq 1 "$REPEATS"); do
  for name in "${names[@]}"; do
    echo "==> round $round, $name: saturated, $CLIENTS connections x $STREAMS streams, ${SECONDS_EACH}s"
    out=$(h2 "$name" -c "$CLIENTS" -m "$STREAMS" -D "$SECONDS_EACH" --warm-up-time 2)
    echo "$out" | grep -E "^(finished|requests|status codes)"
    succeeded "$out" || { echo "$name: failures" >&2; exit 1; }
    saturated_runs[$name]+=" $(echo "$out" | sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p')"
    if [ "$CPU_REQUESTS" -gt 0 ]; then
      before=$(cpu_ticks "${server_pid[$name]}")
      out=$(h2 "$name" -c "$CLIENTS" -m "$STREAMS" -n "$CPU_REQUESTS")
      after=$(cpu_ticks "${server_pid[$name]}")
      succeeded "$out" || { echo "$name: failures" >&2; exit 1; }
      one_cpu=$(awk -v t=$((after - before)) -v hz="$TICKS_PER_SECOND" -v n="$CPU_REQUESTS" \
        'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
      echo "CPU per call: ${one_cpu} us over $CPU_REQUESTS requests"
      cpu_runs[$name]+=" $one_cpu"
    fi
  done
done
for name in "${names[@]}"; do
  saturated[$name]=$(echo "${saturated_runs[$name]}" | tr ' ' '\n' | grep . | median)
  cpu[$name]=$(echo "${cpu_runs[$name]:--}" | tr ' ' '\n' | grep . | median)
done

echo
printf '%-11s %14s %13s   (medians of %s runs)\n' target "saturated/s" "CPU us/call" "$REPEATS"
for name in "${names[@]}"; do
  printf '%-11s %14.0f %13s\n' "$name" "${saturated[$name]}" "${cpu[$name]}"
done
echo
ratio() { # label, numerator target, denominator target, name of the values, scale, the target
  local -n values=$4
  local a=${values[$2]:-} b=${values[$3]:-}
  [[ "$a" =~ ^[0-9.]+$ && "$b" =~ ^[0-9.]+$ ]] || return 0
  awk -v a="$a" -v b="$b" -v s="$5" -v label="$1" -v goal="$6" \
    'BEGIN {printf "%-52s %6.2f  %s\n", label, a * s / b, goal}'
}
ratio "evaluation / check, CPU per call:" evaluation check cpu 1 "(target <= 1.5)"
ratio "check / evaluation, throughput:" check evaluation saturated 1 "(target <= 1.5)"
ratio "batch of 10 / check, CPU per decision:" batch check cpu 0.1 ""
ratio "batch of 10 / check, decisions per second:" batch check saturated 10 ""
ratio "bare_hyper / bare_tonic, CPU per call:" bare_hyper bare_tonic cpu 1 ""
ratio "evaluation / bare_hyper, CPU per call:" evaluation bare_hyper cpu 1 ""
ratio "check / bare_tonic, CPU per call:" check bare_tonic cpu 1 ""
