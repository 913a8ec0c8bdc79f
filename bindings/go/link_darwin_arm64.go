//go:build !nvs_system

package nvs

// The static library for this platform, with the system libraries a Rust staticlib needs on
// Apple targets (`cargo rustc --release --lib --crate-type staticlib -- --print
// native-static-libs` says -liconv -lSystem -lc -lm) less -lSystem and -lc, which the driver
// always links (libc is libSystem on macOS).

/*
#cgo LDFLAGS: ${SRCDIR}/lib/darwin-arm64/libnvs.a -liconv -lm
*/
import "C"
