//go:build nvs_system

package nvs

// With -tags nvs_system the package compiles against the installed nvs.h and links the
// installed libnvs through pkg-config (nvs.pc, from `cmake --install`): set PKG_CONFIG_PATH
// to PREFIX/lib/pkgconfig when the prefix is not a default one. pkg-config gives only
// -L and -lnvs, so the linker picks the shared library and the program needs to find
// libnvs.so.0.2 (libnvs.0.2.dylib) at run time: install it where the loader looks, set
// LD_LIBRARY_PATH (DYLD_LIBRARY_PATH), or record an rpath at build time with
// CGO_LDFLAGS="-Wl,-rpath,PREFIX/lib".

/*
#cgo pkg-config: nvs
*/
import "C"
