// Package include holds nvs.h, the C API header the binding compiles against: a copy of the
// repository's include/nvs.h, kept identical by tests/header.rs. It has no Go code; being a
// package makes `go mod vendor` keep this folder (see vendor.go in the parent folder).
package include
