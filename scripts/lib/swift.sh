# Sourced by the scripts that run Swift. Sets the array `swift` to the command to use: $SWIFT
# if set, else `swift` from PATH (Linux or macOS), else the Debian-trixie chroot tool
# ../shared/tools/swift-chroot beside the clone (for a host without a Swift package; needs
# root). Needs `root` (the repository) set; returns 2 when there is no Swift at all.
find_swift() {
  if [ -n "${SWIFT:-}" ]; then
    swift=("$SWIFT")
  elif command -v swift >/dev/null 2>&1; then
    swift=(swift)
  elif [ -x "$root/../shared/tools/swift-chroot" ]; then
    swift=("$root/../shared/tools/swift-chroot")
  else
    echo "$1: no swift on PATH and no $root/../shared/tools/swift-chroot (set SWIFT=...)" >&2
    return 2
  fi
}
