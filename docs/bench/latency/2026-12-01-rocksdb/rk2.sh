cd /work/main
for i in 7 8 9; do
  ../shared/tools/quiet -- true 2>&1 | tail -1
  ./target/release/sfcrime sweep --spec /tmp/exp/rkR.toml --results-dir /tmp/exp/rk/R$i 2>&1 | grep -E "Ok:|Fail|rror" | sed "s/^/R$i /"
done
echo RK2-DONE
