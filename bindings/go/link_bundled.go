//go:build !nvs_system

package nvs

// The default build uses only files inside this module, so it works from the module cache
// with no Rust toolchain: the header copy in include/ (drift-checked against the repository's
// include/nvs.h by tests/header.rs) and a prebuilt static library per platform in
// lib/<goos>-<goarch>/libnvs.a, linked by link_<goos>_<goarch>.go. Release tags carry those
// libraries (scripts/stage-go-libs.sh --all builds them); in the repository they are built
// for this machine by scripts/stage-go-libs.sh and never committed.
//
// Build with -tags nvs_system to use an installed library instead (link_system.go).

/*
#cgo CFLAGS: -I${SRCDIR}/include
*/
import "C"
