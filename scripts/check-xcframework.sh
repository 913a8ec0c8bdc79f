#!/usr/bin/env bash
# Check the XCFramework that scripts/build-xcframework.sh wrote, with LLVM tools on Linux (or
# macOS): everything that can be checked without Xcode.
#
#   bash scripts/check-xcframework.sh [--platforms "macos ios ios-simulator"] [DIST_DIR]
#
# DIST_DIR defaults to <repo>/dist and must hold CNVS.xcframework, CNVS.xcframework.zip and
# CNVS.xcframework.checksum. Checked:
#   - Info.plist parses (python3 plistlib) and lists exactly the expected libraries, each with
#     its platform, variant, architectures, library path and headers path;
#   - each slice holds libnvs.a with exactly the listed architectures (llvm-lipo -archs for
#     universal archives, the members' Mach-O headers for single-architecture ones);
#   - per architecture: the member defining nvs_store_new carries LC_BUILD_VERSION with the
#     slice's platform (macos = 1, ios = 2, iossimulator = 7) and minimum OS (11.0 / 14.0), and no
#     member names another platform; no debug info or LLVM bitcode is left; every function of
#     nvs.h is defined;
#   - per architecture, a link: rust-lld (shipped with rustup toolchains) links the archive into
#     a throwaway dylib for the slice's platform, pulling in every nvs.h function, with system
#     symbols left undefined (no SDK here). Reported as NOT RUN when rust-lld is not found;
#   - Headers/CNVS holds this checkout's nvs.h and a module map for module CNVS;
#   - the zip holds exactly the folder's files, byte for byte, and the checksum file is its
#     sha256.
# Not checked here (needs a Mac): linking against the real SDK, importing CNVS from Swift,
# running on macOS, an iOS device or the simulator. See docs/swift.md.
# Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or tool error.
set -euo pipefail

prog=check-xcframework
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
platforms="macos ios ios-simulator"
dist=""
while [ $# -gt 0 ]; do
  case $1 in
    --platforms) [ $# -ge 2 ] || die "--platforms needs a value"; platforms=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) dist=$1; shift ;;
  esac
done
dist=${dist:-$root/dist}
xcf=$dist/CNVS.xcframework
[ -d "$xcf" ] || die "no $xcf (run scripts/build-xcframework.sh first)"

find_tool() {
  local name best
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    best=$(compgen -c "$name-" | grep -E "^$name-[0-9]+$" | sort -t- -k3 -n | tail -n 1 || true)
    if [ -n "$best" ]; then command -v "$best"; return 0; fi
  done
  return 1
}
lipo=${LIPO:-$(find_tool llvm-lipo lipo)} || die "no llvm-lipo (Debian: apt-get install llvm)"
objdump=$(find_tool llvm-objdump) || die "no llvm-objdump"
nm=$(find_tool llvm-nm) || die "no llvm-nm"
ar=$(find_tool llvm-ar) || die "no llvm-ar"
command -v python3 >/dev/null || die "no python3"
command -v unzip >/dev/null || die "no unzip"
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$1" | cut -d' ' -f1; }
else sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }; fi
lld=""
if command -v rustc >/dev/null; then
  lld=$(compgen -G "$(rustc --print sysroot)/lib/rustlib/*/bin/rust-lld" | head -n 1 || true)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
not_run=0
ok() { printf 'ok       %s\n' "$*"; }
fail() { printf 'FAIL     %s\n' "$*"; failures=$((failures + 1)); }
notrun() { printf 'NOT RUN  %s\n' "$*"; not_run=$((not_run + 1)); }

# Expected slices: id platform variant architectures load-command-platform minimum-OS.
expect() {
  case $1 in
    macos) echo "macos-arm64_x86_64 macos - arm64,x86_64 macos ${MACOSX_DEPLOYMENT_TARGET:-11.0}" ;;
    ios) echo "ios-arm64 ios - arm64 ios ${IPHONEOS_DEPLOYMENT_TARGET:-14.0}" ;;
    ios-simulator) echo "ios-arm64_x86_64-simulator ios simulator arm64,x86_64 iossimulator ${IPHONEOS_DEPLOYMENT_TARGET:-14.0}" ;;
    *) die "unknown platform '$1'" ;;
  esac
}
expected_rows=""
for p in $platforms; do expected_rows+="$(expect "$p")"$'\n'; done

