"""Save and open of one store, nvs (through the C ABI) beside numpy on the same rows and the
same files, same process: np.savez / np.savez_compressed of the archive's five arrays, and
np.load of the very file nvs wrote. Runs alternate between the systems; each number is a median.
Rates are of row bytes (rows x dims x 4); files stay in the page cache. nvs's save includes its
fsync (numpy's does not), and nvs's open checks every row (numpy's does not). Opens show the
median (best): right after a large write, the first large allocation can wait for the kernel
to reclaim and compact memory for huge pages, which both libraries ask for.

Usage: python bench/persist_peers.py [--rows 1000000] [--dims 384] [--runs 5] [--reference]
       [--archives uncompressed,compressed]
(--reference adds numpy-vector-store 0.7.0's VectorStore.save/open, compressed only)
"""

import argparse
import ctypes
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import peers  # noqa: F401  (puts tests/python on the path for nvs_ctypes)
from nvs_ctypes import c_float_p, c_uint64_p, load_library
from peers import ROOT

SAVE_UNCOMPRESSED = 1


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--archives", default="uncompressed,compressed")
    args = ap.parse_args()
    lib = load_library(Path(os.environ.get("NVS_LIB", ROOT / "target" / "release" / "libnvs.so")))
    rows, dims = args.rows, args.dims
    data = np.random.default_rng(5).standard_normal((rows, dims), dtype=np.float32)
    ids = np.arange(rows, dtype=np.uint64)
    store = ctypes.c_void_p()
    assert lib.nvs_store_new(dims, True, ctypes.byref(store)) == 0
    assert lib.nvs_store_add(store, data.ctypes.data_as(c_float_p), data.size, ids.ctypes.data_as(c_uint64_p), rows) == 0
    unit = data / np.linalg.norm(data, axis=1, keepdims=True).astype(np.float32)
    arrays = dict(format_version=np.array(1, dtype=np.int64), dimensions=np.array(dims, dtype=np.int64),
                  normalize=np.array(True), vectors=unit, metadata=ids)
    row_bytes = rows * dims * 4

    print(f"### Persistence side by side (`bench/persist_peers.py`, {rows} x {dims}, normalized, median of {args.runs})\n")
    print("| archive | nvs file MB | nvs save | numpy save | numpy file MB | nvs open | nvs GB/s | np.load of nvs's file | np.load GB/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=os.environ.get("NVS_BENCH_TMP")) as tmp:
        for label, flags, np_save in (("uncompressed", SAVE_UNCOMPRESSED, np.savez),
                                      ("compressed", 0, np.savez_compressed)):
            if label not in args.archives.split(","):
                continue
            ours, theirs = Path(tmp) / f"nvs-{label}.npz", Path(tmp) / f"np-{label}.npz"
            t = {k: [] for k in ("save", "np_save", "open", "load")}

            def nvs_open():
                h = ctypes.c_void_p()
                assert lib.nvs_store_open(str(ours).encode(), ctypes.byref(h)) == 0
                lib.nvs_store_free(h)

            def np_load():
                with np.load(ours) as f:
                    f["vectors"], f["metadata"]

            steps = [("save", lambda: lib.nvs_store_save_with_flags(store, str(ours).encode(), flags)),
                     ("np_save", lambda: np_save(theirs, **arrays)), ("open", nvs_open), ("load", np_load)]
            for run in range(args.runs + 1):  # the first run warms up and is dropped below
                # Each system goes first in every other run: what ran just before (a large
                # write, a large free) changes what the next allocation or write costs.
                for pair in (steps[:2], steps[2:]):
                    for key, fn in (pair if run % 2 else pair[::-1]):
                        t[key].append(timed(fn))
            m = {k: statistics.median(v[1:]) for k, v in t.items()}
            best = {k: min(v[1:]) for k, v in t.items()}
            print(f"| {label} | {ours.stat().st_size / 1e6:.1f} | {m['save']:.3f} s | {m['np_save']:.3f} s | "
                  f"{theirs.stat().st_size / 1e6:.1f} | {m['open']:.3f} s ({best['open']:.3f}) | "
                  f"{row_bytes / m['open'] / 1e9:.2f} | {m['load']:.3f} s ({best['load']:.3f}) | "
                  f"{row_bytes / m['load'] / 1e9:.2f} |", flush=True)
        if args.reference:
            from numpy_vector_store import VectorStore
            ref = VectorStore(dims, normalize=True)
            ref.add(data, list(range(rows)))
            path = Path(tmp) / "reference.npz"
            save = statistics.median(timed(lambda: ref.save(path)) for _ in range(args.runs))
            load = statistics.median(timed(lambda: VectorStore.open(path)) for _ in range(args.runs))
            print(f"| numpy-vector-store 0.7.0 (compressed) | {path.stat().st_size / 1e6:.1f} | {save:.3f} s | | | "
                  f"{load:.3f} s | {row_bytes / load / 1e9:.2f} | | |")
    lib.nvs_store_free(store)


if __name__ == "__main__":
    main()
