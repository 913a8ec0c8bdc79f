"""Differential test: libnvs (through its C ABI, via ctypes) against numpy-vector-store 0.7.0.

Both get the same seeded random stores and the same searches and adds, valid and invalid, and
must agree on every accept/reject decision (statuses; the reference's exceptions are mapped
to statuses by tests/conformance/generate.py) and on every result:

- the same hits in the same order, with ids exactly and values within 1e-5 * max(1, |value|);
- two hits may trade places only when their values are within that tolerance (a near tie,
  also at the top_k cut);
- with a threshold, a row may be present on one side only when its value is within that
  tolerance of the threshold.

Run from the repository root after `cargo build --release`:

    python -m pytest tests/python/test_differential.py -s

(-s shows the case count.) NVS_LIB overrides the library path.
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import math

import numpy as np
import pytest
from numpy_vector_store import VectorStore

from nvs_ctypes import METRICS, REPO, STATUS_NAMES, Hit, SearchOptions, c_float_p, c_size_t_p, c_uint64_p


def _load_generator():
    spec = importlib.util.spec_from_file_location("nvs_generate", REPO / "tests" / "conformance" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# One mapping from reference exceptions to statuses, shared with the conformance generator.
reference_call = _load_generator().call

CASES = {"count": 0, "configs": 0}


def tol(v: float) -> float:
    return 1e-5 * max(1.0, abs(v))


class Ours:
    """The store through the C ABI, with the reference's method shapes."""

    def __init__(self, lib, dims: int, normalize: bool):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        self.status = STATUS_NAMES[lib.nvs_store_new(dims, normalize, ctypes.byref(self.handle))]

    def close(self):
        self.lib.nvs_store_free(self.handle)

    def __len__(self):
        return self.lib.nvs_store_len(self.handle)

    def add(self, values: np.ndarray, ids) -> str:
        values = np.ascontiguousarray(values, dtype=np.float32).ravel()
        vp = values.ctypes.data_as(c_float_p)
        if ids is None:
            st = self.lib.nvs_store_add(self.handle, vp, len(values), None, 0)
        else:
            arr = np.asarray(ids, dtype=np.uint64)
            buf = np.ascontiguousarray(arr) if len(arr) else np.zeros(1, dtype=np.uint64)  # never NULL
            st = self.lib.nvs_store_add(self.handle, vp, len(values), buf.ctypes.data_as(c_uint64_p), len(arr))
        return STATUS_NAMES[st]

    def search(self, metric, query, top_k, threshold, within):
        q = np.ascontiguousarray(query, dtype=np.float32)
        o = self.lib.nvs_search_options_default()
        o.top_k = top_k
        if threshold is not None:
            o.has_threshold = True
            o.threshold = threshold
        keep = None
        if within is not None:
            keep = np.ascontiguousarray(np.asarray(within, dtype=np.uintp).reshape(-1))
            o.has_within_rows = True
            o.within_rows = keep.ctypes.data_as(c_size_t_p) if len(keep) else None
            o.within_rows_len = len(keep)
        cap = len(self) + 1
        hits = (Hit * cap)()
        n = ctypes.c_size_t(0)
        st = self.lib.nvs_store_search(
            self.handle, METRICS[metric], q.ctypes.data_as(c_float_p), len(q), ctypes.byref(o), hits, cap,
            ctypes.byref(n),
        )
        if st != 0:
            return STATUS_NAMES[st], None
        return "OK", [(h.index, h.id, h.value) for h in hits[: n.value]]


class Reference:
    def __init__(self, dims: int, normalize: bool):
        self.status, self.store = reference_call(lambda: VectorStore(dims, normalize=normalize))

    def add(self, values: np.ndarray, dims: int, ids) -> str:
        flat = np.asarray(values, dtype=np.float32).ravel()
        batch = flat.reshape(-1, dims) if len(flat) % dims == 0 else flat.reshape(1, -1)
        start = len(self.store)
        meta = list(range(start, start + len(batch))) if ids is None else [int(i) for i in ids]
        status, _ = reference_call(lambda: self.store.add(batch, meta))
        return status

    def search(self, metric, query, top_k, threshold, within):
        kwargs = {"top_k": top_k}
        if threshold is not None:
            kwargs["max_value" if metric == "euclidean" else "min_value"] = threshold
        if within is not None:
            kwargs["within_rows"] = [int(r) for r in within]
        status, hits = reference_call(lambda: getattr(self.store, f"{metric}_search")(query, **kwargs))
        if status != "OK":
            return status, None
        return "OK", [(h.index, int(h.metadata), h.value) for h in hits]


