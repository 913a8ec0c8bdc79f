#!/usr/bin/env bash
# Run the Swift binding's tests and the Swift quick start against the library built from this
# checkout. The package is the root Package.swift (sources and tests in bindings/swift); the quick
# start is examples/swift/QuickStart.
#
#   bash scripts/swift-test.sh [extra `swift test` arguments, e.g. --filter ConformanceTests]
#
# Where the library comes from, as for any user of the package (see Package.swift):
# * Linux: CMake builds the library (cargo's target dir is shared with `cargo build --release`)
#   and installs it into build/swift/prefix; PKG_CONFIG_PATH points at its nvs.pc, which the CNVS
#   system library module reads. The binaries get an rpath to the prefix's lib folder.
# * macOS: scripts/build-xcframework.sh --platforms macos writes dist/CNVS.xcframework (macOS
#   slice only, replacing a fuller one there), which Package.swift uses when it exists.
# SwiftPM's build folders are build/swift/.build and build/swift/quickstart.
#
# Swift: `swift` from PATH (Linux or macOS); otherwise the Debian-trixie chroot tool
# ../shared/tools/swift-chroot beside the clone (a Debian 12 host, where no Swift package exists;
# needs root). Override with SWIFT=/path/to/swift.
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"

. "$root/scripts/lib/swift.sh"
find_swift swift-test || exit 2

work=$root/build/swift
link=()
opts=()
if [ "$(uname -s)" = Darwin ]; then
  echo "swift-test: building the XCFramework's macOS slice" >&2
  bash scripts/build-xcframework.sh --platforms macos
  # Package.swift looks for dist/CNVS.xcframework, but SwiftPM caches an evaluated manifest by
  # its text and environment, not by the files it looked at: evaluate it afresh.
  opts=(--manifest-cache none)
else
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
  echo "swift-test: cmake build and install into $work/prefix" >&2
  cmake -S "$root" -B "$work/cmake" -DNVS_CARGO_TARGET_DIR="$target_dir" \
    -DNVS_BUILD_TESTS=OFF -DNVS_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$work/cmake"
  rm -rf "$work/prefix"
  cmake --install "$work/cmake" --prefix "$work/prefix" >/dev/null
  pc=$(find "$work/prefix" -name nvs.pc | head -n 1)
  [ -n "$pc" ] || { echo "swift-test: cmake --install wrote no nvs.pc" >&2; exit 1; }
  # Only this prefix's nvs.pc; the chroot tool passes the variable in (the prefix is inside the
  # repository, which it mounts).
  export PKG_CONFIG_PATH=${pc%/*}
  export SWIFT_CHROOT_PASSENV="${SWIFT_CHROOT_PASSENV:+$SWIFT_CHROOT_PASSENV }PKG_CONFIG_PATH"
  libdir=${PKG_CONFIG_PATH%/pkgconfig}
  link=(-Xlinker -rpath -Xlinker "$libdir")
fi

# SwiftPM does not track the library as an input of its links: drop the linked products so a
# rebuilt library is always linked afresh.
rm -rf "$work"/.build/*/*/*.xctest "$work"/quickstart/*/*/QuickStart

# The tests are XCTest; Swift 6 would also run an empty Swift Testing pass ("0 tests").
extra=()
if "${swift[@]}" --version 2>/dev/null | grep -qE 'Swift version ([6-9]|[1-9][0-9])\.'; then
  extra=(--disable-swift-testing)
fi
echo "swift-test: swift test (${swift[*]})" >&2
"${swift[@]}" test --scratch-path "$work/.build" ${opts[@]+"${opts[@]}"} ${link[@]+"${link[@]}"} \
  ${extra[@]+"${extra[@]}"} "$@"

echo "swift-test: quick start in examples/swift/QuickStart" >&2
(cd examples/swift/QuickStart &&
  "${swift[@]}" build --scratch-path "$work/quickstart" ${opts[@]+"${opts[@]}"} ${link[@]+"${link[@]}"})
output=$(cd examples/swift/QuickStart &&
  "${swift[@]}" run --skip-build --scratch-path "$work/quickstart" ${opts[@]+"${opts[@]}"} QuickStart)
printf '%s\n' "$output"
# x-axis is nearest (cosine 0.99388...), then y-axis (0.11043...).
if ! printf '%s\n' "$output" | awk 'NR==1 && $1=="x-axis" && $2+0 > 0.99388 && $2+0 < 0.99389 {a=1}
                                      NR==2 && $1=="y-axis" && $2+0 > 0.11043 && $2+0 < 0.11044 {b=1}
                                      END {exit !(a && b && NR==2)}'; then
  echo "swift-test: unexpected quick start output" >&2
  exit 1
fi
echo "swift-test: all Swift tests passed" >&2
