#!/usr/bin/env bash
# Runs python/data_stream.py with the pinned pyspark in .venv and Spark's Kafka
# connector jars.
#
# usage: spark/submit.sh [SPARK-SUBMIT OPTION...] [-- | SCRIPT.py] [JOB OPTION...]
#        spark/submit.sh --print-jars     resolve the connector, print its jars
#        spark/submit.sh --build-cds      make the driver JVM's class-data-sharing
#                                         archive (once; scripts/setup.sh does)
#        spark/submit.sh --remote sc://HOST:PORT [--conf K=V...] [JOB OPTION...]
#                                         the job as a client of a Spark Connect
#                                         server (no driver JVM of its own)
#        spark/submit.sh --connect-server [SPARK-SUBMIT OPTION...]
#                                         a Spark Connect server (foreground)
#        spark/submit.sh --help           this text and the job's options
#
# Leading options that spark-submit knows (--master, --conf K=V, -c K=V,
# --driver-memory, --jars, --packages, --verbose, ...) go to spark-submit; the
# first other argument (or everything after `--` or after an explicit SCRIPT.py)
# goes to the job. Defaults, each dropped when you give your own:
#   --master local[*]  --driver-memory 2g  --conf spark.log.level=WARN
#   --conf spark.ui.showConsoleProgress=false  --conf spark.ui.killEnabled=false
#   --conf spark.sql.shuffle.partitions=N  (one stateful task per core of a local
#          master: local[*] = all cores, local[K] = K; 8 on other masters.
#          Spark's 200 triples the run time of this small job on 2 cores, and
#          on 2 cores 2 make a later 1,000-call micro-batch take 1.7 s where 8
#          take 2.0 s (docs/BENCHMARKS.md); a checkpoint keeps the value it
#          began with)
# Your --jars are appended to the connector's. Deploy mode is client.
#
# The connector (config/spark-kafka-pom.xml) is resolved with mvn once into
# $SFCRIME_SPARK_JARS_DIR (atomically: a temp dir beside it renamed into place,
# redone when the pom changes); later runs are offline.
#
# Class-data sharing: with the archive of --build-cds (under .venv/spark-cds/,
# named after pyspark's jars and the Java build it was made for), the driver
# JVM maps the ~20,000 classes Spark loads instead of parsing and verifying
# them, which saves 4-7 s of every run's start-up. A run with another Java,
# pyspark or class path runs as before (the JVM checks the archive). The
# archive is made by running spark/cds_warmup.py (the job's query on a file
# stream; no broker needed) with -XX:DumpLoadedClassList, then java -Xshare:dump.
#
# Local file system without child processes: pyspark from pip has no Hadoop
# native library, so Hadoop's local file system runs `chmod` and `readlink` in
# child processes for the files a streaming checkpoint writes, dozens per
# micro-batch. With a local master, runs use spark/localfs/NioLocalFs.java
# instead (the same, with java.nio), compiled once with javac into .venv/
# spark-localfs/: a small batch's offset and commit log writes take 4 ms instead
# of 65 (docs/BENCHMARKS.md). Without javac, runs use Hadoop's as before.
#
# Loopback only: with a master on this machine (local[...], spark://127.0.0.1
# or spark://localhost) the driver's RPC, block manager and web UI listen on
# 127.0.0.1 (SPARK_LOCAL_IP), where Spark's default is the machine's address,
# reachable from the network; and the UI's kill links are off
# (spark.ui.killEnabled=false), so the UI cannot stop the job. A master on
# another host must reach the driver: Spark then binds as it would, and this
# script says so. Your own SPARK_LOCAL_IP or spark.driver.bindAddress wins.
#
# Spark Connect: --connect-server runs Spark's Connect server with everything
# above (the connector's jars, the defaults, the local file system, the
# archive) and spark.connect.grpc.binding.address=127.0.0.1 with a local
# master; `sfcrime spark server up` starts one in the background. A job run
# with --remote URL is its client: it starts no JVM, and the server's driver,
# already warm from earlier runs, plans and runs the query. Only --conf
# settings a session may change (spark.sql.*) can be given then, and reach the
# job as SFCRIME_SESSION_CONFS; the foreachBatch sink runs in the server's
# Python worker, so each batch's table is printed in the server's log.
#
# Output: the job's tables and results on stdout; errors and Spark's log on
# stderr. Exit status: the job's (0 ok, 1 query failed, 2 bad arguments).
#
# Signals: Ctrl-C or SIGTERM (to this script or its whole process group) asks
# the job to stop the query after the running batch and write its final
# results; a second one kills it.
#
# Environment: SFCRIME_HOME (project root; default: this script's parent dir),
# SFCRIME_SPARK_JARS_DIR (the connector's jars; default .stack/spark-jars,
# relative to SFCRIME_HOME), JAVA_HOME, PYSPARK_PYTHON (default: the venv's
# python). Not SFCRIME_STACK_DIR: that is the broker's dir (setting stack.dir).
set -euo pipefail

