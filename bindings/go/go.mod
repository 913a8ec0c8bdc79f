module github.com/native-vector-store/nvs/bindings/go

go 1.24
