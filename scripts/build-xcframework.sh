#!/usr/bin/env bash
# Build CNVS.xcframework: the static libnvs for Apple platforms with nvs.h and a module map named
# CNVS, zipped, with the checksum SwiftPM wants for a `.binaryTarget(url:checksum:)`.
# Runs on Linux or macOS; no Xcode needed (a Rust static library needs no target linker).
#
#   bash scripts/build-xcframework.sh                        # all slices, into dist/
#   bash scripts/build-xcframework.sh --platforms macos      # only the macOS slice (dev builds)
#   bash scripts/build-xcframework.sh --release-url URL      # also write URL + checksum into
#                                                            # Package.swift (cutting a release)
#   bash scripts/check-xcframework.sh                        # check what was built
#
# Output (dist/ is not in git):
#   dist/CNVS.xcframework/               Info.plist and one folder per slice:
#     macos-arm64_x86_64/                  libnvs.a (universal) + Headers/CNVS/{nvs.h,module.modulemap}
#     ios-arm64/                           libnvs.a + Headers/CNVS/...
#     ios-arm64_x86_64-simulator/          libnvs.a (universal) + Headers/CNVS/...
#   dist/CNVS.xcframework.zip            what a release publishes
#   dist/CNVS.xcframework.checksum       sha256 of the zip (= `swift package compute-checksum`)
# The root Package.swift uses dist/CNVS.xcframework on Apple hosts when it exists.
#
# Steps: `rustup target add` for each Rust target, then `cargo rustc --release --lib
# --crate-type staticlib --target T`; debug info and embedded LLVM bitcode are stripped from each
# archive (llvm-strip), architectures are joined per platform (llvm-lipo, or lipo on macOS), and
# the Info.plist is written in the form `xcodebuild -create-xcframework` writes.
# When rustup cannot install a target's prebuilt standard library (a mirror that lacks it), the
# standard library is compiled from source for that target instead (rust-src component,
# -Zbuild-std, RUSTC_BOOTSTRAP=1 on a stable toolchain); the script says so when it happens.
#
# Needs: cargo (rustup recommended), llvm-lipo or lipo, zip, sha256sum or shasum; llvm-strip is
# optional (without it the archives keep their debug info and bitcode: larger, equally usable).
# Env: LIPO, LLVM_STRIP (tool paths), CARGO_TARGET_DIR (honoured), MACOSX_DEPLOYMENT_TARGET,
#      IPHONEOS_DEPLOYMENT_TARGET (default 11.0 / 14.0: keep in step with Package.swift).
set -euo pipefail

prog=build-xcframework
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
out_dir=$root/dist
platforms="macos ios ios-simulator"
release_url=""
while [ $# -gt 0 ]; do
  case $1 in
    --platforms) [ $# -ge 2 ] || die "--platforms needs a value"; platforms=$2; shift 2 ;;
    --release-url) [ $# -ge 2 ] || die "--release-url needs a value"; release_url=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case $release_url in
  "" | https://*) ;;
  *) die "--release-url must be an https:// URL (SwiftPM downloads binary targets over https)" ;;
esac
if [ -n "$release_url" ] && [ "$platforms" != "macos ios ios-simulator" ]; then
  die "--release-url needs every platform (no --platforms)"
fi
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

# Keep in step with `platforms` in Package.swift.
export MACOSX_DEPLOYMENT_TARGET=${MACOSX_DEPLOYMENT_TARGET:-11.0}
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-14.0}

# Slice table: platform -> library identifier, Rust targets, Info.plist platform and variant.
slice_id() {
  case $1 in
    macos) echo macos-arm64_x86_64 ;;
    ios) echo ios-arm64 ;;
    ios-simulator) echo ios-arm64_x86_64-simulator ;;
    *) die "unknown platform '$1' (macos, ios, ios-simulator)" ;;
  esac
}
slice_targets() {
  case $1 in
    macos) echo aarch64-apple-darwin x86_64-apple-darwin ;;
    ios) echo aarch64-apple-ios ;;
    ios-simulator) echo aarch64-apple-ios-sim x86_64-apple-ios ;;
  esac
}
arch_of() { case $1 in aarch64-*) echo arm64 ;; x86_64-*) echo x86_64 ;; *) die "no arch for $1" ;; esac; }
for p in $platforms; do slice_id "$p" >/dev/null; done

