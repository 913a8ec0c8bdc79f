#!/usr/bin/env bash
# Run every test of native-vector-store, from any folder:
#   Rust (format, lint, unit + integration tests incl. C tests, ABI and header drift, the
#   library's unit tests on aarch64 under qemu so the NEON kernels run),
#   the Python oracle tests (differential + archive interop against numpy-vector-store 0.7.0),
#   C and C++ through CMake/CTest (sanitizers, find_package consumer), Go, Swift,
#   a short fuzz run of the archive reader and the benchmark smoke mode.
#
# Needs: cargo, a C/C++ compiler, cmake, GoogleTest, libclang (bindgen), go, python3 (venv),
# swift on PATH or ../shared/tools/swift-chroot, and for aarch64 the rustup target,
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (steps that lack them are
# reported as NOT RUN). `.ci/run` installs these on a new machine.
# Env: NVS_PYTHON (default .venv/bin/python, created from tests/python/requirements.txt),
#      NVS_SKIP (space-separated step names to skip: swift xcframework fuzz bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

steps=0
not_run=()
step() { steps=$((steps + 1)); echo; echo "=== $1"; }
skipped() { case " ${NVS_SKIP:-} " in *" $1 "*) echo "(skipped: NVS_SKIP)"; return 0 ;; esac; return 1; }
# A step that cannot run on this host at all: reported, and counted as skipped, not passed.
step_not_run() { echo "--- NOT RUN: $1 ($2)"; not_run+=("$1"); steps=$((steps - 1)); }

py=${NVS_PYTHON:-$root/.venv/bin/python}
if [ ! -x "$py" ]; then
  step "python venv (.venv)"
  python3 -m venv "$root/.venv"
  "$root/.venv/bin/pip" install -q -r tests/python/requirements.txt
  py=$root/.venv/bin/python
fi

step "rust: format and lint"
cargo fmt --check
cargo clippy --all-targets -- -D warnings

step "rust: build (release) and tests (unit, rules, persistence, C, ABI, header drift)"
cargo build --release
cargo test

step "rust: forced kernel paths give the same results (rules, C conformance and API tests)"
# NVS_KERNEL forces an implementation (an unsupported one would silently fall back to the best,
# so each is run only where the CPU has it, and one it lacks is counted as NOT RUN below). The
# plain `cargo test` above ran the best one this CPU has; src/kernels tests compare them all.
cpu_has() { for f in "$@"; do grep -qw "$f" /proc/cpuinfo 2>/dev/null || return 1; done; }
for kernel in portable avx2 avx512; do
  case $kernel in
    portable) needs=() ;;
    avx2) needs=(avx2 fma) ;;
    avx512) needs=(avx2 fma avx512f avx512dq) ;;
  esac
  if [ "$(uname -m)" = x86_64 ] && cpu_has "${needs[@]}"; then
    echo "--- NVS_KERNEL=$kernel"
    NVS_KERNEL=$kernel cargo test --release --test rules --test c_tests
    if [ $kernel = avx512 ] && cpu_has amx_bf16 amx_tile avx512_bf16; then
      # Normalized batches took the AMX screen above; the f32 screen must hold here too.
      echo "--- NVS_KERNEL=$kernel NVS_SCREEN=f32"
      NVS_KERNEL=$kernel NVS_SCREEN=f32 cargo test --release --test rules --test c_tests
    fi
  elif [ "$kernel" != portable ]; then
    echo "--- NOT RUN: kernel $kernel (this CPU lacks ${needs[*]})"
    not_run+=("kernel $kernel")
  fi
done

aarch64=aarch64-unknown-linux-gnu
step "rust: the NEON kernels compile for Apple Silicon / arm64 Linux"
if rustup target list --installed 2>/dev/null | grep -qx $aarch64 || rustup target add $aarch64; then
  aarch64_std=yes
  cargo check --release --lib --target $aarch64
else
  aarch64_std=no
  step_not_run "aarch64 build" "rustup cannot add the $aarch64 standard library here"
fi

step "rust: the NEON kernels run (the library's unit tests on aarch64, under qemu-aarch64 off arm)"
# Every kernel test compares each implementation the CPU supports with the portable one, and
# asserts that NEON is among them on aarch64: one run checks NEON. A second forces the portable
# path for the store and search tests. Under qemu-user a process cannot exec another aarch64
# binary (no binfmt_misc), so the two tests that re-run their test binary in a child process
# are skipped there; they run natively above and on an arm64 host.
aarch64_linker=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}
aarch64_runner=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L /usr/aarch64-linux-gnu}
# Can this host link an aarch64 program and run it? (a C one: quicker than a Rust build)
runs_aarch64() {
  local tmp rc=0
  tmp=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$tmp/probe.c"
  { "$aarch64_linker" "$tmp/probe.c" -o "$tmp/probe" && $aarch64_runner "$tmp/probe"; } >/dev/null 2>&1 || rc=1
  rm -rf "$tmp"
  return $rc
}
# Lint the NEON code too (x86 clippy never compiles it); needs only the target's std.
if [ "$(uname -m)" = aarch64 ] || [ "$aarch64_std" = yes ]; then
  echo "--- clippy, aarch64"
  cargo clippy --target $aarch64 --lib --tests -- -D warnings
