"""Batch throughput: 100 queries over 100k rows of 384, 1536 and 3072 dimensions (cosine,
top 10, one thread), nvs's nvs_store_search_batch against FAISS IndexFlatIP.search on the same
data, same process, beside the single-thread FMA peak measured in the same run (libnvs_bench's
nvsb_fma_peak_gflops).

Usage: python bench/batch_peers.py [--queries 100] [--rows 100000] [--dims 384,1536,3072]
"""

import argparse
import ctypes
from pathlib import Path

import numpy as np

from peers import ROOT, Hit, bench_lib, cpu_model, median_seconds, nvs_lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dims", default="384,1536,3072")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    import faiss
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    faiss.omp_set_num_threads(1)

    nvs = nvs_lib()
    lib = nvs.lib
    lib.nvs_store_search_batch.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
        ctypes.POINTER(Hit), ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
    ]
    bench = bench_lib()
    peak = bench.nvsb_fma_peak_gflops()
    cpu = cpu_model()
    print(f"\n### Batch: {args.queries} queries x {args.rows} rows, cosine, top 10, one thread\n")
    print(f"CPU {cpu}; nvs kernel {bench.nvsb_kernel_name().decode()}, batch screen "
          f"{bench.nvsb_batch_screen().decode()} (NVS_SCREEN=f32 asks for the f32 one); FAISS {faiss.__version__}; "
          f"f32 FMA peak measured in this run {peak:.0f} GFLOP/s\n")
    print("| dims | nvs search_batch | GFLOP/s | of FMA peak | faiss IndexFlatIP | GFLOP/s | nvs speed vs FAISS | top-10 agree |")
    print("|---|---|---|---|---|---|---|---|")
    for dims in [int(d) for d in args.dims.split(",")]:
        rng = np.random.default_rng(42)
        data = rng.standard_normal((args.rows, dims), dtype=np.float32)
        queries = rng.standard_normal((args.queries, dims), dtype=np.float32)
        h = nvs.store(data, True)
        hits = (Hit * (10 * args.queries))()
        lens = (ctypes.c_size_t * args.queries)()

        def ours():
            assert lib.nvs_store_search_batch(h, 0, queries.ctypes.data, queries.size, ctypes.byref(nvs.options),
                                              hits, len(hits), 10, lens) == 0

        unit = data / np.linalg.norm(data, axis=1, keepdims=True)
        del data
        qunit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        index = faiss.IndexFlatIP(dims)
        index.add(unit)
        del unit
        # Interleaved blocks, so both see the same machine state; the median of each.
        t_ours, t_faiss = [], []
        for _ in range(5):
            t_ours.append(median_seconds(ours, 1.0, min_runs=3, max_runs=10))
            t_faiss.append(median_seconds(lambda: index.search(qunit, 10), 1.0, min_runs=2, max_runs=5))
        t_ours, t_faiss = float(np.median(t_ours)), float(np.median(t_faiss))
        flops = 2.0 * args.queries * args.rows * dims
        g_ours, g_faiss = flops / t_ours / 1e9, flops / t_faiss / 1e9
        ours()
        ids = np.array([[hits[q * 10 + j].index for j in range(10)] for q in range(args.queries)])
        _, want = index.search(qunit, 10)
        agree = float((ids == want).mean())
        share = f"{100 * g_ours / peak:.0f}%" if peak > 0 else "-"
        print(f"| {dims} | {t_ours * 1e3:.1f} ms | {g_ours:.0f} | {share} | {t_faiss * 1e3:.1f} ms | {g_faiss:.0f} | "
              f"{t_faiss / t_ours:.2f}x | {agree:.1%} |", flush=True)
        lib.nvs_store_free(h)
        del index


if __name__ == "__main__":
    main()
