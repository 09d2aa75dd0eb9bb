#!/usr/bin/env bash
# What needs PostgreSQL, measured on a throwaway server (durable settings: fsync and
# synchronous commit on) with two elevator replicas:
#   1. Check on a cache miss (every subject new, read through to PostgreSQL) at a fixed rate;
#   2. writes: elevations requested and approved (so activated) end to end, closed loop;
#   3. invalidation: a revocation through replica A until replica B denies.
# Replica A is pinned to core 0 and the load to core 1; PostgreSQL and replica B float.
#
#   benches/database.sh
#   ELEVATOR_BIN=/path/to/other/build/elevator benches/database.sh   # A/B another build
#
# Results go to BENCHMARKS.md by hand, with the machine they came from.
set -euo pipefail
cd "$(dirname "$0")/.."

MISS_RATE=${MISS_RATE:-1000}
SECONDS_EACH=${SECONDS_EACH:-10}
WRITERS=${WRITERS:-16}
SAMPLES=${SAMPLES:-200}

if [ -z "${ELEVATOR_BIN:-}" ]; then
  cargo build --release --quiet
  ELEVATOR_BIN=target/release/elevator
fi
LOADER=target/release/elevator-loadtest
[ -x "$LOADER" ] || cargo build --release --quiet
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "missing PostgreSQL server binaries: apt install postgresql" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work"
pids=()
as_postgres=()
[ "$(id -u)" -eq 0 ] && as_postgres=(runuser -u postgres --)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/pg/postmaster.pid" ] && "${as_postgres[@]}" "$bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {
  for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; exit 1
}

echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') (durable: fsync and synchronous_commit on)"
mkdir -p "$work/pg" "$work/run"
[ ${#as_postgres[@]} -gt 0 ] && chown postgres "$work/pg" "$work/run"
"${as_postgres[@]}" "$bin/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
pg_port=$(free_port)
"${as_postgres[@]}" "$bin/pg_ctl" -D "$work/pg" -l "$work/run/pg.log" -w \
  -o "-p $pg_port -k $work/run -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" \
  start >/dev/null
url="postgres://postgres@127.0.0.1:$pg_port/postgres"

secret="$work/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret"
serve() { # name, core or "", grpc port, admin port
  local name=$1 core=$2
  local pin=()
  [ -n "$core" ] && pin=(taskset -c "$core")
  # Writes come from a few load-test callers, far faster than people write: lift the
  # per-caller write rate so the database, not admission, is what is measured.
  ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000 \
  ELEVATOR_AUTH_HS256_SECRET_FILE=$secret ELEVATOR_ADMIN_LISTEN=127.0.0.1:$4 RUST_LOG=warn \
    "${pin[@]}" "$ELEVATOR_BIN" serve --database-url "$url" --policy src/policy/demo.yaml \
    --listen "127.0.0.1:$3" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
a_port=$(free_port); b_port=$(free_port)
serve a 0 "$a_port" "$(free_port)"
wait_for "$LOADER" --server "http://127.0.0.1:$a_port" --mode health --verify
serve b "" "$b_port" "$(free_port)"
wait_for "$LOADER" --server "http://127.0.0.1:$b_port" --mode health --verify

loadtest() { # server, flags...
  local server=$1; shift
  taskset -c 1 "$LOADER" --server "$server" --secret-file "$secret" --quiet "$@"
}
a=http://127.0.0.1:$a_port

echo "==> Check on a cache miss at $MISS_RATE/s (every subject new: read through to PostgreSQL)"
loadtest "$a" --miss-share 1 --rate "$MISS_RATE" --duration "${SECONDS_EACH}s" --warmup 2s

echo "==> writes: request + approve (activated), $WRITERS in flight"
loadtest "$a" --mode mixed --write-share 1 --concurrency "$WRITERS" --duration "${SECONDS_EACH}s" --warmup 2s

echo "==> invalidation: revoke through A, until B denies ($SAMPLES samples)"
loadtest "$a" --mode invalidation --observer "http://127.0.0.1:$b_port" --samples "$SAMPLES"
