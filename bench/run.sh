#!/usr/bin/env bash
# The whole YCSB comparison of ShinyDB against PostgreSQL on this machine: installs
# PostgreSQL from Debian if missing, builds shinydb-server and shinydb-bench (release), and runs
# `shinydb-bench suite`, which starts a throwaway PostgreSQL (initdb in a temporary directory,
# loopback, a free port, as the `postgres` user when run as root) and shinydb-server instances
# on temporary data directories itself, runs every workload on every line at both durability
# tiers and writes bench/results/<date>.md.
#
# Sizes come from the environment: RECORDS (100000), DURATION (seconds measured per run, 6),
# WARMUP (seconds per run, 1), THREADS (1,16). Anything else is passed to `shinydb-bench suite`
# (see `shinydb-bench suite --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing PostgreSQL (Debian package postgresql)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed and this is not root: run apt-get install postgresql" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== building shinydb-server and shinydb-bench (release)"
# One package at a time: built together, their dependencies' features would be unified into
# other builds than `cargo build -p` of either alone makes.
cargo build --release --locked -p shinydb-server
cargo build --release --locked -p shinydb-bench

RECORDS="${RECORDS:-100000}"
DURATION="${DURATION:-6}"
WARMUP="${WARMUP:-1}"
THREADS="${THREADS:-1,16}"
out="bench/results/$(date -u +%Y-%m-%d).md"
builds="$(ps -e -o comm= | grep -c -E '^(rustc|cargo|cc1|ld)$' || true)"
note="at the start $builds compiler/cargo processes were running on this machine (other builds \
share its cores); git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== running the suite; the report goes to $out"
"$CARGO_TARGET_DIR/release/shinydb-bench" suite \
  --server-bin "$CARGO_TARGET_DIR/release/shinydb-server" \
  --records "$RECORDS" --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" \
  --out "$out" \
  --command "RECORDS=$RECORDS DURATION=$DURATION WARMUP=$WARMUP THREADS=$THREADS bench/run.sh $*" \
  --note "$note" \
  "$@"
