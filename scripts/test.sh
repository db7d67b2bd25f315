#!/usr/bin/env bash
# Runs every check sfcrime has: formatting, lints, unit tests and the
# integration tests against real Kafka brokers and Spark (each test starts its
# own on free ports and stops them). Fails if any java process of ours (a
# broker, a Spark master or worker) is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

say() { printf '\ntest: %s\n' "$*" >&2; }

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy -D warnings"
cargo clippy --release --workspace --all-targets -q -- -D warnings
# The connector's Python module (feature `python`, which maturin turns on)
# is not part of the workspace build: lint it as maturin builds it.
PYO3_PYTHON=$PWD/.venv/bin/python \
  cargo clippy --release -p sfcrime-connector --features python -q -- -D warnings
say "ruff"
.venv/bin/ruff check python/ spark/ tests/python/
say "pytest (the job's Python modules; no Spark JVM, no broker)"
.venv/bin/python -m pytest -q tests/python

say "cargo test (unit + integration, real brokers)"
# --no-fail-fast: every test binary runs even after one fails, and the table
# below says which failed and how long each took.
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
set +e
# 32 threads: every integration test starts at once and waits for its lane
# (see tests/integration/main.rs).
RUST_TEST_THREADS=32 cargo test --release --workspace --no-fail-fast 2>&1 | tee "$test_log"
tests_status=${PIPESTATUS[0]}
set -e
scripts/test-table.sh "$test_log" >&2

leftover=$(pgrep -f "(kafka.Kafka|QuorumPeerMain) .*sfcrime-broker-" || true)
if [[ -n $leftover ]]; then
  echo "test: FAILED: broker or ZooKeeper processes left behind by the tests: $leftover" >&2
  exit 1
fi
leftover=$(pgrep -f "sfcrime.standalone.dir=.*sfcrime-spark-|sfcrime.history.dir=.*sfcrime-history-|sfcrime.connect.dir=.*sfcrime-connect-" || true)
if [[ -n $leftover ]]; then
  echo "test: FAILED: Spark master/worker/history/Connect server processes left behind by the tests: $leftover" >&2
  exit 1
fi
if ((tests_status != 0)); then
  echo "test: FAILED: cargo test exited $tests_status (see the table above)" >&2
  exit "$tests_status"
fi
