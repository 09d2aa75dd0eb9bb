#!/usr/bin/env bash
# The long fault and attack suite (issue 10): 10,000 revoke-through-A / Check-through-B
# iterations, 100,000 differential Checks, a 10-second walk of a hot key across its expiry,
# and the 10-minute soak of two replicas over one PostgreSQL with a restart of each replica
# and of PostgreSQL. Every test prints its figures (--nocapture).
#
#   benches/soak.sh                    # everything under tests/api/faults, long versions
#   benches/soak.sh faults::soak       # one part
#
# Needs the PostgreSQL server binaries (the tests start throwaway clusters, as `cargo test`
# does). Takes about 15 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export ELEVATOR_LONG_FAULTS=1
export RUST_BACKTRACE=${RUST_BACKTRACE:-0}
filter=${1:-faults}
cargo test --release --test api -- "$filter" --test-threads 1 --nocapture 2>&1 |
  grep -vE ' (INFO|DEBUG|WARN) ' 
