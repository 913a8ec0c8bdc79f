#!/usr/bin/env bash
# Fuzz the archive reader (nvs_store_open_bytes via VectorStore::open_bytes) with cargo-fuzz.
#   bash scripts/fuzz.sh smoke      # 30 s, as in CI
#   bash scripts/fuzz.sh [SECONDS]  # a longer run (default 600)
# Needs a nightly toolchain (libFuzzer instrumentation); installs cargo-fuzz if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "${1:-600}" in smoke) seconds=30 ;; *) seconds=${1:-600} ;; esac

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || {
    echo "fuzz: no nightly toolchain can be installed here; the fuzz run needs one (skipped)" >&2
    exit 0
  }
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mkdir -p fuzz/corpus/open_bytes
cargo +nightly fuzz run open_bytes fuzz/corpus/open_bytes fuzz/seeds/open_bytes -- \
  -dict=fuzz/npz.dict -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
