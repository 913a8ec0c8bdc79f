#!/usr/bin/env bash
# Consumer test of the Swift package: two packages outside the repository use it the way an app
# does, against an installed library.
#
#   bash scripts/consumer/swift.sh          (KEEP=1 keeps the temporary folder and says where)
#
#   1. The library: this checkout built with CMake and installed into a fresh prefix
#      (cmake --install); the consumers find it only through pkg-config (PKG_CONFIG_PATH).
#   2. The package: a throwaway clone of this repository whose tree is made exactly this
#      checkout's working tree (uncommitted edits included, committed in the clone), tagged
#      v<version> (Cargo.toml's version) there and published as a bare repository
#      .../native-vector-store.git. Nothing is pushed back; this repository gets no tag.
#   3. Consumer "url": .package(url: "file://.../native-vector-store.git", from: "<version>"),
#      the way an app depends on the repository by its git URL. SwiftPM must resolve the tag,
#      pin that version and build the package as a versioned (remote) dependency, which fails
#      if any target has unsafe flags.
#   4. Consumer "path": .package(path: ".../native-vector-store"), product from the package whose
#      identity is the folder's name, "native-vector-store".
#   Each program adds rows, searches, checks a dimension-mismatch error and prints the library
#   version; the script checks the output.
#
# Swift: `swift` from PATH, else ../shared/tools/swift-chroot beside the clone (SWIFT=... to
# choose). Everything lives in one temporary folder, which the chroot tool mounts; SwiftPM's
# caches and fingerprints are kept there too, so runs do not leave state behind.
# Needs: git, cmake, cargo, a C compiler (for CMake), swift.
set -euo pipefail

say() { printf 'consumer/swift: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
. "$root/scripts/lib/swift.sh"
find_swift consumer/swift || exit 2

version=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
[ -n "$version" ] || die "no [package] version in Cargo.toml"

work=$(mktemp -d "${TMPDIR:-/tmp}/nvs-swift-consumer.XXXXXX")
work=$(cd "$work" && pwd -P)
if [ "${KEEP:-0}" = 1 ]; then
  trap 'say "kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi

# --- 1. the installed library ---------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$root/target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
say "cmake build and install into $work/prefix"
cmake -S "$root" -B "$work/cmake" -DNVS_CARGO_TARGET_DIR="$target_dir" \
  -DNVS_BUILD_TESTS=OFF -DNVS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$work/cmake" >/dev/null
cmake --install "$work/cmake" --prefix "$work/prefix" >/dev/null
pc=$(find "$work/prefix" -name nvs.pc | head -n 1)
[ -n "$pc" ] || die "cmake --install wrote no nvs.pc"
export PKG_CONFIG_PATH=${pc%/*}
export SWIFT_CHROOT_PASSENV="${SWIFT_CHROOT_PASSENV:+$SWIFT_CHROOT_PASSENV }PKG_CONFIG_PATH"
export SWIFT_MOUNT=$work   # for the chroot tool: every path below is inside $work
libdir=${PKG_CONFIG_PATH%/pkgconfig}

# --- 2. the package as a tagged git repository ------------------------------------------------
clone=$work/src/native-vector-store
remote=$work/remote/native-vector-store.git
git() { command git -c user.name=consumer-test -c user.email=consumer-test@localhost \
          -c init.defaultBranch=main -c advice.detachedHead=false "$@"; }
say "throwaway clone with this checkout's working tree, tagged v$version"
git clone -q --no-hardlinks "$root" "$clone"
git -C "$clone" rm -rq --ignore-unmatch .
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$clone"
git -C "$clone" add -A
git -C "$clone" diff --cached --quiet ||
  git -C "$clone" commit -q -m "working tree of $(git -C "$root" rev-parse --short HEAD)"
git -C "$clone" tag -a "v$version" -m "consumer test"
git clone -q --bare "$clone" "$remote"
[ -f "$clone/Package.swift" ] || die "the package has no root Package.swift"

# --- 3 and 4. the consumers -------------------------------------------------------------------
write_consumer() {   # folder, dependency line, package identity
  mkdir -p "$1/Sources/App"
  cat > "$1/Package.swift" <<EOF
// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "App",
    platforms: [.macOS(.v11), .iOS(.v14)],
    dependencies: [
        $2,
    ],
    targets: [
        .executableTarget(
            name: "App",
            dependencies: [.product(name: "NativeVectorStore", package: "$3")]
        ),
    ]
)
EOF
  cat > "$1/Sources/App/main.swift" <<'EOF'
import NativeVectorStore

let store = try VectorStore(dimensions: 3)
try store.add([[1, 0, 0], [0, 1, 0], [0, 0, 1]], ids: [10, 20, 30])
let hits = try store.cosineSearch([0.9, 0.1, 0.0], topK: 2)
print("hits", hits.map { String($0.id) }.joined(separator: " "))
do {
    _ = try store.cosineSearch([1, 0], topK: 1)
    print("error none")
} catch let error as VectorStoreError {
    print("error", error.code)
}
print("count", store.count)
print("version", VectorStore.libraryVersion)
EOF
}

# SwiftPM state (repository cache, mirrors, fingerprints) stays in $work.
state=(--cache-path "$work/swiftpm/cache" --config-path "$work/swiftpm/config"
       --security-path "$work/swiftpm/security")
expected=$(printf '%s\n' "hits 10 20" "error dimensionMismatch" "count 3" "version $version")

run_consumer() {   # folder, label
  say "$2: swift build"
  (cd "$1" && "${swift[@]}" build "${state[@]}" -Xlinker -rpath -Xlinker "$libdir")
  local out
  out=$(cd "$1" && "${swift[@]}" run "${state[@]}" --skip-build App)
  printf '%s\n' "$out"
  [ "$out" = "$expected" ] || die "$2: unexpected output; expected:"$'\n'"$expected"
  say "$2: ok"
}

write_consumer "$work/app-url" ".package(url: \"file://$remote\", from: \"$version\")" native-vector-store
run_consumer "$work/app-url" "url consumer"
resolved=$work/app-url/Package.resolved
grep -q "\"version\" : \"$version\"" "$resolved" ||
  die "url consumer: Package.resolved does not pin $version: $(cat "$resolved")"
grep -q "\"revision\" : \"$(git -C "$clone" rev-parse "v$version^{commit}")\"" "$resolved" ||
  die "url consumer: Package.resolved does not pin the tagged commit"
say "url consumer: Package.resolved pins native-vector-store $version (the tag)"

write_consumer "$work/app-path" ".package(path: \"../src/native-vector-store\")" native-vector-store
run_consumer "$work/app-path" "path consumer"

say "all Swift consumer tests passed"
