# What the load scripts in benches/ share; sourced, not run.

# Stops with the install hint when a command is missing.
need() { # command, how to install it
  command -v "$1" >/dev/null 2>&1 || { echo "missing $1: $2" >&2; exit 2; }
}

# Builds the bench target `name` (release) and prints its binary's path, which cargo hashes.
bench_binary() { # name
  cargo build --release --quiet --bench "$1" --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == sys.argv[1] \
            and message.get("executable"):
        print(message["executable"])' "$1"
}

# A scratch directory ($work) and the servers the script starts ($pids): the servers stopped
# and the directory removed however the script ends.
use_workspace() {
  work=$(mktemp -d)
  pids=()
  trap stop_workspace EXIT
}
stop_workspace() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
