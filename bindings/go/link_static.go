//go:build !nvs_dynamic && !darwin

package nvs

// Static linking (the default): the Rust staticlib goes into the Go binary, so a service
// has no runtime dependency on libnvs.so. The system libraries are the ones
// `cargo rustc --release --lib -- --print native-static-libs` lists for Linux.
// Build the library first: `cargo build --release` at the repository root.

/*
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libnvs.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
