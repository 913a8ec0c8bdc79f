"""Batch throughput: 100 queries over 100k x 384 (cosine, top 10, one thread), nvs's
nvs_store_search_batch against FAISS IndexFlatIP.search on the same data, same process.

Usage: python bench/batch_peers.py [--queries 100] [--rows 100000] [--dims 384]
"""

import argparse
import ctypes
import os
from pathlib import Path

import numpy as np

from peers import ROOT, Hit, Nvs, median_seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    import faiss
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    faiss.omp_set_num_threads(1)

    rng = np.random.default_rng(42)
    data = rng.standard_normal((args.rows, args.dims), dtype=np.float32)
    queries = rng.standard_normal((args.queries, args.dims), dtype=np.float32)
    nvs = Nvs(os.environ.get("NVS_LIB", ROOT / "target" / "release" / "libnvs.so"))
    lib = nvs.lib
    lib.nvs_store_search_batch.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
        ctypes.POINTER(Hit), ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
    ]
    h = nvs.store(data, True)
    hits = (Hit * (10 * args.queries))()
    lens = (ctypes.c_size_t * args.queries)()

    def ours():
        assert lib.nvs_store_search_batch(h, 0, queries.ctypes.data, queries.size, ctypes.byref(nvs.options),
                                          hits, len(hits), 10, lens) == 0

    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    qunit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(args.dims)
    index.add(unit)
    t_ours = median_seconds(ours, 5.0, min_runs=5, max_runs=30)
    t_faiss = median_seconds(lambda: index.search(qunit, 10), 5.0, min_runs=3, max_runs=15)
    flops = 2.0 * args.queries * args.rows * args.dims
    print(f"\n### Batch: {args.queries} queries x {args.rows} x {args.dims}, cosine, top 10, one thread\n")
    print("| system | time | GFLOP/s | speed vs FAISS |\n|---|---|---|---|")
    print(f"| nvs search_batch | {t_ours * 1e3:.1f} ms | {flops / t_ours / 1e9:.0f} | {t_faiss / t_ours:.1f}x |")
    print(f"| faiss IndexFlatIP | {t_faiss * 1e3:.1f} ms | {flops / t_faiss / 1e9:.0f} | 1.0x |")
    found = [int(lens[i]) for i in range(args.queries)]
    ids = np.array([[hits[q * 10 + j].index for j in range(10)] for q in range(args.queries)])
    _, want = index.search(qunit, 10)
    agree = float((ids == want).mean())
    print(f"\n(top-10 indexes agree with FAISS on {agree:.1%} of slots; hits per query {min(found)}..{max(found)})")
    lib.nvs_store_free(h)


if __name__ == "__main__":
    main()