def compare(label, metric, threshold, ref, ours, ref_all):
    """Assert that `ours` equals `ref` up to the tolerated near ties (see the module doc).
    `ref_all` maps every candidate row to (id, value) as the reference computes them."""
    descending = metric != "euclidean"
    # Our list is sorted by our own values, ties by ascending row index.
    for (i1, _, v1), (i2, _, v2) in zip(ours, ours[1:]):
        better = v1 > v2 if descending else v1 < v2
        assert better or (v1 == v2 and i1 < i2), f"{label}: our hits are out of order: {ours}"
    # Every hit of ours is a candidate with the right id and value.
    for index, id_, value in ours:
        assert index in ref_all, f"{label}: row {index} is not a candidate"
        want_id, want_value = ref_all[index]
        assert id_ == want_id, f"{label}: row {index} id {id_} != {want_id}"
        assert abs(value - want_value) <= tol(want_value), f"{label}: row {index} value {value} != {want_value}"
    # Position by position the values agree (a different row only in a near tie).
    for pos, (r, o) in enumerate(zip(ref, ours)):
        assert abs(r[2] - o[2]) <= tol(r[2]), f"{label}: position {pos}: reference {r}, ours {o}"
    # A different count only through rows within rounding of the threshold.
    if len(ref) != len(ours):
        longer = ref if len(ref) > len(ours) else ours
        assert threshold is not None, f"{label}: {len(ref)} reference hits, {len(ours)} ours"
        for _, _, v in longer[min(len(ref), len(ours)):]:
            assert abs(v - threshold) <= tol(threshold), (
                f"{label}: {len(ref)} reference hits, {len(ours)} ours; extra value {v} vs threshold {threshold}"
            )


def run_search(label, reference, ours, metric, query, top_k, threshold, within):
    ref_status, ref_hits = reference.search(metric, query, top_k, threshold, within)
    our_status, our_hits = ours.search(metric, query, top_k, threshold, within)
    CASES["count"] += 1
    assert our_status == ref_status, f"{label}: reference {ref_status}, ours {our_status}"
    if ref_status != "OK":
        return
    candidates = len(reference.store) if within is None else len(within)
    ref_all = {}
    if candidates:
        st, every = reference.search(metric, query, candidates, None, within)
        assert st == "OK"
        ref_all = {i: (id_, v) for i, id_, v in every}
    compare(label, metric, threshold, ref_hits, our_hits, ref_all)


def random_threshold(rng, metric, values):
    """Thresholds spread over the value range, sometimes exactly on a value."""
    if len(values) == 0 or rng.random() < 0.1:
        return float(rng.normal())
    if rng.random() < 0.2:
        return float(rng.choice(values))  # a row exactly on the threshold
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo or 1.0
    return float(rng.uniform(lo - 0.1 * span, hi + 0.1 * span))


SIZES = [0, 1, 4, 37, 300, 1100]
DIMS = [1, 3, 8, 65]
CONFIGS = [
    (n, d, normalize, kind)
    for n, d, normalize in itertools.product(SIZES, DIMS, (True, False))
    for kind in (("gauss", "int") if not normalize else ("gauss",))
]


