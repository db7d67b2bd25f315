#!/usr/bin/env bash
# The README's demo: set everything up, start the local Kafka broker and run
# the pipeline on the full dataset. Safe to run again; stop the broker with
# `./target/release/sfcrime stack down`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
sfcrime=./target/release/sfcrime

$sfcrime stack up
$sfcrime stack status
