#!/usr/bin/env bash
# Run the Swift binding's tests (bindings/swift) and the Swift quick start (examples/swift).
#
#   bash scripts/swift-test.sh [extra `swift test` arguments, e.g. --filter ConformanceTests]
#
# Builds the Rust static library on this host first (`cargo build --release`), then runs
# `swift test` in bindings/swift. Uses `swift` from PATH when there is one (Linux or macOS);
# otherwise the Debian-trixie chroot tool ../shared/tools/swift-chroot beside the clone (CI on a
# Debian 12 host, where no Swift package exists; needs root). Override with SWIFT=/path/to/swift.
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"

if [ -n "${SWIFT:-}" ]; then
  swift=("$SWIFT")
elif command -v swift >/dev/null 2>&1; then
  swift=(swift)
elif [ -x "$root/../shared/tools/swift-chroot" ]; then
  swift=("$root/../shared/tools/swift-chroot")
else
  echo "swift-test: no swift on PATH and no $root/../shared/tools/swift-chroot" >&2
  exit 2
fi

echo "swift-test: cargo build --release" >&2
cargo build --release

# The package links $NVS_LIB_DIR/libnvs.a (default <repo>/target/release). The chroot tool
# starts swift with a clean environment and only mounts the repo, so it needs the default.
lib_dir=${CARGO_TARGET_DIR:-$root/target}/release
case "$lib_dir" in /*) ;; *) lib_dir=$root/$lib_dir ;; esac
export NVS_LIB_DIR=$lib_dir
if [ "$(cd "$lib_dir" && pwd -P)" != "$(cd "$root/target/release" 2>/dev/null && pwd -P)" ] &&
   [ "${swift[0]##*/}" = swift-chroot ]; then
  echo "swift-test: the chroot tool needs the library in $root/target (unset CARGO_TARGET_DIR)" >&2
  exit 2
fi

echo "swift-test: swift test in bindings/swift (${swift[*]})" >&2
# SwiftPM does not see libnvs.a (passed as a linker flag) as an input: drop linked products so a
# rebuilt library is always relinked.
rm -rf bindings/swift/.build/*/*/*.xctest examples/swift/QuickStart/.build/*/*/QuickStart

# The tests are XCTest; Swift 6 would also run an empty Swift Testing pass ("0 tests").
extra=()
if "${swift[@]}" --version 2>/dev/null | grep -qE 'Swift version ([6-9]|[1-9][0-9])\.'; then
  extra=(--disable-swift-testing)
fi
(cd bindings/swift && "${swift[@]}" test "${extra[@]}" "$@")

echo "swift-test: quick start in examples/swift/QuickStart" >&2
(cd examples/swift/QuickStart && "${swift[@]}" build)
output=$(cd examples/swift/QuickStart && "${swift[@]}" run --skip-build QuickStart)
printf '%s\n' "$output"
# x-axis is nearest (cosine 0.99388...), then y-axis (0.11043...).
if ! printf '%s\n' "$output" | awk 'NR==1 && $1=="x-axis" && $2+0 > 0.99388 && $2+0 < 0.99389 {a=1}
                                      NR==2 && $1=="y-axis" && $2+0 > 0.11043 && $2+0 < 0.11044 {b=1}
                                      END {exit !(a && b && NR==2)}'; then
  echo "swift-test: unexpected quick start output" >&2
  exit 1
fi
echo "swift-test: all Swift tests passed" >&2
