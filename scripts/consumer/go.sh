#!/usr/bin/env bash
# The Go module as its users get it, outside this repository:
#   (a) a program that requires github.com/native-vector-store/nvs/bindings/go at a release tag
#       builds and runs; the module as downloaded passes go vet and go test -race; the program
#       links fully static (Linux) and from a vendor/ folder
#   (b) -tags nvs_system links the library of a `cmake --install` prefix through pkg-config
#   (c) go install github.com/native-vector-store/nvs/examples/go/nvs-server@VERSION works
#
# There is no git host here, so the script makes a stand-in: a local git repository holding
# bindings/go and examples/go as they are in this working tree (files git tracks or would
# track), plus a release commit that adds this machine's staged library with `git add -f` and
# carries the tags bindings/go/vX.Y.Z and examples/go/vX.Y.Z, as docs/go.md's release steps
# do. A git `insteadOf` rule (in a private git config) sends the go command's fetches of
# https://github.com/native-vector-store/nvs there; GOPROXY=off and GOPRIVATE keep every
# lookup local and skip the checksum database. The go command itself then makes the module
# zip and fills a private module cache, so the module holds exactly what a download would.
#
# Needs: go, git, a C compiler, cmake, pkg-config, curl; the staged library for this platform
# (bash scripts/stage-go-libs.sh). Env: NVS_CARGO_TARGET_DIR for the CMake build in (b)
# (default: target/, so it reuses `cargo build --release`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "go consumer: FAIL: $*" >&2; exit 1; }

goos=$(go env GOOS)
goarch=$(go env GOARCH)
platform=$goos-$goarch
staged=$root/bindings/go/lib/$platform/libnvs.a
[ -f "$staged" ] || fail "$staged is missing: run bash scripts/stage-go-libs.sh first"
version=v$(sed -n 's/^#define NVS_VERSION "\(.*\)"$/\1/p' "$root/include/nvs.h")
[ "$version" != v ] || fail "no NVS_VERSION in include/nvs.h"
module=github.com/native-vector-store/nvs/bindings/go
grep -qx "require $module $version" "$root/examples/go/go.mod" ||
  fail "examples/go/go.mod should require $module $version (the version in include/nvs.h)"

work=$(mktemp -d "${TMPDIR:-/tmp}/nvs-go-consumer.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  chmod -R u+w "$work" 2>/dev/null || true # the module cache is read-only
  rm -rf "$work"
}
trap cleanup EXIT

# --- The stand-in git host -----------------------------------------------------------------
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$work/gitconfig GIT_TERMINAL_PROMPT=0
git config --global user.name "nvs consumer test"
git config --global user.email "nvs-consumer@invalid"
git config --global init.defaultBranch main
git config --global url."file://$work/origin".insteadOf https://github.com/native-vector-store/nvs
git config --global protocol.file.allow always

origin=$work/origin
mkdir -p "$origin"
(
  cd "$root"
  git ls-files -z -co --exclude-standard -- bindings/go examples/go |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done
) | tar -C "$root" --null -T - -cf - | tar -C "$origin" -xf -
cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$origin/"
[ ! -e "$origin/bindings/go/lib/$platform/libnvs.a" ] || fail "the staged library is not ignored by git"
git -C "$origin" init -q
git -C "$origin" add -A
git -C "$origin" commit -qm "sources"
mkdir -p "$origin/bindings/go/lib/$platform"
cp "$staged" "$origin/bindings/go/lib/$platform/libnvs.a"
git -C "$origin" add -f "bindings/go/lib/$platform/libnvs.a"
git -C "$origin" commit -qm "release $version: prebuilt library for $platform"
git -C "$origin" tag "bindings/go/$version"
git -C "$origin" tag "examples/go/$version"

export GOMODCACHE=$work/modcache GOBIN=$work/bin GOPATH=$work/gopath
export GOPROXY=off GOPRIVATE=github.com/native-vector-store GOWORK=off GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
unset CGO_CFLAGS CGO_LDFLAGS PKG_CONFIG_PATH PKG_CONFIG_LIBDIR

# --- (a) a program using the released module -----------------------------------------------
echo "--- (a) $module@$version from a release tag"
app=$work/app
mkdir -p "$app"
cat >"$app/go.mod" <<EOF
module example.com/app

go 1.24

require $module $version
EOF
cat >"$app/main.go" <<'EOF'
package main

import (
	"errors"
	"fmt"
	"log"
	"os"

	nvs "github.com/native-vector-store/nvs/bindings/go"
)

func main() {
	store, err := nvs.New(3)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.Add([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, []uint64{10, 20, 30}); err != nil {
		log.Fatal(err)
	}
	hits, err := store.CosineSearch([]float32{0.9, 0.1, 0}, nvs.TopK(2))
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("%d %d %.4f\n", h.Index, h.ID, h.Value)
	}
	_, err = store.CosineSearch([]float32{1, 0})
	fmt.Println("dimension mismatch:", errors.Is(err, nvs.ErrDimensionMismatch))
	if len(os.Args) > 1 {
		if err := store.Save(os.Args[1]); err != nil {
			log.Fatal(err)
		}
	}
}
EOF
expected="0 10 0.9939
1 20 0.1104
dimension mismatch: true"
check_app() { # binary
  local out
  out=$("$1" "$work/demo.npz") || fail "$1 failed"
  [ "$out" = "$expected" ] || fail "$1 printed:
$out
expected:
$expected"
  echo "ok: $(basename "$1") runs"
}

