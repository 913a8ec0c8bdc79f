//go:build !nvs_dynamic && darwin

package nvs

// Static linking on macOS: the system libraries are the ones
// `cargo rustc --release --lib -- --print native-static-libs` lists for Apple targets.
// Build the library first: `cargo build --release` at the repository root.

/*
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libnvs.a -lSystem -lc -lm
*/
import "C"
