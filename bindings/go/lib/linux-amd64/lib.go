// Package linux_amd64 holds libnvs.a for linux/amd64: the static library the nvs package
// links on that platform. Release tags carry it; in the repository, scripts/stage-go-libs.sh
// builds it and it is never committed. There is no Go code here: being a package makes
// `go mod vendor` keep this folder (see vendor.go in bindings/go).
package linux_amd64
