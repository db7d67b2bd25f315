#!/usr/bin/env bash
# The README's demo: set everything up, start the local Kafka broker, load
# the full dataset into a fresh topic and prove it arrived intact, then run
# the Spark job over it. Safe to run again (the topic is recreated); stop the
# broker afterwards with `./target/release/sfcrime stack down`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
sfcrime=./target/release/sfcrime
data=data/police-department-calls-for-service.json.gz

step() { printf '\n== %s\n' "$*"; }

step "Kafka broker (KRaft) and a fresh topic"
$sfcrime stack up --recreate-topic

step "Produce all 199,999 calls"
$sfcrime produce -f "$data"

step "Read them back: every record exactly once, intact"
$sfcrime consume --verify "$data"

step "Spark Structured Streaming over the topic, until it is drained"
$sfcrime spark run --available-now

echo "The run's page is its report.html (above); Spark's Structured Streaming UI for it: $sfcrime spark ui"
echo "The broker keeps running; stop it with: $sfcrime stack down"