cd "$app"
go build -o app .
check_app ./app
moddir=$(go list -m -f '{{.Dir}}' "$module")
zip=$GOMODCACHE/cache/download/$module/@v/$version.zip
echo "module zip: $(wc -c <"$zip" | tr -d ' ') bytes, unpacked in $moddir"
for f in include/nvs.h "lib/$platform/libnvs.a" testdata/conformance/basics.cases go.mod; do
  [ -f "$moddir/$f" ] || fail "the module lacks $f"
done
if (cd "$moddir" && ls ../../include ../../tests ../../target) >/dev/null 2>&1; then
  fail "the module cache has repository folders next to the module; the test proves nothing"
fi
cmp -s "$moddir/lib/$platform/libnvs.a" "$staged" || fail "the module's libnvs.a is not the staged one"
go vet "$module/..."
go test -race -count=1 "$module"
echo "ok: go vet and go test -race of the downloaded module"

if [ "$goos" = linux ]; then
  go build -ldflags '-linkmode external -extldflags -static' -o app-static .
  file app-static | grep -q 'statically linked' || fail "app-static: $(file app-static)"
  if readelf -d app-static 2>/dev/null | grep -q NEEDED; then fail "app-static needs shared libraries"; fi
  if readelf -l app-static | grep -q INTERP; then fail "app-static asks for a program interpreter"; fi
  check_app ./app-static
else
  echo "(fully static link: Linux only, $goos has no static libc)"
fi

go mod vendor
for f in include/nvs.h "lib/$platform/libnvs.a"; do
  [ -f "vendor/$module/$f" ] || fail "go mod vendor left out $f"
done
go build -mod=vendor -o app-vendored .
check_app ./app-vendored
rm -rf vendor

# --- (b) -tags nvs_system against an installed prefix -----------------------------------------
echo "--- (b) -tags nvs_system with a cmake --install prefix"
quietly() { "$@" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "$*"; }; }
quietly cmake -S "$root" -B "$work/cmake-build" -DNVS_BUILD_TESTS=OFF -DNVS_BUILD_EXAMPLES=OFF \
  -DNVS_CARGO_TARGET_DIR="${NVS_CARGO_TARGET_DIR:-$root/target}"
quietly cmake --build "$work/cmake-build"
quietly cmake --install "$work/cmake-build" --prefix "$work/prefix"
pc=$(find "$work/prefix" -name nvs.pc)
[ -n "$pc" ] || fail "the prefix has no nvs.pc"
export PKG_CONFIG_PATH=${pc%/nvs.pc} PKG_CONFIG_LIBDIR=${pc%/nvs.pc}
libdir=$(pkg-config --variable=libdir nvs)
case $goos in darwin) loader_path=DYLD_LIBRARY_PATH ;; *) loader_path=LD_LIBRARY_PATH ;; esac
go vet -tags nvs_system "$module"
env "$loader_path=$libdir" go test -race -count=1 -tags nvs_system "$module"
echo "ok: go vet and go test -race -tags nvs_system (library from $loader_path)"
go build -tags nvs_system -o app-system .
if [ "$goos" = linux ]; then
  readelf -d app-system | grep NEEDED | grep -q 'libnvs\.so\.' || fail "app-system does not load libnvs.so"
  if ./app-system >/dev/null 2>&1; then fail "app-system ran without finding libnvs (is one installed system-wide?)"; fi
  echo "ok: without an rpath or $loader_path the program does not find libnvs, as documented"
fi
CGO_LDFLAGS="-Wl,-rpath,$libdir" go build -tags nvs_system -o app-system-rpath .
check_app ./app-system-rpath
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR

# --- (c) go install of the example server -------------------------------------------------
echo "--- (c) go install github.com/native-vector-store/nvs/examples/go/nvs-server@$version"
cd "$work"
go install "github.com/native-vector-store/nvs/examples/go/nvs-server@$version"
server=$GOBIN/nvs-server
[ -x "$server" ] || fail "go install made no $server"
go version -m "$server" | grep -q "dep[[:space:]]*$module[[:space:]]*$version" ||
  fail "nvs-server was not built from $module $version: $(go version -m "$server")"
"$server" -archive "$work/demo.npz" -addr 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(sed -n 's|^serving .* on http://||p' "$work/server.log")
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "nvs-server exited: $(cat "$work/server.log")"
  sleep 0.1
done
[ -n "$addr" ] || fail "nvs-server did not start: $(cat "$work/server.log")"
answer=$(curl -fsS "http://$addr/search?q=0.9,0.1,0&k=1")
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
case $answer in *'"id":10'*) ;; *) fail "nvs-server answered: $answer" ;; esac
echo "ok: the installed nvs-server serves the archive: $answer"

echo "go consumer: all passed"
