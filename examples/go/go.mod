module github.com/native-vector-store/nvs/examples/go

go 1.24

require github.com/native-vector-store/nvs/bindings/go v0.2.0
