#!/usr/bin/env bash
# The stored directory at 100,000 entities, on a throwaway PostgreSQL with two replicas:
#   1. an import of ENTITIES users through replica A (the CLI streams them; one transaction);
#   2. how long until replica B decides with the imported directory (B reloads it whole when
#      the change feed announces the import);
#   3. a single entity put through A, until B decides with it (a reload of the whole
#      directory on B: the cost of one directory change at this size), SAMPLES times.
# Timings are wall-clock around the `elevator` command line, so they include its start-up
# (a few milliseconds).
#
#   benches/directory.sh
#   ELEVATOR_BIN=target/debug/elevator benches/directory.sh   # without a release build
#
# Results go to BENCHMARKS.md by hand, with the machine they came from.
set -euo pipefail
cd "$(dirname "$0")/.."

ENTITIES=${ENTITIES:-100000}
SAMPLES=${SAMPLES:-5}

if [ -z "${ELEVATOR_BIN:-}" ]; then
  cargo build --release --quiet --bin elevator
  ELEVATOR_BIN=target/release/elevator
fi
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
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }

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
token() { # sub, roles
  python3 - "$secret" "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, sub, roles = open(sys.argv[1], "rb").read().strip(), sys.argv[2], sys.argv[3]
enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = enc(json.dumps({"sub": sub, "roles": roles.split(","), "exp": int(time.time()) + 3600}).encode())
sig = enc(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}
admin=$(token root elevator:admin)
pep=$(token gateway elevator:check)

serve() { # name, grpc port, admin port
  ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER=100000000 ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER=1000000 \
  ELEVATOR_AUTH_HS256_SECRET_FILE=$secret ELEVATOR_ADMIN_LISTEN=127.0.0.1:$3 RUST_LOG=warn \
    "$ELEVATOR_BIN" serve --database-url "$url" --policy src/policy/demo.yaml \
    --listen "127.0.0.1:$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
}
a_port=$(free_port); b_port=$(free_port); b_admin=$(free_port)
serve a "$a_port" "$(free_port)"
sleep 1
serve b "$b_port" "$b_admin"
a=http://127.0.0.1:$a_port; b=http://127.0.0.1:$b_port
cli() { ELEVATOR_SERVER=$1 ELEVATOR_TOKEN=$2 "$ELEVATOR_BIN" "${@:3}"; }
for server in "$a" "$b"; do
  for _ in $(seq 1 300); do cli "$server" "$admin" directory list >/dev/null 2>&1 && break; sleep 0.1; done
done
# Whether B allows `user` to approve PO 4711 (a directory role): exit 0 allowed, 1 denied.
b_allows() {
  cli "$b" "$pep" check --subject "$1" --session s1 --permission purchase_orders.approve \
    --resource Org:Procurement/PO:4711 >/dev/null 2>&1
}

python3 - "$ENTITIES" >"$work/directory.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("directory:")
for i in range(n):
    roles = ', roles: ["admin_approver@Org:Procurement"]' if i == n - 1 else ""
    print(f'  - {{ type: user, id: "user-{i:06}", aliases: ["pid-{i}"], '
          f'properties: {{ email: "user-{i}@example.com", department: "d{i % 100}", level: {i % 7} }}{roles} }}')
PY
echo "==> import of $ENTITIES users through A ($(du -h "$work/directory.yaml" | cut -f1) of YAML)"
start=$(now_ms)
cli "$a" "$admin" directory import "$work/directory.yaml"
imported=$(now_ms)
echo "import took $((imported - start)) ms"
last=$(printf 'user-%06d' $((ENTITIES - 1)))
until b_allows "$last"; do sleep 0.01; done
echo "B decided with the imported directory $(( $(now_ms) - imported )) ms after the import returned"

echo "==> one entity put through A, until B decides with it ($SAMPLES samples, $ENTITIES entities)"
for i in $(seq 1 "$SAMPLES"); do
  subject=$(printf 'user-%06d' "$i")
  printf '{"type":"user","id":"%s","roles":["admin_approver@Org:Procurement"]}' "$subject" >"$work/one.json"
  b_allows "$subject" && { echo "B allowed $subject before the put" >&2; exit 1; }
  start=$(now_ms)
  cli "$a" "$admin" directory put "$work/one.json" >/dev/null
  until b_allows "$subject"; do sleep 0.005; done
  echo "sample $i: $(( $(now_ms) - start )) ms from the put until B allowed"
done
# How B kept its directory current: whole reloads and refreshes by key.
curl -s "http://127.0.0.1:$b_admin/metrics" | grep '^elevator_directory_refreshes' || true