@pytest.mark.parametrize("n,dims,normalize,kind", CONFIGS, ids=lambda v: str(v))
def test_same_results_as_reference(nvs_lib, n, dims, normalize, kind):
    seed = n * 1_000_003 + dims * 7_919 + int(normalize) * 101 + (kind == "int")
    rng = np.random.default_rng(seed)

    def rows(count):
        if kind == "int":  # small integers: exact values, many real ties
            return rng.integers(-3, 4, size=(count, dims)).astype(np.float32)
        return rng.normal(size=(count, dims)).astype(np.float32)

    reference = Reference(dims, normalize)
    ours = Ours(nvs_lib, dims, normalize)
    try:
        assert reference.status == ours.status == "OK"
        data = rows(n)
        if normalize:
            data[np.all(data == 0, axis=1), 0] = 1.0
        # Add in a few batches, ids sometimes given, sometimes row indexes.
        start = 0
        while start < n:
            stop = min(n, start + int(rng.integers(1, max(2, n // 2) + 1)))
            ids = rng.integers(0, 2**63, size=stop - start, dtype=np.uint64) if rng.random() < 0.6 else None
            label = f"add rows {start}..{stop}"
            assert ours.add(data[start:stop], ids) == reference.add(data[start:stop], dims, ids) == "OK", label
            start = stop
        CASES["count"] += 1

        for s in range(60):
            metric = ("cosine", "dot", "euclidean")[s % 3]
            query = rows(1)[0] if rng.random() < 0.8 or n == 0 else data[int(rng.integers(n))].copy()
            top_k = int(rng.choice([1, 2, 5, 10, max(1, n), n + 7]))
            within = None
            if n and rng.random() < 0.4:
                within = rng.permutation(n)[: int(rng.integers(0, n + 1))]
            threshold = None
            if rng.random() < 0.4:
                st, every = reference.search(metric, query, max(1, len(reference.store)), None, within)
                values = np.array([v for _, _, v in every]) if st == "OK" else np.array([])
                threshold = random_threshold(rng, metric, values)
            label = f"{metric} search {s} (top_k {top_k}, threshold {threshold}, within {within is not None})"
            run_search(label, reference, ours, metric, query, top_k, threshold, within)

        bad_searches(rng, reference, ours, dims, n)
        bad_adds(rng, reference, ours, dims, normalize)
        CASES["configs"] += 1
    finally:
        ours.close()


def bad_adds(rng, reference, ours, dims, normalize):
    """Invalid adds: the same status on both sides, and nothing added."""
    before = len(ours)
    good = rng.normal(size=(3, dims)).astype(np.float32)
    attempts = []
    for bad in (np.nan, np.inf, -np.inf):
        v = good.copy()
        v[int(rng.integers(3)), int(rng.integers(dims))] = bad
        attempts.append((v, None))
    attempts.append((good.ravel()[: 3 * dims - 1], None))  # not a whole number of rows
    attempts.append((good, [1, 2]))  # ids count mismatch
    attempts.append((good, [1, 2, 3, 4]))
    zero = good.copy()
    zero[1] = 0.0
    attempts.append((zero, None))  # zero row: rejected by a normalize store only
    for values, ids in attempts:
        want = reference.add(values, dims, ids)
        got = ours.add(values, ids)
        CASES["count"] += 1
        assert got == want, f"add {values.tolist()} ids {ids}: reference {want}, ours {got}"
        if want != "OK":
            assert len(ours) == len(reference.store), "a failed add changed the length"
    if not normalize:
        # The accepted zero row makes raw cosine fail unless a prefilter leaves it out.
        zero_row = len(reference.store) - 2
        q = rng.normal(size=dims).astype(np.float32)
        run_search("raw cosine over a zero row", reference, ours, "cosine", q, 5, None, None)
        run_search("raw cosine, zero row left out", reference, ours, "cosine", q, 5, None, [zero_row + 1, zero_row - 1])
    assert len(ours) >= before


def bad_searches(rng, reference, ours, dims, n):
    q = rng.normal(size=dims).astype(np.float32)
    cases = []
    for metric in ("cosine", "dot", "euclidean"):
        nan_q = q.copy()
        nan_q[int(rng.integers(dims))] = np.nan
        inf_q = q.copy()
        inf_q[0] = -np.inf
        cases += [
            (metric, nan_q, 10, None, None),
            (metric, inf_q, 10, None, None),
            (metric, np.zeros(dims, np.float32), 10, None, None),  # zero query
            (metric, np.zeros(dims, np.float32), 3, 0.5, None),
            (metric, q[:-1], 10, None, None),  # wrong length
            (metric, np.append(q, 1.0).astype(np.float32), 10, None, None),
            (metric, q, 0, None, None),  # top_k 0
            (metric, nan_q, 0, None, None),
            (metric, q, 10, math.nan, None),
            (metric, q, 10, math.inf, None),
            (metric, q, 0, math.nan, None),
            (metric, q, 10, None, [n]),  # out of range
            (metric, q, 10, None, [n + 5, 0] if n else [3]),
            (metric, q, 10, None, [0, 0] if n else [1, 1]),  # duplicates
            (metric, q, 10, None, [n + 1, n + 1]),
            (metric, q, 10, None, []),
            (metric, np.zeros(dims, np.float32), 10, None, [0, 0]),
            (metric, q, 10, math.nan, [0, 0]),
        ]
        if n >= 3:
            cases.append((metric, q, 10, None, [2, 1, 2]))
            cases.append((metric, q, 10, None, [2, n, 2]))
    for metric, query, top_k, threshold, within in cases:
        label = f"invalid {metric} search: query {query.tolist()[:4]}, top_k {top_k}, threshold {threshold}, within {within}"
        run_search(label, reference, ours, metric, query, top_k, threshold, within)


def test_case_count():
    """Runs last (pytest keeps file order): every configuration ran, 2,000+ cases compared."""
    if CASES["configs"] != len(CONFIGS):
        pytest.skip("only a subset of the differential configurations ran")
    print(f"\ndifferential cases: {CASES['count']} over {CASES['configs']} stores")
    assert CASES["count"] >= 2000
