// The installed C API header, from the include directory that pkg-config names (Cflags of
// nvs.pc), so the header always matches the library that is linked.
#if __has_include(<nvs.h>)
#include <nvs.h>
#else
#error "nvs.h not found: install native-vector-store (cmake --install) and let pkg-config find its nvs.pc (PKG_CONFIG_PATH); see docs/swift.md"
#endif
