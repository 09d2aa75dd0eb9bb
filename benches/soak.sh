#!/usr/bin/env bash
# The long fault and attack suite (issue 10): 10,000 revoke-through-A / Check-through-B
# iterations, 100,000 differential Checks, a 10-second walk of a hot key across its expiry,
# and the soak of two replicas over one PostgreSQL with a restart of each replica and of
# PostgreSQL (10 minutes unless --minutes says otherwise). Every test prints its figures
# (--nocapture).
#
#   benches/soak.sh                         # everything under tests/api/faults, long versions
#   benches/soak.sh faults::soak            # one part
#   benches/soak.sh --minutes 30            # the soak alone, for 30 minutes, with its memory
#                                           # curve drawn to docs/soak-memory.png
#
# The soak samples live heap (counted by the allocator) and resident memory every 250 ms and
# fails when live heap grows by 1% or more per 10 minutes after warm-up (least squares). With
# --minutes the samples go to target/soak/memory.csv and are plotted with matplotlib from a
# virtualenv made under target/soak/venv on first use (PyPI is needed once).
#
# Needs the PostgreSQL server binaries (the tests start throwaway clusters, as `cargo test`
# does). Takes about 15 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export ELEVATOR_LONG_FAULTS=1
export RUST_BACKTRACE=${RUST_BACKTRACE:-0}

minutes=
if [[ ${1:-} == --minutes ]]; then
  minutes=${2:?--minutes needs a number}
  [[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 ]] || {
    echo "--minutes takes a whole number of minutes, at least 1" >&2
    exit 2
  }
  shift 2
fi
filter=${1:-faults}

if [[ -n $minutes ]]; then
  filter=${1:-faults::soak}
  mkdir -p target/soak
  export ELEVATOR_SOAK_SECONDS=$((minutes * 60))
  export ELEVATOR_SOAK_CSV=$PWD/target/soak/memory.csv
  rm -f "$ELEVATOR_SOAK_CSV"
fi

set +e
cargo test --release --test api -- "$filter" --test-threads 1 --nocapture 2>&1 |
  grep -vE ' (INFO|DEBUG|WARN) '
status=${PIPESTATUS[0]}
set -e

if [[ -n $minutes && -s $ELEVATOR_SOAK_CSV ]]; then
  venv=target/soak/venv
  if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet matplotlib
  fi
  "$venv/bin/python" benches/plot_memory.py "$ELEVATOR_SOAK_CSV" docs/soak-memory.png "$minutes"
  echo "memory curve: docs/soak-memory.png (samples in $ELEVATOR_SOAK_CSV)"
fi
exit "$status"
