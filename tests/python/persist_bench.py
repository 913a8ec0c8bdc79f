"""Measure archive cost for 100k x 384 through the C ABI, next to numpy-vector-store 0.7.0.

    python tests/python/persist_bench.py [rows] [dims]

Prints file size, save time and load time (best of 3) per mode. Not a test: numbers only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_interop import SAVE_PICKLED_METADATA, SAVE_UNCOMPRESSED, Store  # noqa: E402


def best(f, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    dims = int(sys.argv[2]) if len(sys.argv) > 2 else 384
    vectors = np.random.default_rng(0).standard_normal((rows, dims)).astype(np.float32)
    ids = np.arange(rows, dtype=np.uint64)
    store = Store.new(dims, True)
    store.add(vectors, ids)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{rows} x {dims} float32, normalize=True")
        print(f"{'mode':34} {'size MB':>8} {'save s':>8} {'load s':>8}")
        for label, flags in [("nvs compressed (default)", 0), ("nvs uncompressed", SAVE_UNCOMPRESSED),
                             ("nvs compressed, pickled metadata", SAVE_PICKLED_METADATA)]:
            path = Path(tmp) / f"{flags}.npz"
            save = best(lambda: store.save(path, flags))
            load = best(lambda: Store.open(path))
            print(f"{label:34} {path.stat().st_size / 1e6:8.1f} {save:8.2f} {load:8.2f}")
        try:
            from numpy_vector_store import VectorStore
        except ImportError:
            return
        reference = VectorStore(dimensions=dims, normalize=True)
        reference.add(vectors, list(range(rows)))
        path = Path(tmp) / "reference.npz"
        save = best(lambda: reference.save(path))
        load = best(lambda: VectorStore.open(path))
        print(f"{'numpy-vector-store 0.7.0':34} {path.stat().st_size / 1e6:8.1f} {save:8.2f} {load:8.2f}")


if __name__ == "__main__":
    main()
