"""Shared pytest fixtures: the nvs shared library (see nvs_ctypes.py)."""

from __future__ import annotations

import ctypes

import pytest

from nvs_ctypes import library_path, load_library


@pytest.fixture(scope="session")
def nvs_lib() -> ctypes.CDLL:
    path = library_path()
    if not path.exists():
        pytest.fail(f"{path} not found: run `cargo build --release` or set NVS_LIB")
    return load_library(path)
