#!/usr/bin/env bash
# Fuzz the library with cargo-fuzz (fuzz/). Needs a nightly toolchain (libFuzzer
# instrumentation); installs cargo-fuzz if missing. Targets:
#   open_bytes  any bytes into the archive reader (VectorStore::open_bytes, nvs_store_open_bytes)
#   c_api       random sequences of C API calls on one store, checked after every call against
#               a shadow model (fuzz/fuzz_targets/c_api.rs lists the invariants)
#
#   bash scripts/fuzz.sh smoke                 # both targets briefly (30 s + 45 s), as scripts/test.sh does
#   bash scripts/fuzz.sh TARGET [SECONDS]      # one target for SECONDS (default 600)
#   bash scripts/fuzz.sh TARGET runs=N         # one target for N executions, e.g. runs=10000000
#   bash scripts/fuzz.sh SECONDS               # open_bytes for SECONDS (the old form)
#   bash scripts/fuzz.sh TARGET 3600 -- -jobs=2 -workers=2    # extra libFuzzer flags after --
#
# A long run, nice'd, with the progress in a log:
#   nice bash scripts/fuzz.sh c_api runs=10000000 > fuzz-c_api.log 2>&1
# The corpus grows in fuzz/corpus/TARGET/ (kept between runs, not committed); a crash stops the
# run and is saved in fuzz/artifacts/TARGET/. Replay or print one (c_api prints the op list):
#   cargo +nightly fuzz run c_api fuzz/artifacts/c_api/crash-...
#   cargo +nightly fuzz fmt c_api fuzz/artifacts/c_api/crash-...
#   cargo +nightly fuzz tmin c_api fuzz/artifacts/c_api/crash-...       # shrink it first
# Environment: NVS_FUZZ_STATS=1 prints c_api's per-call status counts at exit, NVS_KERNEL=
# portable|avx2|avx512 picks the search kernels (default: the best the CPU has),
# NVS_FUZZ_BUILD="-s none --no-trace-compares" passes cargo-fuzz build flags (that pair runs
# c_api about 8x faster, without AddressSanitizer and comparison tracing: for long runs).
# docs/fuzzing.md has more.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

targets=(open_bytes c_api)
mode=${1:-600}
shift || true
case "$mode" in
  smoke) runs=("open_bytes 30" "c_api 45") ;;
  open_bytes | c_api)
    limit=600
    if [[ $# -gt 0 && $1 != -- ]]; then limit=$1; shift; fi
    runs=("$mode $limit")
    ;;
  *[!0-9]*)
    echo "usage: $0 smoke | TARGET [SECONDS | runs=N] [-- libFuzzer flags] | SECONDS" >&2
    echo "targets: ${targets[*]}" >&2
    exit 2
    ;;
  *) runs=("open_bytes $mode") ;;
esac
[[ ${1:-} == -- ]] && shift
extra=("$@")

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || {
    echo "fuzz: no nightly toolchain can be installed here; the fuzz run needs one (skipped)" >&2
    exit 0
  }
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for run in "${runs[@]}"; do
  read -r target limit <<<"$run"
  case "$limit" in
    runs=*) budget=(-runs="${limit#runs=}") ;;
    *[!0-9]* | '') echo "fuzz: bad limit '$limit' (SECONDS or runs=N)" >&2; exit 2 ;;
    *) budget=(-max_total_time="$limit") ;;
  esac
  flags=(-rss_limit_mb=2048 -print_final_stats=1)
  seeds=()
  [[ -d fuzz/seeds/$target ]] && seeds=("fuzz/seeds/$target")
  [[ $target == open_bytes ]] && flags+=(-dict=fuzz/npz.dict)
  echo "fuzz: $target, ${budget[*]}" >&2
  mkdir -p "fuzz/corpus/$target"
  # shellcheck disable=SC2086 # NVS_FUZZ_BUILD is a list of flags
  cargo +nightly fuzz run ${NVS_FUZZ_BUILD:-} "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
    "${budget[@]}" "${flags[@]}" "${extra[@]}"
done
