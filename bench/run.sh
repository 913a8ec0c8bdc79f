#!/usr/bin/env bash
# Benchmark harness: builds the library and the bench helper, sets up a Python venv with the
# peers (numpy-vector-store 0.7.0, faiss-cpu, usearch, matplotlib), runs the single-query grid
# against the peers and the bandwidth floor, the Rust-side benchmarks, then the table and chart.
#
#   bench/run.sh            full grid (about 15-25 minutes on 2 cores)
#   bench/run.sh --smoke    small grid, short timings (about a minute; CI)
#
# Environment: NVS_BENCH_VENV (default bench/.venv), PYTHON (default python3), OUT (default
# bench/out), NVS_KERNEL to force a kernel (portable|avx2|avx512).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=()
[[ "${1:-}" == "--smoke" ]] && SMOKE=(--smoke)
OUT="${OUT:-bench/out}"
VENV="${NVS_BENCH_VENV:-bench/.venv}"
mkdir -p "$OUT"

cargo build --release --lib
cargo build --release --manifest-path bench/Cargo.toml
if [[ ! -x "$VENV/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q numpy-vector-store==0.7.0 faiss-cpu usearch matplotlib threadpoolctl

# Single-threaded everywhere. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on this kind of
# machine to work around old OpenBLAS bugs; they slow a current numpy, so they are unset for
# the benchmark only (peers.py records the BLAS kernel it then uses).
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$@"; }

run "$VENV/bin/python" bench/peers.py "${SMOKE[@]}" --out "$OUT" | tee "$OUT/peers.log"
run bench/target/release/nvs-bench "${SMOKE[@]}" ffi ingest threads batch filtered memory persist mapped float16 | tee "$OUT/rust.md"
if [[ ${#SMOKE[@]} -eq 0 ]]; then
  run "$VENV/bin/python" bench/batch_peers.py --out "$OUT" | tee "$OUT/batch_peers.md"
  run "$VENV/bin/python" bench/big_peers.py | tee "$OUT/big_peers.md"
  run "$VENV/bin/python" bench/ingest_peers.py | tee "$OUT/ingest_peers.md"
  run "$VENV/bin/python" bench/persist_peers.py --runs 3 --reference | tee "$OUT/persist_peers.md"
else
  run "$VENV/bin/python" bench/ingest_peers.py --rows 10000 --single 2000 --runs 2 | tee "$OUT/ingest_peers.md"
  run "$VENV/bin/python" bench/persist_peers.py --rows 100000 --runs 2 | tee "$OUT/persist_peers.md"
fi
"$VENV/bin/python" bench/report.py --out "$OUT"
