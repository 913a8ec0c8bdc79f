// Exposes <repo>/include/nvs.h (the C API contract) to the CNVS module. The path is relative to
// this file: Sources/CNVS -> bindings/swift -> repo root.
#include "../../../../include/nvs.h"
