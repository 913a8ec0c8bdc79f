//go:build nvs_dynamic

package nvs

// Dynamic linking, with `go build -tags nvs_dynamic`: the binary loads libnvs.so at run time
// from target/release (baked in as an rpath) or from the loader's usual search path.

/*
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -Wl,-rpath,${SRCDIR}/../../target/release -lnvs
*/
import "C"
