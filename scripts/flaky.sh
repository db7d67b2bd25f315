#!/usr/bin/env bash
# Runs the test suite N times in a row (default 5) and reports each run: exit
# status, wall time, the per-binary table, and every failed test with the path
# of that run's full log. Usage: scripts/flaky.sh [N] [COMMAND...]
# COMMAND defaults to scripts/test.sh (what `make test` runs); for example
# `scripts/flaky.sh 10 cargo test --release --test integration --no-fail-fast`
# repeats the integration binary alone. Logs go to target/flaky/<time>/.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "flaky: N must be a positive number, not '$runs'" >&2; exit 2; }
shift $(($# > 0 ? 1 : 0))
command=("$@")
((${#command[@]})) || command=(scripts/test.sh)

dir=target/flaky/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dir"
echo "flaky: $runs runs of: ${command[*]} (logs in $dir)"
failed_runs=0
for ((run = 1; run <= runs; run++)); do
  log=$dir/run-$run.log
  started=$(date +%s)
  load=$(cut -d' ' -f1 /proc/loadavg)
  "${command[@]}" >"$log" 2>&1
  status=$?
  seconds=$(($(date +%s) - started))
  ((status == 0)) || failed_runs=$((failed_runs + 1))
  printf '\n== run %d: exit %d, %d s (%dm%02ds), load before %s, log %s\n' \
    "$run" "$status" "$seconds" $((seconds / 60)) $((seconds % 60)) "$load" "$log"
  scripts/test-table.sh "$log"
done
printf '\nflaky: %d of %d runs failed\n' "$failed_runs" "$runs"
((failed_runs == 0))
