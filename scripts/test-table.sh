#!/usr/bin/env bash
# Reads the output of `cargo test` (file $1) and prints one row per test
# binary: its result, counts and time as libtest reported them, then the
# failed tests by name. Used by scripts/test.sh and scripts/flaky.sh.
set -euo pipefail
awk '
  # "Running unittests src/lib.rs (target/release/deps/sfcrime_stats-1a2b)"
  # A binary that died (a crash, a signal) prints no result line.
  function unfinished() { if (name != "") rows[++n] = sprintf("%-44s %-7s", name, "DIED") }
  /^ *Running / {
    unfinished()
    name = $NF; gsub(/[()]/, "", name); sub(/.*\//, "", name); sub(/-[0-9a-f]+$/, "", name)
    if ($2 == "unittests") name = name " (unit)"
    next
  }
  /^ *Doc-tests / { unfinished(); name = "doc-tests " $2; next }
  /^test result: / {
    result = $3; sub(/\.$/, "", result)
    passed = $4; failed = $6; ignored = $8
    time = $NF; sub(/s$/, "", time)
    rows[++n] = sprintf("%-44s %-7s %6s %6s %7s %9.1f", name, result, passed, failed, ignored, time)
    total += time
    name = ""
    next
  }
  /^---- .* stdout ----$/ { failures[++f] = $2 }
  END {
    unfinished()
    printf "%-44s %-7s %6s %6s %7s %9s\n", "test binary", "result", "passed", "failed", "ignored", "seconds"
    for (i = 1; i <= n; i++) print rows[i]
    printf "%-44s %-7s %6s %6s %7s %9.1f\n", "(sum)", "", "", "", "", total
    for (i = 1; i <= f; i++) print "failed: " failures[i]
  }
' "$1"
