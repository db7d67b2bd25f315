#!/usr/bin/env bash
# The README's two pictures, made from a real run by sfcrime itself:
#   docs/img/progress-report.png       the run's report.html: summary and the
#                                      progress reporter's table, batch by batch
#   docs/img/structured-streaming.png  Spark's Structured Streaming UI for the
#                                      run's query, in Spark's History Server
#
#   scripts/readme-pictures.sh [RUN_DIR]    default: the newest run under runs/
#
# It redraws the run's report.html (`sfcrime report`), starts the History
# Server over the run (`sfcrime spark ui`, left running: stop it with
# `sfcrime spark ui --stop`) and screenshots both in headless Chromium
# (scripts/browser.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
sfcrime=./target/release/sfcrime
say() { printf 'readme-pictures: %s\n' "$*" >&2; }

run_dir=${1:-$(ls -d runs/*/eventlog 2>/dev/null | sort | tail -1 | xargs -r dirname)}
[[ -n $run_dir && -f $run_dir/progress.jsonl ]] ||
  { say "no run with progress.jsonl and an event log (make one: make demo, or sfcrime spark run)"; exit 1; }
run_dir=$(realpath "$run_dir")
mkdir -p docs/img

page=$($sfcrime report "$run_dir")
say "report.html: $page"
scripts/browser.sh screenshot docs/img/progress-report.png "file://$page" 1400x1100

streaming=$($sfcrime spark ui "$run_dir" | sed -n "s|^$run_dir: ||p")
[[ -n $streaming ]] || { say "sfcrime spark ui printed no Structured Streaming page"; exit 1; }
run_id=$(head -1 "$run_dir/progress.jsonl" | grep -o '"runId":"[^"]*"' | cut -d'"' -f4)
statistics="${streaming}statistics/?id=$run_id"
# The first requests make the server read the run's event log.
for _ in $(seq 30); do
  scripts/browser.sh dom "$statistics" | grep -q 'completed batches' && break
  sleep 1
done
scripts/browser.sh screenshot docs/img/structured-streaming.png "$statistics" 1400x1100
say "wrote docs/img/progress-report.png and docs/img/structured-streaming.png from $run_dir"
say "the History Server keeps running at ${streaming%%/history/*}; stop it with: $sfcrime spark ui --stop"
