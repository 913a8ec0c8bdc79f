"""Differential test: libnvs (through its C ABI, via ctypes) against numpy-vector-store 0.7.0.

Both get the same seeded random stores and the same searches and adds, valid and invalid, and
must agree on every accept/reject decision (statuses; the reference's exceptions are mapped
to statuses by tests/conformance/generate.py) and on every result. Values are compared with
the bounds of the conformance cases (tests/conformance/README.md, "Comparing";
`score` in generate.py): for each candidate row, B bounds the difference between two correct
implementations (B = 0: the value is exact everywhere). float32 values of normalize stores get
bounds of about d * 2^-23, the float64 values of raw stores about d * 2^-52, relative to the
sum of the terms' magnitudes. Then:

- every hit of ours is a candidate with the right id and a value within B of the reference's;
- our hits are sorted by our values, equal values by ascending row index, and pass the
  threshold by our values;
- a row that must rank before one of our hits is among our hits, before it: its reference
  value beats the other's by more than both bounds, or the two are real ties (equal exact
  values, or equal stored rows) and it has the lower row index;
- with fewer hits than top_k, every row that passes the threshold whatever the rounding is
  among them.

Each candidate's reference value is also checked against the float64 value and bound that
`score` computes, on whatever CPU runs the test.

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


# One mapping from reference exceptions to statuses and one set of error bounds, shared with the
# conformance generator.
generator = _load_generator()
reference_call = generator.call

# Cases compared by the running configuration (reset by each); every configuration compares at
# least its 60 searches plus the adds and the invalid calls.
CASES = {"count": 0}
MIN_CASES_PER_CONFIG = 60


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
        self.normalize = normalize
        self.status, self.store = reference_call(lambda: VectorStore(dims, normalize=normalize))
        self.originals = np.empty((0, dims), dtype=np.float32)  # the rows as added

    def add(self, values: np.ndarray, dims: int, ids) -> str:
        flat = np.asarray(values, dtype=np.float32).ravel()
        batch = flat.reshape(-1, dims) if len(flat) % dims == 0 else flat.reshape(1, -1)
        start = len(self.store)
        meta = list(range(start, start + len(batch))) if ids is None else [int(i) for i in ids]
        status, _ = reference_call(lambda: self.store.add(batch, meta))
        if status == "OK":
            self.originals = np.concatenate([self.originals, batch])
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


def compare(label, metric, top_k, threshold, ours, candidates):
    """Assert that `ours` is a result some correct implementation could return (module doc).
    `candidates` holds, per candidate row: rows, ids, the reference's values, bounds, and
    groups (equal stored rows share a group)."""
    rows, ids, ref, bound, group = candidates
    descending = metric != "euclidean"
    # Our list is sorted by our own values, ties by ascending row index, and passes the threshold.
    for (i1, _, v1), (i2, _, v2) in zip(ours, ours[1:]):
        better = v1 > v2 if descending else v1 < v2
        assert better or (v1 == v2 and i1 < i2), f"{label}: our hits are out of order: {ours}"
    limit = None
    if threshold is not None:
        limit = float(np.float32(threshold)) if metric == "cosine" else threshold
        for index, _, value in ours:
            assert (value >= limit) if descending else (value <= limit), f"{label}: row {index} fails the threshold"
    # Every hit of ours is a candidate with the right id and a value within its bound.
    where = {r: k for k, r in enumerate(rows.tolist())}
    for index, id_, value in ours:
        assert index in where, f"{label}: row {index} is not a candidate"
        k = where[index]
        assert id_ == ids[k], f"{label}: row {index} id {id_} != {ids[k]}"
        assert abs(value - ref[k]) <= bound[k], (
            f"{label}: row {index} value {value!r}, reference {ref[k]!r}, bound {bound[k]!r}")
    # A row that must rank before one of our hits is among them, before it.
    if ours:
        mine = np.array([where[i] for i, _, _ in ours])
        position = np.full(len(rows), len(ours))
        position[mine] = np.arange(len(ours))
        if descending:
            beats = (ref - bound)[:, None] > (ref + bound)[mine][None, :]
        else:
            beats = (ref + bound)[:, None] < (ref - bound)[mine][None, :]
        real_tie = (ref[:, None] == ref[mine][None, :]) & (
            (group[:, None] == group[mine][None, :]) | ((bound[:, None] == 0) & (bound[mine][None, :] == 0)))
        before = beats | (real_tie & (rows[:, None] < rows[mine][None, :]))
        late = before & (position[:, None] >= np.arange(len(ours))[None, :])
        if np.any(late):
            i, p = np.argwhere(late)[0]
            raise AssertionError(f"{label}: row {rows[i]} must rank before our hit {p} (row {ours[p][0]}): {ours}")
    # With fewer than top_k hits, every row that passes the threshold whatever the rounding.
    if len(ours) < top_k:
        if limit is None:
            sure = np.ones(len(rows), dtype=bool)
        else:
            sure = (ref - bound >= limit) if descending else (ref + bound <= limit)
        found = set(i for i, _, _ in ours)
        missing = [int(r) for r in rows[sure] if int(r) not in found]
        assert not missing, f"{label}: {len(ours)} hits (top_k {top_k}) leave out rows {missing[:5]}"


def run_search(label, reference, ours, metric, query, top_k, threshold, within):
    ref_status, _ = reference.search(metric, query, top_k, threshold, within)
    our_status, our_hits = ours.search(metric, query, top_k, threshold, within)
    CASES["count"] += 1
    assert our_status == ref_status, f"{label}: reference {ref_status}, ours {our_status}"
    if ref_status != "OK":
        return
    rows = np.arange(len(reference.store)) if within is None else np.asarray(within, dtype=np.intp)
    if len(rows) == 0:
        assert our_hits == [], f"{label}: hits from no candidates"
        return
    st, every = reference.search(metric, query, len(rows), None, within)
    assert st == "OK"
    by_row = {i: (id_, v) for i, id_, v in every}
    ids = [by_row[r][0] for r in rows.tolist()]
    ref = np.array([by_row[r][1] for r in rows.tolist()])
    values, bound = generator.score(metric, reference.normalize, reference.originals, reference.store.vectors,
                                    np.asarray(query, dtype=np.float32), rows)
    off = np.flatnonzero(~(np.abs(ref - values) <= bound))
    assert len(off) == 0, (
        f"{label}: the reference's value {ref[off[0]]!r} of row {rows[off[0]]} is not within "
        f"{bound[off[0]]!r} of {values[off[0]]!r}: the bound is wrong")
    _, group = np.unique(reference.store.vectors[rows], axis=0, return_inverse=True)
    compare(label, metric, top_k, threshold, our_hits, (rows, ids, ref, bound, group.reshape(-1)))


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
    CASES["count"] = 0  # this configuration's own count (tests may run in any order)
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
        assert CASES["count"] >= MIN_CASES_PER_CONFIG, f"only {CASES['count']} cases compared"
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
    """The suite compares 2,000+ cases: each configuration checks its own minimum."""
    assert len(CONFIGS) * MIN_CASES_PER_CONFIG >= 2000
