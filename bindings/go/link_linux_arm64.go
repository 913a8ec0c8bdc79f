//go:build !nvs_system

package nvs

// The static library for this platform, with the system libraries a Rust staticlib needs on
// Linux (`cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs`)
// less the two the C driver links by itself: -lc, and -lgcc_s (the unwinder: gcc and clang
// add libgcc_s to dynamic links and libgcc_eh to static ones; naming -lgcc_s explicitly
// makes fully static links, -extldflags -static, fail with "cannot find -lgcc_s").

/*
#cgo LDFLAGS: ${SRCDIR}/lib/linux-arm64/libnvs.a -lutil -lrt -lpthread -lm -ldl
*/
import "C"
