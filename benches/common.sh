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

# Runs the command until it succeeds, every 0.1 s, at most $WAIT_TRIES times (100 unless set);
# stops the script when it never does.
wait_for() { # command...
  for _ in $(seq 1 "${WAIT_TRIES:-100}"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; exit 1
}

# The median of the numbers on standard input, one per line.
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# The CPU time a process has used so far, user and system, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

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