# --- Info.plist ------------------------------------------------------------------------------
if plist_out=$(python3 - "$xcf/Info.plist" "$expected_rows" <<'EOF' 2>&1
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    plist = plistlib.load(f)
problems = []
if plist.get("CFBundlePackageType") != "XFWK":
    problems.append(f"CFBundlePackageType is {plist.get('CFBundlePackageType')!r}, not 'XFWK'")
if plist.get("XCFrameworkFormatVersion") != "1.0":
    problems.append(f"XCFrameworkFormatVersion is {plist.get('XCFrameworkFormatVersion')!r}")
libs = {lib.get("LibraryIdentifier"): lib for lib in plist.get("AvailableLibraries", [])}
expected = [row.split() for row in sys.argv[2].splitlines() if row.strip()]
if sorted(libs) != sorted(row[0] for row in expected):
    problems.append(f"libraries {sorted(libs)}, expected {sorted(row[0] for row in expected)}")
for ident, platform, variant, archs, _, _ in expected:
    lib = libs.get(ident)
    if lib is None:
        continue
    want = {"LibraryPath": "libnvs.a", "BinaryPath": "libnvs.a", "HeadersPath": "Headers",
            "SupportedPlatform": platform,
            "SupportedPlatformVariant": None if variant == "-" else variant}
    for key, value in want.items():
        if lib.get(key) != value:
            problems.append(f"{ident}: {key} is {lib.get(key)!r}, expected {value!r}")
    if sorted(lib.get("SupportedArchitectures", [])) != archs.split(","):
        problems.append(f"{ident}: SupportedArchitectures {lib.get('SupportedArchitectures')}, expected {archs.split(',')}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
); then
  ok "Info.plist: XFWK 1.0 with libraries $(printf '%s' "$expected_rows" | cut -d' ' -f1 | tr '\n' ' ')"
else
  fail "Info.plist: $plist_out"
fi

# --- slices ------------------------------------------------------------------------------------
api=()
while read -r f; do api+=("$f"); done < <(grep -oE '\bnvs_[a-z0-9_]+\(' "$root/include/nvs.h" | tr -d '(' | sort -u)
[ ${#api[@]} -gt 0 ] || die "no functions found in include/nvs.h"

while read -r id platform variant archs lc_platform minos; do
  [ -n "$id" ] || continue
  dir=$xcf/$id
  lib=$dir/libnvs.a
  if [ ! -f "$lib" ]; then fail "$id: no libnvs.a"; continue; fi

  # Headers
  if cmp -s "$dir/Headers/CNVS/nvs.h" "$root/include/nvs.h"; then ok "$id: Headers/CNVS/nvs.h is include/nvs.h"
  else fail "$id: Headers/CNVS/nvs.h missing or not include/nvs.h"; fi
  if grep -qE '^module CNVS \{' "$dir/Headers/CNVS/module.modulemap" 2>/dev/null &&
     grep -qE '^ *header "nvs.h"' "$dir/Headers/CNVS/module.modulemap"; then
    ok "$id: Headers/CNVS/module.modulemap declares module CNVS with nvs.h"
  else fail "$id: Headers/CNVS/module.modulemap missing or not module CNVS / nvs.h"; fi

  # Architectures
  want_archs=$(tr ',' ' ' <<<"$archs")
  if [ "$(head -c 4 "$lib" | od -An -tx1 | tr -d ' \n')" = cafebabe ]; then
    got_archs=$("$lipo" -archs "$lib" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
    kind=universal
  else
    # A single-architecture archive: the CPU type of every member's Mach-O header.
    got_archs=$("$objdump" --macho --private-header "$lib" 2>/dev/null |
      awk '$1 ~ /^MH_MAGIC/ {print $2}' | sort -u |
      sed 's/^ARM64$/arm64/; s/^X86_64$/x86_64/' | tr '\n' ' ' | sed 's/ $//')
    kind=thin
  fi
  if [ "$got_archs" = "$want_archs" ]; then ok "$id: $kind archive with architectures $got_archs"
  else fail "$id: architectures '$got_archs', expected '$want_archs'"; continue; fi

  for arch in $want_archs; do
    t=$work/$id-$arch
    mkdir -p "$t"
    if [ $kind = universal ]; then
      "$lipo" -thin "$arch" "$lib" -output "$t/libnvs.a"
    else
      cp "$lib" "$t/libnvs.a"
    fi
    # Tool output is read into variables first: a tool that fails (LLVM 14 cannot read the
    # bitcode that newer rustc versions embed, for one) is a failed check, not an abort.
    run() { "$@" 2>"$t/stderr"; }
    failed() { fail "$id $arch: $(basename "$1") failed: $(head -n 1 "$t/stderr")"; }
    nm_all=$(run "$nm" -A -g --defined-only "$t/libnvs.a") || failed "$nm"
    # The member with the library's own code (it defines nvs_store_new).
    member=$(awk '/ T _nvs_store_new$/ && !m {m=$0; sub(/^.*\.a:/, "", m); sub(/: .*$/, "", m)} END {print m}' <<<"$nm_all")
    if [ -z "$member" ]; then
      fail "$id $arch: no member defines nvs_store_new"
    else
      (cd "$t" && "$ar" x libnvs.a "$member")
      headers=$(run "$objdump" --macho --private-headers "$t/$member") || failed "$objdump"
      read -r got_platform got_minos < <(awk '/cmd LC_BUILD_VERSION/ {b=1} b && $1=="platform" {p=$2}
        b && $1=="minos" && !m {m=p " " $2} END {print m}' <<<"$headers") || true
      if [ "${got_platform:-}" = "$lc_platform" ] && [ "${got_minos:-}" = "$minos" ]; then
        ok "$id $arch: LC_BUILD_VERSION platform $got_platform minos $got_minos ($member)"
      else
        fail "$id $arch: LC_BUILD_VERSION platform '${got_platform:-none}' minos '${got_minos:-none}', expected $lc_platform $minos"
      fi
    fi
    # No member may be built for another platform. Members of Rust's prebuilt standard library
    # may carry the older LC_VERSION_MIN_* form (their own, lower minimum OS).
    case $lc_platform in macos) min_cmd=LC_VERSION_MIN_MACOSX ;; *) min_cmd=LC_VERSION_MIN_IPHONEOS ;; esac
    if ! headers=$(run "$objdump" --macho --private-headers "$t/libnvs.a"); then
      failed "$objdump"
    else
      others=$(awk -v want="$lc_platform" -v mincmd="$min_cmd" '
        /cmd LC_BUILD_VERSION/ {b=1; next}
        b && $1=="platform" { if ($2 != want) print "LC_BUILD_VERSION platform " $2; b=0 }
        $1=="cmd" && $2 ~ /^LC_VERSION_MIN_/ && $2 != mincmd {print $2}' <<<"$headers" | sort | uniq -c | tr '\n' ' ')
      if [ -z "$others" ]; then ok "$id $arch: no member built for another platform"
      else fail "$id $arch: members for another platform: $others"; fi
    fi
    if ! sections=$(run "$objdump" --section-headers "$t/libnvs.a"); then
      failed "$objdump"
    else
      leftovers=$(awk '$2 ~ /^__(debug_|apple_|bitcode$|cmdline$)/ {print $2}' <<<"$sections" | sort | uniq -c | tr '\n' ' ')
      if [ -z "$leftovers" ]; then ok "$id $arch: no debug info or bitcode sections"
      else fail "$id $arch: sections left: $leftovers"; fi
    fi
    defined=$(awk '$3 == "T" {print $4}' <<<"$nm_all" | sort -u)
    missing=()
    for f in "${api[@]}"; do grep -qx "_$f" <<<"$defined" || missing+=("$f"); done
    if [ ${#missing[@]} -eq 0 ]; then ok "$id $arch: defines all ${#api[@]} functions of nvs.h"
    else fail "$id $arch: does not define ${missing[*]}"; fi
    if [ -n "$lld" ]; then
      case $lc_platform in macos) lp=macos ;; ios) lp=ios ;; iossimulator) lp=ios-simulator ;; esac
      if out=$("$lld" -flavor darwin -arch "$arch" -platform_version "$lp" "$minos" "$minos" -dylib \
                 -undefined dynamic_lookup $(printf -- '-u _%s ' "${api[@]}") "$t/libnvs.a" \
                 -o "$t/link-check.dylib" 2>&1) && [ -z "$out" ]; then
        ok "$id $arch: links into a $lp dylib (rust-lld)"
      else
        fail "$id $arch: rust-lld link: $out"
      fi
    else
      notrun "$id $arch: link check (no rust-lld in the Rust toolchain)"
    fi
  done
done <<<"$expected_rows"

# Slices that are not expected must not be there either.
for d in "$xcf"/*/; do
  d=$(basename "$d")
  grep -q "^$d " <<<"$expected_rows" || fail "unexpected folder $d in CNVS.xcframework"
done

# --- zip and checksum --------------------------------------------------------------------------
zip=$dist/CNVS.xcframework.zip
if [ -f "$zip" ]; then
  mkdir "$work/unzipped"
  if ! unzip -q "$zip" -d "$work/unzipped"; then
    fail "CNVS.xcframework.zip does not unzip"
  elif diff -r "$work/unzipped/CNVS.xcframework" "$xcf" >/dev/null &&
       [ "$(ls -A "$work/unzipped")" = CNVS.xcframework ]; then
    ok "CNVS.xcframework.zip holds exactly CNVS.xcframework"
  else
    fail "CNVS.xcframework.zip differs from CNVS.xcframework"
  fi
  want_sum=$(sha256 "$zip")
  if [ "$(cat "$dist/CNVS.xcframework.checksum" 2>/dev/null)" = "$want_sum" ]; then
    ok "CNVS.xcframework.checksum is the zip's sha256 ($want_sum)"
  else
    fail "CNVS.xcframework.checksum is not the zip's sha256 ($want_sum)"
  fi
else
  fail "no CNVS.xcframework.zip"
fi

echo "check-xcframework: $failures failed, $not_run not run"
[ "$failures" -eq 0 ]
