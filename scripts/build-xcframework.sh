#!/usr/bin/env bash
# Build CNVS.xcframework: the static libnvs for Apple platforms with nvs.h and a module map
# named CNVS. bindings/swift/Package.swift uses it (as a binaryTarget, no unsafe flags) when it
# sits at bindings/swift/Frameworks/CNVS.xcframework, the default output; an Xcode project can
# also link it directly. Needs a Mac with Xcode (xcodebuild, lipo) and rustup.
#
#   bash scripts/build-xcframework.sh [OUTPUT.xcframework]
#   NVS_X86_64=1 bash scripts/build-xcframework.sh    # also Intel Macs and the x86_64 simulator
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bindings/swift/Frameworks/CNVS.xcframework}
# Keep in step with `platforms` in bindings/swift/Package.swift.
export MACOSX_DEPLOYMENT_TARGET=${MACOSX_DEPLOYMENT_TARGET:-11.0}
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-14.0}

macos=(aarch64-apple-darwin)
ios=(aarch64-apple-ios)
simulator=(aarch64-apple-ios-sim)
if [ "${NVS_X86_64:-0}" = 1 ]; then
  macos+=(x86_64-apple-darwin)
  simulator+=(x86_64-apple-ios)
fi

cd "$root"
rustup target add "${macos[@]}" "${ios[@]}" "${simulator[@]}"
for target in "${macos[@]}" "${ios[@]}" "${simulator[@]}"; do
  # Only the static library: a cdylib is not needed (and not wanted) for iOS.
  cargo rustc --release --lib --crate-type staticlib --target "$target"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir "$stage/headers"
cp include/nvs.h "$stage/headers/"
cat > "$stage/headers/module.modulemap" <<'EOF'
module CNVS {
    header "nvs.h"
    export *
}
EOF

# One libnvs.a per platform, holding every architecture built for it.
universal() {
  local platform=$1; shift
  mkdir "$stage/$platform"
  lipo -create $(printf 'target/%s/release/libnvs.a ' "$@") -output "$stage/$platform/libnvs.a"
}
universal macos "${macos[@]}"
universal ios "${ios[@]}"
universal ios-simulator "${simulator[@]}"

rm -rf "$out"
xcodebuild -create-xcframework \
  -library "$stage/macos/libnvs.a" -headers "$stage/headers" \
  -library "$stage/ios/libnvs.a" -headers "$stage/headers" \
  -library "$stage/ios-simulator/libnvs.a" -headers "$stage/headers" \
  -output "$out"
echo "built $out"