prog=spark/submit.sh
die() { echo "$prog: error: $*" >&2; exit 1; }

home=${SFCRIME_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[[ -d $home ]] || die "SFCRIME_HOME=$home is not a directory"
cache=${SFCRIME_SPARK_JARS_DIR:-.stack/spark-jars}
[[ $cache == /* ]] || cache=$home/$cache
# The temp dir and mvn's log go beside the cache: a rename is atomic only
# within one file system.
cache_parent=$(dirname "$cache")
cache=$cache_parent/$(basename "$cache")  # no trailing slash for mv
venv=$home/.venv
pom=$home/config/spark-kafka-pom.xml
script=$home/python/data_stream.py

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

check_pyspark() {
  [[ -x $venv/bin/spark-submit && -x $venv/bin/python ]] ||
    die "no pyspark in $venv; set it up with: python3 -m venv $venv && $venv/bin/pip install -r $home/python/requirements.txt"
  local jars
  jars=$(echo "$venv"/lib/python3*/site-packages/pyspark/jars/spark-core_2.13-*.jar)
  [[ -f $jars ]] || die "pyspark in $venv looks broken (no jars/spark-core_2.13-*.jar); reinstall it with: $venv/bin/pip install --force-reinstall -r $home/python/requirements.txt"
  spark_home=${jars%/jars/*}
  pyspark_version=${jars##*/spark-core_2.13-}
  pyspark_version=${pyspark_version%.jar}
}

java="" java_banner=""  # set by check_java: the java binary and its -version output
check_java() {
  local version
  if [[ -n ${JAVA_HOME:-} ]]; then
    java=$JAVA_HOME/bin/java
    [[ -x $java ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java; point it at a JDK/JRE 17+ or unset it"
  else
    java=$(command -v java) || die "no java on PATH and JAVA_HOME is unset; install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
  fi
  # `version "17.0.15"`, `version "21"` or, before Java 9, `version "1.8.0_402"`
  java_banner=$("$java" -version 2>&1)
  version=$(sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' <<<"$java_banner" | head -n 1)
  [[ -z $version || $version -ge 17 ]] ||
    die "$java is Java $version; Spark $pyspark_version needs Java 17 or newer (set JAVA_HOME)"
}

resolve_tmp="" resolve_pid=""
# shellcheck disable=SC2317  # invoked by a trap
cleanup_resolve() {
  if [[ -n $resolve_pid ]]; then
    kill "$resolve_pid" 2>/dev/null || true
    wait "$resolve_pid" 2>/dev/null || true
  fi
  if [[ -n $resolve_tmp ]]; then rm -rf "$resolve_tmp" "$resolve_tmp.old"; fi
}

# The jar of spark/localfs/NioLocalFs.java for this pyspark's Hadoop (a name
# only: make_localfs builds it).
localfs_jar() {
  local src=$home/spark/localfs/NioLocalFs.java api
  api=$(echo "$spark_home"/jars/hadoop-client-api-*.jar)
  echo "$venv/spark-localfs/sfcrime-localfs-$(sha256sum "$src" | cut -c1-12)-${api##*/hadoop-client-api-}"
}

# Builds the jar unless it exists; fails (quietly) without javac.
make_localfs() {
  local jar tmp rc=0
  jar=$(localfs_jar)
  [[ ! -f $jar ]] || return 0
  command -v javac >/dev/null && command -v jar >/dev/null || return 1
  mkdir -p "${jar%/*}"
  tmp=$(mktemp -d "${jar%/*}/.build.XXXXXX")
  javac --release 17 -cp "$(echo "$spark_home"/jars/hadoop-client-api-*.jar)" -d "$tmp/classes" \
    "$home/spark/localfs/NioLocalFs.java" >"$tmp/javac.log" 2>&1 &&
    jar cf "$tmp/localfs.jar" -C "$tmp/classes" . || rc=$?
  if ((rc)); then
    echo "$prog: warning: cannot compile spark/localfs/NioLocalFs.java, so checkpoints use Hadoop's slower local file system: $(tail -n 3 "$tmp/javac.log")" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -f "${jar%/*}"/sfcrime-localfs-*.jar  # of an earlier source or Hadoop
  mv "$tmp/localfs.jar" "$jar"
  rm -rf "$tmp"
}

# The class-data-sharing archive for this pyspark install, Java build and class
# path (the local file system's jar is on it).
cds_archive() {
  local build installed localfs
  build=$(sed -n 's/.*(build \([^)]*\)).*/\1/p' <<<"$java_banner" | head -n 1)
  installed=$(stat -c %Y "$spark_home/jars/spark-core_2.13-$pyspark_version.jar")
  localfs=$(localfs_jar)
  localfs=${localfs##*/sfcrime-localfs-}
  echo "$venv/spark-cds/spark-$pyspark_version-$installed-java-${build//[^A-Za-z0-9.+-]/_}-localfs-${localfs%.jar}.jsa"
}

# Makes the archive (see "Class-data sharing" above): a warm-up run of the job's
# query records the classes the driver loads, then Java dumps them for its class path.
build_cds() {
  local archive tmp rc=0
  archive=$(cds_archive)
  if [[ -f $archive ]]; then
    echo "$prog: class-data-sharing archive up to date: $archive" >&2
    return
  fi
  mkdir -p "${archive%/*}"
  tmp=$(mktemp -d "${archive%/*}/.build.XXXXXX")
  # shellcheck disable=SC2064  # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  echo "$prog: recording the classes of a warm-up run (once, about a minute) ..." >&2
  SPARK_SUBMIT_OPTS="${SPARK_SUBMIT_OPTS:-} -Xshare:off -XX:DumpLoadedClassList=$tmp/classes.lst" \
    "${BASH_SOURCE[0]}" "${submit_args[@]}" "$home/spark/cds_warmup.py" "$tmp/warmup" \
    >"$tmp/warmup.log" 2>&1 || rc=$?
  ((rc == 0)) || die "the warm-up run for the class-data-sharing archive failed (exit $rc): $(tail -n 5 "$tmp/warmup.log")"
  "$java" -Xshare:dump -XX:SharedClassListFile="$tmp/classes.lst" \
    -XX:SharedArchiveFile="$tmp/spark.jsa" -cp "$(<"$tmp/warmup/classpath")" \
    >"$tmp/dump.log" 2>&1 || rc=$?
  ((rc == 0)) || die "java -Xshare:dump failed (exit $rc): $(tail -n 5 "$tmp/dump.log")"
  rm -f "${archive%/*}"/spark-*.jsa  # archives of an earlier pyspark or Java
  mv "$tmp/spark.jsa" "$archive"
  echo "$prog: class-data-sharing archive: $archive ($(du -m "$archive" | cut -f1) MB)" >&2
}

# Sets $jars to the connector's jars, comma-separated, resolving them first if needed.
connector_jars() {
  if [[ ! -f $cache/.pom.xml || "$(<"$pom")" != "$(<"$cache/.pom.xml")" ]]; then
    command -v mvn >/dev/null ||
      die "mvn not found: it is needed once to download the Spark Kafka connector into $cache (e.g. apt-get install maven)"
    mkdir -p "$cache_parent"
    local tmp log rc=0
    tmp=$(mktemp -d "$cache_parent/.${cache##*/}.XXXXXX")
    log=$cache.resolve.log
    # An interrupted download leaves nothing behind, and no mvn still writing.
    resolve_tmp=$tmp
    trap cleanup_resolve EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    echo "$prog: resolving the Spark Kafka connector into $cache (once) ..." >&2
    mvn -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$log" 2>&1 &
    resolve_pid=$!
    wait "$resolve_pid" || rc=$?
    resolve_pid=""
    if ((rc)); then
      die "resolving $pom with mvn failed ($(grep -m 1 '^\[ERROR\]' "$log" || echo "exit $rc")); full log: $log"
    fi
    cp "$pom" "$tmp/.pom.xml"
    chmod 755 "$tmp"  # mktemp made it private
    # The rename is the commit point: a cache dir exists only when complete.
    if [[ -e $cache ]]; then  # stale (the pom changed): swap
      mv "$cache" "$tmp.old" && mv "$tmp" "$cache" && rm -rf "$tmp.old"
    else
      mv "$tmp" "$cache"
      # lost a race with a concurrent first run: mv put ours inside theirs
      rm -rf "${cache:?}/${tmp##*/}"
    fi
    resolve_tmp=""
    trap - EXIT INT TERM
  fi
  local kafka=("$cache"/spark-sql-kafka-0-10_2.13-*.jar) files=("$cache"/*.jar)
  [[ -f ${kafka[0]} ]] || die "$cache has no spark-sql-kafka jar; remove $cache and retry"
  local connector_version=${kafka[0]##*/spark-sql-kafka-0-10_2.13-}
  connector_version=${connector_version%.jar}
  [[ $connector_version == "$pyspark_version" ]] ||
    die "Kafka connector $connector_version does not match pyspark $pyspark_version; set spark.version in $pom"
  jars=$(IFS=,; echo "${files[*]}")
}

# --- split the arguments ----------------------------------------------------
submit_args=() job_args=() user_confs=() user_jars="" has_master="" has_memory="" build_cds_requested=""
remote="" session_confs="" connect_server=""
default_confs=(spark.log.level=WARN spark.ui.showConsoleProgress=false spark.ui.killEnabled=false)
master='local[*]'
while (($#)); do
  arg=$1 opt=${1%%=*}
  case $opt in
    -h | --help) usage; echo; "$venv/bin/python" "$script" --help 2>/dev/null || true; exit 0 ;;
    --print-jars) check_pyspark; connector_jars; echo "$jars"; exit 0 ;;
    --build-cds) build_cds_requested=1; shift; continue ;;
    --connect-server) connect_server=1; shift; continue ;;
    --) shift; job_args=("$@"); break ;;
    *.py) script=$1; shift; job_args=("$@"); break ;;
    --verbose | -v | --supervise) submit_args+=("$arg"); shift; continue ;;
    --master | --deploy-mode | --class | --name | --jars | --packages | --exclude-packages | \
      --repositories | --py-files | --files | --archives | --conf | -c | --properties-file | \
      --driver-memory | --driver-java-options | --driver-library-path | --driver-class-path | \
      --executor-memory | --executor-cores | --driver-cores | --total-executor-cores | \
      --num-executors | --queue | --principal | --keytab | --proxy-user | --remote) ;;
    *) job_args=("$@"); break ;;
  esac
  # an option with a value, given as `--opt value` or `--opt=value`
  if [[ $arg == *=* && $arg == --* ]]; then value=${arg#*=}; shift
  else
    (($# >= 2)) || die "$opt needs a value"
    value=$2; shift 2
  fi
  case $opt in
    --remote) remote=$value; continue ;;
    --jars) user_jars=$value; continue ;;
    --master) has_master=1 master=$value ;;
    --driver-memory) has_memory=1 ;;
    --driver-class-path) user_confs+=(spark.driver.extraClassPath) ;;
    --conf | -c)
      user_confs+=("${value%%=*}")
      case $value in
        spark.master=*) has_master=1 master=${value#*=} ;;
        spark.driver.memory=*) has_memory=1 ;;
      esac ;;
  esac
  submit_args+=("$opt" "$value")
