#!/usr/bin/env bash
# Installs everything sfcrime needs on a fresh machine, idempotently:
# system packages (only if missing), the pinned Python venv, the Rust build,
# and Kafka's jars (cached under .stack/cache, so later runs are offline).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# System packages: a C toolchain + cmake for librdkafka, OpenSSL/curl/SASL
# headers for its TLS and SASL support, Java 17 (with javac) and Maven for
# Kafka/Spark.
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v mvn >/dev/null || need+=(maven)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
# spark/submit.sh compiles spark/localfs/NioLocalFs.java once (faster checkpoints).
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v g++ >/dev/null || need+=(g++)
command -v pkg-config >/dev/null || need+=(pkg-config)
# `stack up --security sasl_ssl` makes its CA and broker certificate with it.
command -v openssl >/dev/null || need+=(openssl)
# `sfcrime report` draws chart text with DejaVu Sans.
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || need+=(fonts-dejavu-core)
# The browser test (tests/integration/browser.rs) and scripts/readme-pictures.sh
# look at Spark's UI and report.html in headless Chromium (scripts/browser.sh).
command -v chromium >/dev/null || need+=(chromium)
for header in openssl/ssl.h:libssl-dev curl/curl.h:libcurl4-openssl-dev \
              sasl/sasl.h:libsasl2-dev zlib.h:zlib1g-dev; do
  [[ -e /usr/include/${header%%:*} || -e /usr/include/x86_64-linux-gnu/${header%%:*} ]] \
    || need+=("${header##*:}")
done
if ((${#need[@]})); then
  say "installing system packages: ${need[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python: pinned pyspark & co. in .venv; re-installed only when the pins change.
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum python/requirements.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  say "installing python/requirements.txt into .venv (pyspark is ~450 MB, once)"
  .venv/bin/pip install -q --disable-pip-version-check -r python/requirements.txt
  echo "$want" > "$stamp"
fi

# Every target of the workspace, with the features `cargo test` resolves: the
# binary, clippy and the tests then share one build, so a `make test` after
# `make demo` compiles no dependency twice (dev-dependencies turn on extra
# features of shared crates, e.g. syn's, and a build without them would be
# redone from librdkafka up).
say "building sfcrime and its tests (release)"
cargo build --release --workspace --all-targets -q

# The sfcrime_connector Spark source's engine (rust/connector) as the Python module
# _sfcrime_connector in .venv, built by maturin; rebuilt only when it or a crate
# it uses changes (the stamp lives in .venv, so a new venv rebuilds it too). The
# stamp covers pyproject.toml, so a module renamed there is rebuilt, and
# installing the same distribution removes the module built under the old name.
connector_stamp=.venv/.connector.sha256
connector_want=$(find Cargo.toml Cargo.lock rust/connector rust/kafka rust/records rust/config -type f \
                   \( -name '*.rs' -o -name '*.toml' -o -name Cargo.lock \) -print0 |
                 sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [[ ! -f $connector_stamp || $(cat "$connector_stamp") != "$connector_want" ]]; then
  say "building the Spark connector (rust/connector) into .venv"
  connector_log=.venv/connector-build.log
  if ! VIRTUAL_ENV=$PWD/.venv .venv/bin/maturin develop --release \
      -m rust/connector/Cargo.toml >"$connector_log" 2>&1; then
    cat "$connector_log" >&2
    exit 1
  fi
  echo "$connector_want" > "$connector_stamp"
fi

# The Spark driver JVM's class-data-sharing archive (4-7 s off every run's
# start-up; see spark/submit.sh), made once per pyspark and Java build.
spark/submit.sh --build-cds ||
  say "warning: no class-data-sharing archive, so every Spark run starts about 5 s slower (the reason is above)"

./target/release/sfcrime stack install >/dev/null
say "ready"
