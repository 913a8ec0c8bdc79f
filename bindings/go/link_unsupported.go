//go:build !nvs_system && !(linux && amd64) && !(linux && arm64) && !(darwin && amd64) && !(darwin && arm64)

package nvs

// This module carries prebuilt libraries for linux/amd64, linux/arm64, darwin/amd64 and
// darwin/arm64 only. Elsewhere, build and install the library (cmake --install, see the
// repository's docs/cpp.md) and build with -tags nvs_system; the undefined name below makes
// the compiler say so instead of failing later with undefined nvs_* symbols at link time.
var _ = no_prebuilt_libnvs_for_this_platform_build_with_tags_nvs_system
