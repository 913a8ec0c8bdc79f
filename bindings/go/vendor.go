//go:build nvs_vendor

package nvs

// `go mod vendor` copies only the folders of imported packages, so without this file a
// vendored copy of this module would lack the header and the static libraries (the reason
// is golang/go#26366). The vendor command considers every build tag, so these imports keep
// those folders; no build ever sets nvs_vendor, so nothing here is compiled.
import (
	_ "github.com/native-vector-store/nvs/bindings/go/include"
	_ "github.com/native-vector-store/nvs/bindings/go/lib/darwin-amd64"
	_ "github.com/native-vector-store/nvs/bindings/go/lib/darwin-arm64"
	_ "github.com/native-vector-store/nvs/bindings/go/lib/linux-amd64"
	_ "github.com/native-vector-store/nvs/bindings/go/lib/linux-arm64"
)
