cd /work/main
i=0
for v in L R R L L R; do
  i=$((i+1))
  ../shared/tools/quiet -- true 2>&1 | tail -1
  ./target/release/sfcrime sweep --spec /tmp/exp/rk$v.toml --results-dir /tmp/exp/rk/$v$i 2>&1 | grep -E "Ok:|Fail|rror" | sed "s/^/$v$i /"
done
echo RK-DONE
