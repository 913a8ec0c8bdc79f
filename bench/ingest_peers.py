"""Ingestion: nvs_store_add against numpy-vector-store 0.7.0's VectorStore.add on the same
rows, same process, one thread. Each timed run builds a fresh store (creation included).

Usage: python bench/ingest_peers.py [--rows 100000] [--dims 384] [--single 20000]
"""

import argparse
import ctypes
import time

import numpy as np

import peers  # noqa: F401  (puts tests/python on the path for nvs_ctypes)
from nvs_ctypes import c_float_p, load_library
from peers import ROOT


def rows_per_second(fn, rows, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return rows / float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--single", type=int, default=20_000, help="rows added one per call")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from numpy_vector_store import VectorStore
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    lib = load_library(ROOT / "target" / "release" / "libnvs.so")
    data = np.random.default_rng(3).standard_normal((args.rows, args.dims), dtype=np.float32)
    ids = list(range(args.rows))
    ptr = data.ctypes.data_as(c_float_p)
    row_bytes = args.dims * 4

    def nvs_batch(normalize):
        s = ctypes.c_void_p()
        assert lib.nvs_store_new(args.dims, normalize, ctypes.byref(s)) == 0
        assert lib.nvs_store_add(s, ptr, data.size, None, 0) == 0
        lib.nvs_store_free(s)

    def nvs_single(normalize):
        s = ctypes.c_void_p()
        assert lib.nvs_store_new(args.dims, normalize, ctypes.byref(s)) == 0
        base = data.ctypes.data
        for i in range(args.single):
            lib.nvs_store_add(s, ctypes.cast(base + i * row_bytes, c_float_p), args.dims, None, 0)
        lib.nvs_store_free(s)

    def ref_batch(normalize):
        VectorStore(args.dims, normalize=normalize).add(data, ids)

    def ref_single(normalize):
        s = VectorStore(args.dims, normalize=normalize)
        for i in range(args.single):
            s.add(data[i : i + 1], ids[i : i + 1])

    print(f"### Ingestion side by side ({args.rows} x {args.dims}; one row per call: {args.single} rows)\n")
    print("| how | normalize | nvs rows/s | numpy-vector-store rows/s | nvs / numpy-vector-store |")
    print("|---|---|---|---|---|")
    for normalize in (True, False):
        for how, ours, theirs, rows, runs in (
            ("one batch", nvs_batch, ref_batch, args.rows, args.runs),
            ("one row per call", nvs_single, ref_single, args.single, 1),
        ):
            a = rows_per_second(lambda: ours(normalize), rows, runs)
            b = rows_per_second(lambda: theirs(normalize), rows, runs)
            print(f"| {how} | {str(normalize).lower()} | {a / 1e6:.2f} M | {b / 1e6:.2f} M | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