done

check_pyspark
if [[ -n $remote ]]; then
  [[ -z $connect_server && -z $build_cds_requested ]] || die "--remote runs a job, not a server or --build-cds"
  [[ -z $user_jars ]] || die "--jars has no effect with --remote: the server's class path is set when it starts"
  while ((${#submit_args[@]})); do
    case ${submit_args[0]} in
      --conf | -c) session_confs+="${submit_args[1]}"$'\n' ;;
      *) die "${submit_args[0]} has no effect with --remote (the server's driver was started with its own settings); only --conf of session settings (spark.sql.*) can be given" ;;
    esac
    submit_args=("${submit_args[@]:2}")
  done
fi
[[ -n $remote ]] || check_java
if [[ -n $build_cds_requested ]]; then
  build_cds
  exit 0
fi
# The driver JVM's spark-submit options: the connector's jars, the defaults,
# the local file system, loopback only.
setup_driver_jvm() {
  connector_jars
  [[ -z $user_jars ]] || jars=$jars,$user_jars
  [[ -n $has_master ]] || submit_args=(--master 'local[*]' "${submit_args[@]}")
  [[ -n $has_memory ]] || submit_args+=(--driver-memory 2g)
  case $master in
    local) shuffle_partitions=1 ;;
    'local[*]' | 'local[*,'*) shuffle_partitions=$(nproc) ;;
    local\[[1-9]*) shuffle_partitions=${master#local[}; shuffle_partitions=${shuffle_partitions%%[],]*} ;;
    *) shuffle_partitions=8 ;;
  esac
  default_confs+=("spark.sql.shuffle.partitions=$shuffle_partitions")
  # The local file system without child processes (see above): the driver is the
  # only JVM of a local master, so the jar on its class path is enough.
  if [[ $master == local || $master == local\[* ]] &&
    [[ " ${user_confs[*]} " != *" spark.driver.extraClassPath "* ]] && make_localfs; then
    default_confs+=("spark.driver.extraClassPath=$(localfs_jar)"
      'spark.hadoop.fs.file.impl=org.sfcrime.hadoop.NioLocalFs$FileSystem'
      'spark.hadoop.fs.AbstractFileSystem.file.impl=org.sfcrime.hadoop.NioLocalFs$AbstractFs')
  fi
  # Loopback only (see above).
  if [[ -z ${SPARK_LOCAL_IP:-} && " ${user_confs[*]} " != *" spark.driver.bindAddress "* ]]; then
    case $master in
      local | local\[* | spark://127.0.0.1:* | spark://localhost:*)
        export SPARK_LOCAL_IP=127.0.0.1
        [[ -z $connect_server ]] || default_confs+=(spark.connect.grpc.binding.address=127.0.0.1) ;;
      *) echo "$prog: note: the master $master may be on another host, so the driver listens on this machine's address (set SPARK_LOCAL_IP to choose)" >&2 ;;
    esac
  fi
  for conf in "${default_confs[@]}"; do
    [[ " ${user_confs[*]} " == *" ${conf%%=*} "* ]] || submit_args+=(--conf "$conf")
  done
  submit_args+=(--jars "$jars")
}

