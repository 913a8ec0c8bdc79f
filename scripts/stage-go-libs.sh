#!/usr/bin/env bash
# Build the static libraries the Go module links and put them into it:
#   bindings/go/lib/<goos>-<goarch>/libnvs.a
#
#   scripts/stage-go-libs.sh          this machine's platform (what the in-repo Go tests link)
#   scripts/stage-go-libs.sh --all    linux/amd64, linux/arm64, darwin/amd64, darwin/arm64
#                                     (the release step: see docs/go.md, "Releasing")
#
# A Rust staticlib is an archive of object files, so no linker for the target is needed:
# only the target's standard library (installed with `rustup target add` when missing).
# Debug info is stripped (the standard library's prebuilt objects carry it even when ours do
# not). The build uses its own target directory, target/stage-go (NVS_STAGE_TARGET_DIR), so
# it does not invalidate `cargo build --release` in target/.
#
# The staged files are ignored by git: only a release commit adds them (git add -f).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() { echo "usage: $0 [--all]" >&2; exit 2; }
all=0
case $# in
  0) ;;
  1) [ "$1" = --all ] || usage; all=1 ;;
  *) usage ;;
esac

target_dir=${NVS_STAGE_TARGET_DIR:-$root/target/stage-go}
# Go platform <-> Rust target.
platforms=(linux-amd64 linux-arm64 darwin-amd64 darwin-arm64)
triple_of() {
  case $1 in
    linux-amd64) echo x86_64-unknown-linux-gnu ;;
    linux-arm64) echo aarch64-unknown-linux-gnu ;;
    darwin-amd64) echo x86_64-apple-darwin ;;
    darwin-arm64) echo aarch64-apple-darwin ;;
    *) return 1 ;;
  esac
}

host_triple=$(rustc -vV | sed -n 's/^host: //p')
if [ "$all" = 0 ]; then
  host=""
  for p in "${platforms[@]}"; do
    if [ "$(triple_of "$p")" = "$host_triple" ]; then host=$p; fi
  done
  if [ -z "$host" ]; then
    echo "stage-go-libs: no prebuilt Go platform matches this host ($host_triple);" >&2
    echo "  install the library (cmake --install) and build the Go package with -tags nvs_system" >&2
    exit 1
  fi
  platforms=("$host")
fi

# Something that strips debug sections from ELF and Mach-O archives alike: llvm-objcopy, or
# the copy rustup ships with every toolchain (rust-objcopy, which needs the toolchain's
# libLLVM on the library path). GNU strip handles this host's ELF only.
sysroot=$(rustc --print sysroot)
rust_objcopy=$sysroot/lib/rustlib/$host_triple/bin/rust-objcopy
strip_debug() { # in out triple
  if command -v llvm-objcopy >/dev/null; then
    llvm-objcopy --strip-debug "$1" "$2"
  elif [ -x "$rust_objcopy" ]; then
    LD_LIBRARY_PATH=$sysroot/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      DYLD_LIBRARY_PATH=$sysroot/lib${DYLD_LIBRARY_PATH:+:$DYLD_LIBRARY_PATH} \
      "$rust_objcopy" --strip-debug "$1" "$2"
  elif [ "$3" = "$host_triple" ] && command -v strip >/dev/null; then
    strip --strip-debug -o "$2" "$1"
  else
    echo "stage-go-libs: need llvm-objcopy or rustup's rust-objcopy to strip $3 objects" >&2
    return 1
  fi
}

size_of() { wc -c <"$1" | tr -d ' '; }

for p in "${platforms[@]}"; do
  triple=$(triple_of "$p")
  # The host's standard library is always there (and rustup may not be: a distribution's Rust).
  if [ "$triple" != "$host_triple" ] && ! rustup target list --installed | grep -qx "$triple"; then
    rustup target add "$triple"
  fi
  echo "--- $p ($triple)"
  cargo rustc --release --lib --crate-type staticlib --target "$triple" --target-dir "$target_dir" \
    -- -C debuginfo=0
  built=$target_dir/$triple/release/libnvs.a
  dest_dir=bindings/go/lib/$p
  mkdir -p "$dest_dir"
  # Replace atomically: a Go build running meanwhile sees the old file or the new one.
  tmp=$(mktemp "$dest_dir/.libnvs.a.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  strip_debug "$built" "$tmp" "$triple"
  chmod 644 "$tmp"
  mv -f "$tmp" "$dest_dir/libnvs.a"
  trap - EXIT
  echo "$dest_dir/libnvs.a: $(size_of "$dest_dir/libnvs.a") bytes (unstripped $(size_of "$built"))"
done