fi
if [ "$(uname -m)" = aarch64 ]; then
  for kernel in neon portable; do
    echo "--- NVS_KERNEL=$kernel (native)"
    NVS_KERNEL=$kernel cargo test --lib
  done
elif [ "$aarch64_std" != yes ]; then
  step_not_run "aarch64 tests" "no $aarch64 standard library"
elif ! runs_aarch64; then
  step_not_run "aarch64 tests" \
    "cannot link and run aarch64 programs: needs $aarch64_linker and ${aarch64_runner%% *} (Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
else
  for kernel in neon portable; do
    echo "--- NVS_KERNEL=$kernel (qemu)"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$aarch64_linker \
      CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=$aarch64_runner NVS_KERNEL=$kernel \
      cargo test --lib --target $aarch64 -- \
      --skip ffi::tests::panics_become_internal_with_their_message_and_print_nothing \
      --skip npz::write::tests::failed_writes_print_nothing
  done
fi

# The reference's float32 values follow the CPU's numpy and OpenBLAS kernels: on x86-64 the
# checks run again with the AVX2 kernels an AMD Zen host gets, whatever this host is
# (tests/conformance/README.md).
amd_rounding=(env OPENBLAS_CORETYPE=Haswell NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR")

step "python: conformance cases are what numpy-vector-store 0.7.0 says"
"$py" tests/conformance/generate.py --check
if [[ $(uname -m) == x86_64 ]]; then
  echo "--- with OpenBLAS Haswell kernels and numpy without AVX-512 (an AMD Zen host's rounding)"
  "${amd_rounding[@]}" "$py" tests/conformance/generate.py --check
fi

step "python: differential and interop tests against numpy-vector-store 0.7.0"
NVS_LIB=$root/target/release/libnvs.so "$py" -m pytest -q tests/python
NVS_KERNEL=portable NVS_LIB=$root/target/release/libnvs.so "$py" -m pytest -q tests/python/test_differential.py
if [[ $(uname -m) == x86_64 ]]; then
  echo "--- differential tests with an AMD Zen host's float32 rounding in the reference (see above)"
  "${amd_rounding[@]}" NVS_LIB=$root/target/release/libnvs.so "$py" -m pytest -q tests/python/test_differential.py
fi

step "c and c++: cmake + ctest"
cmake -S . -B build -DNVS_CARGO_TARGET_DIR="$root/target" -DNVS_WERROR=ON >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2

step "c and c++: cmake Release build (what most users configure) + ctest"
# -O2 brings warnings the default build never sees (g++ 12's maybe-uninitialized); the suites
# must build and pass here too. The sanitizer suites already ran above.
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DNVS_CARGO_TARGET_DIR="$root/target" -DNVS_WERROR=ON \
  -DNVS_SANITIZERS=OFF >/dev/null
cmake --build build-release -j2
ctest --test-dir build-release --output-on-failure -j2 -E '^tsan\.'

step "go: vet and race tests (binding and example server)"
# The module links bindings/go/lib/<goos>-<goarch>/libnvs.a: stage it from the working tree.
# Go's build cache does not hash libnvs.a (a linker input named in cgo flags): a flag that
# carries the library's hash makes every rebuilt library relink the test binaries.
bash scripts/stage-go-libs.sh
golib=$(sha256sum "bindings/go/lib/$(go env GOOS)-$(go env GOARCH)/libnvs.a" | cut -c1-16)
(cd bindings/go && test -z "$(gofmt -l .)" && go vet ./... && go test -race -count=1 -ldflags="-X=main.nvsLib=$golib" ./...)
(cd examples/go && test -z "$(gofmt -l .)" && go vet ./... && go test -race -count=1 -ldflags="-X=main.nvsLib=$golib" ./...)

step "go: the module as users get it (release tag, static link, vendoring, nvs_system, go install)"
bash scripts/consumer/go.sh

step "swift: binding tests and quick start"
skipped swift || bash scripts/swift-test.sh

step "swift: consumers by git URL at a tag and by path (outside the repository)"
skipped swift || bash scripts/consumer/swift.sh

step "swift: XCFramework cross-built on Linux and its structure checked"
skipped xcframework || { bash scripts/build-xcframework.sh && bash scripts/check-xcframework.sh; }

step "fuzz: archive reader and C API smoke runs"
skipped fuzz || bash scripts/fuzz.sh smoke

step "bench: smoke mode"
skipped bench || bash bench/run.sh --smoke

echo
echo "All test steps passed."
if [ ${#not_run[@]} -gt 0 ]; then
  echo "Not run on this host: ${not_run[*]}"
fi
# Every step above exits the script on failure, so reaching here means all of them passed.
echo "steps: $steps passed, 0 failed, ${#not_run[@]} skipped"