# A tool by its plain name, else the newest versioned one (Debian: llvm-lipo-14).
find_tool() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    local best
    best=$(compgen -c "$name-" | grep -E "^$name-[0-9]+$" | sort -t- -k3 -n | tail -n 1 || true)
    if [ -n "$best" ]; then command -v "$best"; return 0; fi
  done
  return 1
}
lipo=${LIPO:-$(find_tool llvm-lipo lipo)} || die "no llvm-lipo or lipo (Debian: apt-get install llvm)"
strip_tool=${LLVM_STRIP:-$(find_tool llvm-strip || true)}
command -v zip >/dev/null || die "zip not found"
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null; then sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else die "no sha256sum or shasum"; fi
command -v cargo >/dev/null || die "cargo not found"
command -v rustc >/dev/null || die "rustc not found"
have_rustup=0
command -v rustup >/dev/null && have_rustup=1

cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac

# True when the toolchain has a prebuilt standard library for target $1.
has_std() {
  local dir
  dir=$(rustc --print target-libdir --target "$1" 2>/dev/null) || return 1
  compgen -G "$dir/libstd-*.rlib" >/dev/null
}

t_start=$SECONDS
from_source=""   # targets whose standard library was built from source
for p in $platforms; do
  for t in $(slice_targets "$p"); do
    if ! has_std "$t" && [ $have_rustup = 1 ]; then
      say "rustup target add $t"
      rustup target add "$t" >&2 || say "rustup could not install the standard library for $t"
    fi
    t0=$SECONDS
    if has_std "$t"; then
      say "cargo rustc --release --lib --crate-type staticlib --target $t"
      cargo rustc --release --lib --crate-type staticlib --target "$t"
    else
      sysroot=$(rustc --print sysroot)
      if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
        [ $have_rustup = 1 ] || die "no standard library for $t and no rust-src to build one"
        rustup component add rust-src >&2
      fi
      say "no prebuilt standard library for $t: building it from source (-Zbuild-std)"
      # A target folder of its own: RUSTC_BOOTSTRAP changes the fingerprint of the host-side
      # crates (proc macros, build scripts), which would otherwise rebuild back and forth.
      RUSTC_BOOTSTRAP=1 cargo rustc --release --lib --crate-type staticlib --target "$t" \
        --target-dir "$target_dir/build-std" -Zbuild-std=std,panic_unwind
      from_source+=" $t"
    fi
    say "$t: $((SECONDS - t0)) s"
  done
done
t_cargo=$((SECONDS - t_start))

stage=$(mktemp -d "$out_dir/.CNVS.xcframework.XXXXXX")
trap 'rm -rf "$stage"' EXIT
xcf=$stage/CNVS.xcframework
mkdir -p "$xcf" "$stage/thin"

if [ -z "$strip_tool" ]; then
  say "llvm-strip not found: keeping debug info and bitcode in the archives"
