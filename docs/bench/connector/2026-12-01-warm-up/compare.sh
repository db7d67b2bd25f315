#!/bin/bash
# A = before (HEAD), B = read workers started early, C = B + the read planner's worker
# 3 rounds, rotated order; each run after the load average is <= 1.0
declare -A wt=([A]=/work/base [B]=/work/wb [C]=/work/main)  
out=/tmp/trace/abc.tsv
for order in "A B C" "C A B" "B C A"; do
  for v in $order; do
    w=${wt[$v]}
    /work/shared/tools/quiet -- true 2>&1 | tail -1 > /tmp/trace/q.txt
    load=$(cut -d' ' -f1 /proc/loadavg)
    s=$(date +%s.%N)
    SFCRIME_HOME=$w $w/target/release/sfcrime spark run --available-now --source sfcrime_connector \
      -c spark.sql.shuffle.partitions=2 -c spark.ui.enabled=false \
      -c spark.driver.extraJavaOptions=-XX:TieredStopAtLevel=1 > /tmp/trace/abc-last.out 2>&1
    rc=$?
    e=$(date +%s.%N)
    r=$w/runs/$(ls -t $w/runs | head -1)
    python3 - "$v" "$load" "$rc" "$s" "$e" "$r" >> $out <<'PY'
import json,sys
v,load,rc,s,e,r=sys.argv[1:]
m=json.load(open(r+'/summary.json'))
print("\t".join(map(str,[v,load,rc,round(float(e)-float(s),1),m['time_to_first_trigger_ms'],m['wall_ms'],m['total_input_rows'],r])))
PY
  done
done
