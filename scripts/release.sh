#!/usr/bin/env bash
# Build everything a release publishes, on Linux, into dist/ (gitignored), and test each
# artifact from the artifact alone:
#
#   dist/nvs-VERSION-linux-x86_64.tar.gz, dist/nvs-VERSION-linux-aarch64.tar.gz
#       C/C++: include/ (nvs.h, nvs/nvs.hpp), lib/ (libnvs.a, libnvs.so.VERSION with its SONAME
#       and development links), lib/cmake/nvs (find_package), lib/pkgconfig/nvs.pc, licenses.
#       Tested by building bindings/cpp/tests/consumer (find_package, pkg-config, fully static) against
#       the unpacked tarball; the aarch64 one is cross-built and its programs run under qemu.
#   dist/nvs-go-libs-VERSION.tar.gz
#       bindings/go/lib/<goos>-<goarch>/libnvs.a for linux/amd64, linux/arm64, darwin/arm64,
#       darwin/amd64 (what the Go release commit adds to the module). Tested by
#       scripts/consumer/go.sh (a tagged module copy: build, vet, race tests, static link,
#       vendoring, nvs_system, go install).
#   dist/CNVS.xcframework.zip and dist/CNVS.xcframework.checksum (SwiftPM's sha256)
#       Built by scripts/build-xcframework.sh, checked by scripts/check-xcframework.sh (plist,
#       slices, architectures, platform load commands, exported symbols).
#
# Then it prints the tags to push. Publishing (tags, uploads) is the maintainers' step:
# docs/releasing.md.
#
#   bash scripts/release.sh 0.2.0
#   NVS_RELEASE_PARTS="c go" bash scripts/release.sh 0.2.0    # a subset (c, go, swift)
#
# Needs (installed on Debian when missing): gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu,
# qemu-user, llvm (lipo/objdump for the XCFramework), and rustup targets it adds itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=${1:?usage: scripts/release.sh VERSION}
cargo_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
if [ "$version" != "$cargo_version" ]; then
  echo "release: VERSION $version is not Cargo.toml's version $cargo_version (bump it first)" >&2
  exit 2
fi
header_version=$(sed -n 's/^#define NVS_VERSION "\(.*\)"/\1/p' include/nvs.h)
if [ "$header_version" != "$version" ]; then
  echo "release: include/nvs.h says $header_version (NVS_UPDATE_HEADER=1 cargo test --test header)" >&2
  exit 2
fi

start=$SECONDS
say() { echo "=== release: $*"; }
parts=" ${NVS_RELEASE_PARTS:-c go swift} "
part() { [[ "$parts" == *" $1 "* ]]; }

need=()
for pkg in gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user llvm zip unzip pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

dist=$root/dist
rm -rf "$dist"
mkdir -p "$dist/work"
work=$dist/work

# ---- C/C++ tarballs ------------------------------------------------------------------------
cat >"$work/aarch64-linux-gnu.cmake" <<'EOF'
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
EOF

# c_tarball PLATFORM RUST_TARGET STRIP [cmake args...]
c_tarball() {
  local platform=$1 rust_target=$2 strip=$3
  shift 3
  local name=nvs-$version-$platform
  say "C/C++ $platform"
  rustup target add "$rust_target" >/dev/null 2>&1 || true
  cmake -S . -B "$work/build-$platform" -DCMAKE_BUILD_TYPE=Release -DNVS_BUILD_TESTS=OFF \
    -DNVS_BUILD_EXAMPLES=OFF -DNVS_CARGO_TARGET_DIR="$root/target/release-artifacts" "$@" >/dev/null
  cmake --build "$work/build-$platform" -j2
  cmake --install "$work/build-$platform" --prefix "$work/$name" >/dev/null
  # The Rust standard library's debug info is most of libnvs.a; users do not need it.
  "$strip" --strip-debug "$work/$name/lib/libnvs.a"
  cp LICENSE-MIT LICENSE-APACHE README.md CHANGELOG.md "$work/$name/"
  tar -C "$work" -czf "$dist/$name.tar.gz" "$name"
  rm -rf "$work/$name"
  c_consumer "$platform" "$@"
}

# c_consumer PLATFORM [cmake args...]: unpack the tarball alone and build bindings/cpp/tests/consumer
# against it (find_package, pkg-config, fully static), then run its tests.
c_consumer() {
  local platform=$1
  shift
  local name=nvs-$version-$platform
  local at=$work/consumer-$platform
  rm -rf "$at"
  mkdir -p "$at"
  tar -C "$at" -xzf "$dist/$name.tar.gz"
  cp -r bindings/cpp/tests/consumer "$at/src"
  local prefix=$at/$name
  PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=$prefix/lib/pkgconfig \
    cmake -S "$at/src" -B "$at/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DNVS_EXPECT_PREFIX="$prefix" -DNVS_EXPECT_VERSION="$version" \
    -DNVS_CONSUMER_PKG_CONFIG=ON -DNVS_CONSUMER_FULLY_STATIC=ON "$@" >/dev/null
  cmake --build "$at/build" -j2
  ctest --test-dir "$at/build" --output-on-failure
  rm -rf "$at"
}

if part c; then
  c_tarball linux-x86_64 x86_64-unknown-linux-gnu strip
  c_tarball linux-aarch64 aarch64-unknown-linux-gnu aarch64-linux-gnu-strip \
    -DCMAKE_TOOLCHAIN_FILE="$work/aarch64-linux-gnu.cmake" -DNVS_RUST_TARGET=aarch64-unknown-linux-gnu
fi

# ---- Go: the module's native libraries -----------------------------------------------------
if part go; then
  say "Go static libraries for every platform"
  bash scripts/stage-go-libs.sh --all
  tar -C bindings/go -czf "$dist/nvs-go-libs-$version.tar.gz" lib
  bash scripts/consumer/go.sh
fi

# ---- Swift: the XCFramework ------------------------------------------------------------------
if part swift; then
  say "XCFramework"
  bash scripts/build-xcframework.sh
  bash scripts/check-xcframework.sh
fi

say "done in $((SECONDS - start)) s"
ls -l "$dist" | sed '1d;/ work$/d'
rm -rf "$work"
cat <<EOF

Artifacts are in dist/. To publish $version (docs/releasing.md):
  git tag v$version && git push origin v$version
  # the Go release commit adds bindings/go/lib/*/libnvs.a (dist/nvs-go-libs-$version.tar.gz), then:
  git tag bindings/go/v$version && git tag examples/go/v$version && git push origin bindings/go/v$version examples/go/v$version
  # attach dist/*.tar.gz and dist/CNVS.xcframework.zip to the v$version release; before tagging,
  # scripts/build-xcframework.sh --release-url URL writes that URL and the checksum into Package.swift.
EOF
