"""The nvs shared library through ctypes, with argument and result types declared for every
function in include/nvs.h (used by the tests here and by bench/).

The library is target/release/libnvs.so (libnvs.dylib on macOS) relative to the repository
root, unless the environment variable NVS_LIB names another file. Build it first with
`cargo build --release`.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_uint64_p = ctypes.POINTER(ctypes.c_uint64)

# nvs_status number -> name (NVS_STATUS_ without the prefix), as in include/nvs.h;
# tests/status_tables.rs checks this table against the header.
STATUS_NAMES = {
    0: "OK",
    1: "NULL_ARGUMENT",
    2: "INVALID_ARGUMENT",
    3: "DIMENSION_MISMATCH",
    4: "NON_FINITE",
    5: "ZERO_NORM",
    6: "OUT_OF_RANGE",
    7: "NOT_FOUND",
    8: "BUFFER_TOO_SMALL",
    9: "IO",
    10: "FORMAT",
    11: "NO_BOUND_PATH",
    12: "OUT_OF_MEMORY",
    13: "INTERNAL",
}
METRICS = {"cosine": 0, "dot": 1, "euclidean": 2}


class SearchOptions(ctypes.Structure):
    """struct nvs_search_options."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("top_k", ctypes.c_size_t),
        ("threshold", ctypes.c_double),
        ("has_threshold", ctypes.c_bool),
        ("has_within_rows", ctypes.c_bool),
        ("within_rows", c_size_t_p),
        ("within_rows_len", ctypes.c_size_t),
        ("threads", ctypes.c_size_t),
    ]


class Hit(ctypes.Structure):
    """struct nvs_hit."""

    _fields_ = [("index", ctypes.c_size_t), ("id", ctypes.c_uint64), ("value", ctypes.c_double)]


def library_path() -> Path:
    default = "libnvs.dylib" if sys.platform == "darwin" else "libnvs.so"
    path = Path(os.environ.get("NVS_LIB", str(Path("target") / "release" / default)))
    return path if path.is_absolute() else REPO / path


def load_library(path: Path | None = None) -> ctypes.CDLL:
    """Load libnvs and declare every function's signature (as in include/nvs.h)."""
    lib = ctypes.CDLL(str(path or library_path()))
    store = ctypes.c_void_p
    store_p = ctypes.POINTER(ctypes.c_void_p)
    status = ctypes.c_uint32
    char_p = ctypes.c_char_p
    signatures = {
        "nvs_version": ([], char_p),
        "nvs_status_name": ([ctypes.c_uint32], char_p),
        "nvs_last_error_message": ([], char_p),
        "nvs_search_options_default": ([], SearchOptions),
        "nvs_store_new": ([ctypes.c_size_t, ctypes.c_bool, store_p], status),
        "nvs_store_new_with_storage": ([ctypes.c_size_t, ctypes.c_bool, ctypes.c_uint32, store_p], status),
        "nvs_store_storage": ([store], ctypes.c_uint32),
        "nvs_store_free": ([store], None),
        "nvs_store_add": ([store, c_float_p, ctypes.c_size_t, c_uint64_p, ctypes.c_size_t], status),
        "nvs_store_get": ([store, ctypes.c_size_t, c_float_p, ctypes.c_size_t, c_uint64_p], status),
        "nvs_store_len": ([store], ctypes.c_size_t),
        "nvs_store_dimensions": ([store], ctypes.c_size_t),
        "nvs_store_normalize": ([store], ctypes.c_bool),
        "nvs_store_clear": ([store], status),
        "nvs_store_read_rows": (
            [store, ctypes.c_size_t, ctypes.c_size_t, c_float_p, ctypes.c_size_t, c_uint64_p, ctypes.c_size_t],
            status,
        ),
        "nvs_store_search": (
            [store, ctypes.c_uint32, c_float_p, ctypes.c_size_t, ctypes.POINTER(SearchOptions),
             ctypes.POINTER(Hit), ctypes.c_size_t, c_size_t_p],
            status,
        ),
        "nvs_store_search_batch": (
            [store, ctypes.c_uint32, c_float_p, ctypes.c_size_t, ctypes.POINTER(SearchOptions),
             ctypes.POINTER(Hit), ctypes.c_size_t, ctypes.c_size_t, c_size_t_p],
            status,
        ),
        "nvs_store_open": ([char_p, store_p], status),
        "nvs_store_open_with_flags": ([char_p, ctypes.c_uint32, store_p], status),
        "nvs_store_open_bytes": ([ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, store_p], status),
        "nvs_store_save": ([store, char_p], status),
        "nvs_store_save_with_flags": ([store, char_p, ctypes.c_uint32], status),
        "nvs_store_reload": ([store], status),
        "nvs_store_reload_with_flags": ([store, ctypes.c_uint32], status),
        "nvs_store_file_path": ([store, ctypes.c_char_p, ctypes.c_size_t, c_size_t_p], status),
    }
    for name, (argtypes, restype) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
    return lib