fi
plist_libraries=""
for p in $platforms; do
  id=$(slice_id "$p")
  archs=()
  thin=()
  for t in $(slice_targets "$p"); do
    case " $from_source " in
      *" $t "*) a=$target_dir/build-std/$t/release/libnvs.a ;;
      *) a=$target_dir/$t/release/libnvs.a ;;
    esac
    [ -f "$a" ] || die "missing $a"
    if [ -n "$strip_tool" ]; then
      # Debug info is for debugging this library, not for apps; the bitcode section (an input
      # to link-time optimization, no longer used by Xcode) only adds size.
      "$strip_tool" --strip-debug --remove-section=__LLVM,__bitcode --remove-section=__LLVM,__cmdline \
        "$a" -o "$stage/thin/$t.a"
    else
      cp "$a" "$stage/thin/$t.a"
    fi
    archs+=("$(arch_of "$t")")
    thin+=("$stage/thin/$t.a")
  done
  mkdir -p "$xcf/$id/Headers/CNVS"
  if [ ${#thin[@]} -eq 1 ]; then
    cp "${thin[0]}" "$xcf/$id/libnvs.a"
  else
    "$lipo" -create "${thin[@]}" -output "$xcf/$id/libnvs.a"
  fi
  # The header and module map sit in a folder named after the module: Xcode copies every
  # XCFramework's Headers into one include folder, where two packages' top-level
  # module.modulemap files would collide; clang finds CNVS/module.modulemap for `import CNVS`.
  cp include/nvs.h "$xcf/$id/Headers/CNVS/nvs.h"
  cat > "$xcf/$id/Headers/CNVS/module.modulemap" <<'EOF'
module CNVS {
    header "nvs.h"
    export *
}
EOF
  arch_xml=""
  for a in $(printf '%s\n' "${archs[@]}" | sort); do
    arch_xml+=$'\t\t\t\t'"<string>$a</string>"$'\n'
  done
  variant_xml=""
  case $p in
    ios-simulator) platform=ios; variant_xml=$'\t\t\t<key>SupportedPlatformVariant</key>\n\t\t\t<string>simulator</string>\n' ;;
    *) platform=$p ;;
  esac
  plist_libraries+=$'\t\t<dict>\n'
  plist_libraries+=$'\t\t\t<key>BinaryPath</key>\n\t\t\t<string>libnvs.a</string>\n'
  plist_libraries+=$'\t\t\t<key>HeadersPath</key>\n\t\t\t<string>Headers</string>\n'
  plist_libraries+=$'\t\t\t<key>LibraryIdentifier</key>\n\t\t\t'"<string>$id</string>"$'\n'
  plist_libraries+=$'\t\t\t<key>LibraryPath</key>\n\t\t\t<string>libnvs.a</string>\n'
  plist_libraries+=$'\t\t\t<key>SupportedArchitectures</key>\n\t\t\t<array>\n'"$arch_xml"$'\t\t\t</array>\n'
  plist_libraries+=$'\t\t\t<key>SupportedPlatform</key>\n\t\t\t'"<string>$platform</string>"$'\n'
  plist_libraries+=$variant_xml
  plist_libraries+=$'\t\t</dict>\n'
done

{
  printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>'
  printf '%s\n' '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">'
  printf '%s\n' '<plist version="1.0">' '<dict>'
  printf '\t%s\n\t%s\n' '<key>AvailableLibraries</key>' '<array>'
  printf '%s' "$plist_libraries"
  printf '\t%s\n' '</array>'
  printf '\t%s\n\t%s\n' '<key>CFBundlePackageType</key>' '<string>XFWK</string>'
  printf '\t%s\n\t%s\n' '<key>XCFrameworkFormatVersion</key>' '<string>1.0</string>'
  printf '%s\n' '</dict>' '</plist>'
} > "$xcf/Info.plist"

# A zip with fixed timestamps, modes and member order, so the same files give the same checksum.
find "$xcf" -type d -exec chmod 755 {} +
find "$xcf" -type f -exec chmod 644 {} +
find "$xcf" -exec touch -h -t 200001010000 {} +
(cd "$stage" && find CNVS.xcframework | LC_ALL=C sort | TZ=UTC zip -q -X -@ CNVS.xcframework.zip)
checksum=$(sha256 "$stage/CNVS.xcframework.zip")

rm -rf "$out_dir/CNVS.xcframework" "$out_dir/CNVS.xcframework.zip" "$out_dir/CNVS.xcframework.checksum"
mv "$xcf" "$out_dir/CNVS.xcframework"
mv "$stage/CNVS.xcframework.zip" "$out_dir/CNVS.xcframework.zip"
printf '%s\n' "$checksum" > "$out_dir/CNVS.xcframework.checksum"

[ -z "$from_source" ] || say "note: standard library built from source for:$from_source"
say "cargo: $t_cargo s, total: $((SECONDS - t_start)) s"
say "built $out_dir/CNVS.xcframework ($platforms)"
say "zip   $out_dir/CNVS.xcframework.zip ($(wc -c < "$out_dir/CNVS.xcframework.zip") bytes)"
say "checksum $checksum"

if [ -n "$release_url" ]; then
  manifest=$root/Package.swift
  grep -q '^let xcframeworkURL = ".*"$' "$manifest" && grep -q '^let xcframeworkChecksum = ".*"$' "$manifest" ||
    die "Package.swift lacks the xcframeworkURL / xcframeworkChecksum lines"
  sed -e "s|^let xcframeworkURL = \".*\"\$|let xcframeworkURL = \"$release_url\"|" \
      -e "s|^let xcframeworkChecksum = \".*\"\$|let xcframeworkChecksum = \"$checksum\"|" \
      "$manifest" > "$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
  say "Package.swift now points at $release_url (checksum $checksum): publish dist/CNVS.xcframework.zip there"
fi
