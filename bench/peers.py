"""Single-query latency of nvs against numpy-vector-store, FAISS and usearch, in one process.

Every system gets the same seeded float32 data and query and runs single-threaded; the
best multi-stream read of the same bytes (libnvs_bench's nvsb_scan_streams, 1, 2, 4 or 8
streams) gives the bandwidth floor in the same run. Writes OUT/results.json; report.py turns it into a table and a chart.

Usage: python bench/peers.py [--smoke] [--out DIR] [--rows 1000000 --dims 384]
(bench/run.sh sets up everything; --rows/--dims replace the grid, e.g. for a 1M-row cell)
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


# The C structs and metric codes, declared once for the tests and the benchmark.
sys.path.insert(0, str(ROOT / "tests" / "python"))
from nvs_ctypes import METRICS, Hit  # noqa: E402
from nvs_ctypes import SearchOptions as Options  # noqa: E402


def nvs_lib():
    """nvs as the benchmark loads it: `NVS_LIB`, or the release build."""
    return Nvs(os.environ.get("NVS_LIB", ROOT / "target" / "release" / "libnvs.so"))


def bench_lib():
    """libnvs_bench (`NVS_BENCH_LIB`, or bench/'s release build): the read floors, the FMA peak
    and the kernel nvs picks in this process."""
    lib = ctypes.CDLL(str(os.environ.get("NVS_BENCH_LIB", ROOT / "bench" / "target" / "release" / "libnvs_bench.so")))
    lib.nvsb_scan.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.nvsb_scan.restype = ctypes.c_float
    lib.nvsb_scan_streams.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    lib.nvsb_scan_streams.restype = ctypes.c_float
    lib.nvsb_fma_peak_gflops.restype = ctypes.c_double
    lib.nvsb_kernel_name.restype = ctypes.c_char_p
    lib.nvsb_batch_screen.restype = ctypes.c_char_p
    return lib


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo gives it ("?" elsewhere)."""
    if not Path("/proc/cpuinfo").exists():
        return "?"
    return next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")


class Nvs:
    def __init__(self, path):
        lib = ctypes.CDLL(str(path))
        lib.nvs_search_options_default.restype = Options
        lib.nvs_store_new.argtypes = [ctypes.c_size_t, ctypes.c_bool, ctypes.POINTER(ctypes.c_void_p)]
        lib.nvs_store_add.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
        lib.nvs_store_free.argtypes = [ctypes.c_void_p]
        lib.nvs_store_search.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(Options),
            ctypes.POINTER(Hit), ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
        ]
        self.lib = lib
        self.options = lib.nvs_search_options_default()
        self.options.threads = 1
        self.hits = (Hit * 10)()
        self.n = ctypes.c_size_t()

    def store(self, data, normalize):
        h = ctypes.c_void_p()
        assert self.lib.nvs_store_new(data.shape[1], normalize, ctypes.byref(h)) == 0
        assert self.lib.nvs_store_add(h, data.ctypes.data, data.size, None, 0) == 0
        return h

    def search_fn(self, h, metric, query):
        lib, m, q, qn, opts, hits, n = self.lib, METRICS[metric], query.ctypes.data, query.size, self.options, self.hits, self.n

        def run():
            status = lib.nvs_store_search(h, m, q, qn, ctypes.byref(opts), hits, 10, ctypes.byref(n))
            assert status == 0
        return run


def median_seconds(fn, budget, min_runs=5, max_runs=2000):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < budget and len(times) < max_runs):
        t = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="small grid, short timings (about a minute)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--peers", default="numpy-vector-store,faiss,usearch")
    ap.add_argument("--rows", help="comma-separated row counts instead of the grid's (e.g. 1000000)")
    ap.add_argument("--dims", help="comma-separated dimensions instead of the grid's")
    args = ap.parse_args()

    from threadpoolctl import threadpool_info, threadpool_limits
    threadpool_limits(1)
    import numpy_vector_store
    peers = set(args.peers.split(",")) if args.peers else set()
    faiss = usearch_search = None
    if "faiss" in peers:
        import faiss
        faiss.omp_set_num_threads(1)
    if "usearch" in peers:
        from usearch.index import search as usearch_search

    nvs = nvs_lib()
    scanlib = bench_lib()

    rows_list = [1000, 10_000] if args.smoke else [1000, 10_000, 100_000]
    dims_list = [384] if args.smoke else [384, 1536, 3072]
    if args.rows:
        rows_list = [int(r) for r in args.rows.split(",")]
    if args.dims:
        dims_list = [int(d) for d in args.dims.split(",")]
    budget = 0.1 if args.smoke else 1.0
    results = []
    meta = {
        "machine": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_vector_store": getattr(numpy_vector_store, "__version__", "0.7.0"),
        "faiss": getattr(faiss, "__version__", None) if faiss else None,
        "blas": [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()],
        "env": {k: os.environ.get(k) for k in ["OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NVS_KERNEL"]},
        "smoke": args.smoke,
    }
    print(json.dumps(meta), flush=True)

    def record(system, rows, dims, metric, normalize, seconds):
        results.append(dict(system=system, rows=rows, dims=dims, metric=metric, normalize=normalize, seconds=seconds))
        print(f"{system:22s} {rows:>7d} x {dims:<5d} {metric:9s} norm={normalize} {seconds * 1e3:9.3f} ms", flush=True)

    for dims in dims_list:
        for rows in rows_list:
            rng = np.random.default_rng(rows * 10_000 + dims)
            data = rng.standard_normal((rows, dims), dtype=np.float32)
            query = rng.standard_normal(dims, dtype=np.float32)
            # The floor: the best multi-stream read of the same bytes (1, 2, 4 or 8 streams).
            record("scan floor", rows, dims, "-", None, min(
                median_seconds(lambda k=k: scanlib.nvsb_scan_streams(data.ctypes.data, data.size, k), budget)
                for k in (1, 2, 4, 8)))
            for normalize in (True, False):
                h = nvs.store(data, normalize)
                for metric in METRICS:
                    record("nvs", rows, dims, metric, normalize, median_seconds(nvs.search_fn(h, metric, query), budget))
                nvs.lib.nvs_store_free(h)
            if "numpy-vector-store" in peers:
                store = numpy_vector_store.VectorStore(dims, normalize=True)
                store.add(data, list(range(rows)))
                record("numpy-vector-store", rows, dims, "cosine", True,
                       median_seconds(lambda: store.cosine_search(query, top_k=10), budget, max_runs=200))
                del store
            unit = data / np.linalg.norm(data, axis=1, keepdims=True)
            qunit = (query / np.linalg.norm(query)).reshape(1, -1).astype(np.float32)
            if faiss:
                index = faiss.IndexFlatIP(dims)
                index.add(unit)
                record("faiss IndexFlatIP", rows, dims, "cosine", True,
                       median_seconds(lambda: index.search(qunit, 10), budget, max_runs=500))
                del index
            if usearch_search:
                record("usearch exact", rows, dims, "cosine", True,
                       median_seconds(lambda: usearch_search(data, query, 10, "cos", exact=True, threads=1),
                                      budget, max_runs=200))
            del data, unit

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
