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