# --- run ------------------------------------------------------------------
# The Python driver is the parent process; pyspark launches the venv's
# spark-submit for the JVM with PYSPARK_SUBMIT_ARGS (client mode). Unlike
# `spark-submit job.py`, whose PythonRunner merges the driver's stderr into
# stdout, this keeps the job's stdout (tables, results) apart from stderr
# (errors, Spark's log), and the JVM ignores Ctrl-C (pyspark) and SIGTERM (the
# job), so only the driver decides when Spark stops.
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$venv/bin/python}
unset PYSPARK_DRIVER_PYTHON PYSPARK_GATEWAY_PORT PYSPARK_GATEWAY_SECRET
if [[ -n $remote ]]; then
  export SPARK_REMOTE=$remote SFCRIME_SESSION_CONFS=$session_confs
else
  setup_driver_jvm
  export SPARK_HOME=$spark_home
  cds=$(cds_archive)
  # (SPARK_SUBMIT_OPTS: the driver JVM's options, in client mode)
  [[ ! -f $cds ]] || export SPARK_SUBMIT_OPTS="${SPARK_SUBMIT_OPTS:-} -XX:SharedArchiveFile=$cds"
  if [[ -n $connect_server ]]; then
    ((${#job_args[@]} == 0)) || die "--connect-server takes spark-submit options, not job options (${job_args[0]})"
    # exec: the server's pid is the JVM's (spark-submit and spark-class exec too)
    exec "$venv/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
      "${submit_args[@]}"
  fi
  quoted=""
  for arg in "${submit_args[@]}"; do
    quoted+="'${arg//\'/\'\\\'\'}' "  # single-quoted for python's shlex.split
  done
  export PYSPARK_SUBMIT_ARGS="${quoted}pyspark-shell"
fi

"$venv/bin/python" "$script" "${job_args[@]}" &
driver=$!
signals=0
# shellcheck disable=SC2317  # invoked by the trap below
on_signal() {
  signals=$((signals + 1))
  if ((signals == 1)); then
    # as INT, whatever arrived: the job catches INT from before Spark starts on (a
    # terminal's Ctrl-C also reaches it directly; the job does not mind a second one)
    kill -INT "$driver" 2>/dev/null || true
  else
    echo "$prog: second signal, killing the job" >&2
    kill -KILL "$driver" 2>/dev/null || true  # the JVM exits when its stdin closes
  fi
}
trap on_signal INT TERM
rc=0
while :; do
  wait "$driver" && rc=0 || rc=$?
  kill -0 "$driver" 2>/dev/null || break  # gone; otherwise `wait` was cut short by a signal
done
exit "$rc"
