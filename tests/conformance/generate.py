#!/usr/bin/env python3
"""Generate the shared conformance cases, tests/conformance/*.cases.

Every scenario below runs through numpy-vector-store 0.7.0 (the behaviour this project follows)
and its results and exceptions are written down in the line format that every binding's runner
reads (see tests/conformance/README.md). Nothing in the expected output is typed by hand.

Run from the repository root, in a Python environment with tests/python/requirements.txt:

    python tests/conformance/generate.py           # rewrite the .cases files
    python tests/conformance/generate.py --check   # fail if the committed files are stale

The output is deterministic: random scenarios use Python's `random.Random` with fixed seeds
(its streams are stable across Python versions). Hit values come from numpy's float32 kernels,
which may round the last bit differently on another CPU, so `--check` compares hit values with
a 1e-6 relative tolerance and everything else exactly.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import numpy as np
from numpy_vector_store import VectorStore

HERE = Path(__file__).resolve().parent
U64_MAX = 2**64 - 1

# Exceptions of the reference, mapped to nvs_status names by their message. A message that is
# not listed here stops the generator: a new reference behaviour must be mapped on purpose.
STATUS_BY_MESSAGE = [
    ("dimensions must be greater than 0", "INVALID_ARGUMENT"),
    ("Vector dimensions", "DIMENSION_MISMATCH"),
    ("Number of vectors must match number of metadata", "INVALID_ARGUMENT"),
    ("Cannot add vectors containing non-finite", "NON_FINITE"),
    ("Cannot add zero-norm vectors", "ZERO_NORM"),
    ("Query vector dimension", "DIMENSION_MISMATCH"),
    ("Query vector must contain only finite", "NON_FINITE"),
    ("top_k must be greater than 0", "INVALID_ARGUMENT"),
    ("min_value must be finite", "NON_FINITE"),
    ("max_value must be finite", "NON_FINITE"),
    ("within_rows must contain unique", "INVALID_ARGUMENT"),
    ("within_rows contains row indexes outside", "OUT_OF_RANGE"),
    ("Cannot search with zero-norm query", "ZERO_NORM"),
    ("Cannot cosine search zero-norm stored", "ZERO_NORM"),
]

# Values closer than this (relative to max(1, |v|)) could be ordered differently by a correct
# implementation that rounds differently; generated searches avoid them (see `check_stable`).
NEAR = 2e-5


def status_of(exc: Exception) -> str:
    message = str(exc)
    for needle, status in STATUS_BY_MESSAGE:
        if needle in message:
            return status
    raise RuntimeError(f"unmapped reference exception {type(exc).__name__}: {message}")


def call(fn):
    """Run `fn` against the reference: ("OK", result) or (status, None)."""
    try:
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            return "OK", fn()
    except (ValueError, IndexError, TypeError) as exc:
        return status_of(exc), None


def f32(values) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(values, dtype=np.float64).astype(np.float32)


def num(x: float) -> str:
    """A float as the case files spell it: Python repr (exact for float32), nan, inf, -inf."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


class Unstable(Exception):
    """A search whose expected result a correct implementation might round differently."""


METRIC_CALL = {
    "cosine": ("cosine_search", "min_value"),
    "dot": ("dot_search", "min_value"),
    "euclidean": ("euclidean_search", "max_value"),
}


class Case:
    """One `case` block: a fresh store, then operations mirrored into the reference."""

    def __init__(self, out: "CaseFile", name: str, dims: int, normalize: bool):
        if name in out.names:
            raise RuntimeError(f"duplicate case name {name}")
        out.names.add(name)
        self.out = out
        self.dims = dims
        self.lines = [f"case {name}"]
        status, self.store = call(lambda: VectorStore(dims, normalize=normalize))
        self.lines.append(f"store {dims} {int(normalize)} {status}")

    def _emit(self, line: str) -> None:
        self.lines.append(line)

    def comment(self, text: str) -> "Case":
        self._emit(f"# {text}")
        return self

    def add(self, rows=None, ids=None, flat=None) -> str:
        """Add `rows` (a list of rows) or `flat` values; `ids` None means row-index ids.
        A failing add is followed by a `len` line (nothing may have been added)."""
        values = f32(flat if flat is not None else [x for row in rows for x in row])
        n_values = len(values)
        if n_values % self.dims == 0:
            batch = values.reshape(-1, self.dims)
        else:
            batch = values.reshape(1, -1)  # the reference sees a row of the wrong width
        start = len(self.store)
        metadata = list(range(start, start + len(batch))) if ids is None else [int(i) for i in ids]
        status, _ = call(lambda: self.store.add(batch, metadata))
        ids_text = "-" if ids is None else " ".join([str(len(ids))] + [str(int(i)) for i in ids])
        self._emit(" ".join(["add", status, str(n_values)] + [num(v) for v in values] + [ids_text]))
        if status != "OK":
            self.len()
        return status

    def len(self) -> None:
        self._emit(f"len {len(self.store)}")

    def get(self, index: int) -> None:
        found = self.store.get(index)
        if found is None:
            self._emit(f"get {index} NOT_FOUND")
        else:
            vector, metadata = found
            self._emit(" ".join(["get", str(index), "OK", str(int(metadata))] + [num(v) for v in vector]))

    def get_all(self) -> None:
        for i in range(len(self.store) + 1):
            self.get(i)

    def _run_search(self, metric, query, top_k, threshold, within):
        method, threshold_name = METRIC_CALL[metric]
        kwargs = {"top_k": top_k}
        if threshold is not None:
            kwargs[threshold_name] = threshold
        if within is not None:
            kwargs["within_rows"] = list(within)
        return call(lambda: getattr(self.store, method)(query, **kwargs))

    def search(self, metric, query, top_k=10, threshold=None, within=None, exact_ties=True,
               allow_near_threshold=False) -> list:
        """Search and write the expected hits. Raises `Unstable` when the result depends on
        rounding (near-equal values, or a value within rounding of the threshold), unless the
        data is exact by construction (`exact_ties`) or the case is about the threshold."""
        q = f32(query)
        status, hits = self._run_search(metric, q, top_k, threshold, within)
        if status == "OK":
            self.check_stable(metric, q, threshold, within, exact_ties, allow_near_threshold)
        thr = "-" if threshold is None else num(threshold)
        within_text = "-" if within is None else " ".join([str(len(within))] + [str(r) for r in within])
        line = ["search", metric, status, str(top_k), thr, within_text, str(len(q))]
        self._emit(" ".join(line + [num(v) for v in q]))
        for hit in hits or []:
            self._emit(f"hit {hit.index} {int(hit.metadata)} {num(hit.value)}")
        return hits or []

    def check_stable(self, metric, q, threshold, within, exact_ties, allow_near_threshold):
        count = len(self.store) if within is None else len(within)
        if count == 0:
            return
        status, every = self._run_search(metric, q, max(count, 1), None, within)
        assert status == "OK"
        scored = sorted((h.value, self.rounding_scale(metric, q, h.index, h.value)) for h in every)
        for (a, sa), (b, sb) in zip(scored, scored[1:]):
            close = abs(b - a) <= NEAR * max(abs(a), abs(b), sa, sb)
            if close and not (exact_ties and a == b):
                raise Unstable(f"values {a!r} and {b!r} are too close to order reliably")
        for v, sv in scored:
            if 2.0**-24 * math.sqrt(self.dims) * sv > 1e-5 * max(1.0, abs(v)):
                raise Unstable(f"value {v!r} depends on rounding (float32 terms of magnitude {sv!r})")
        if threshold is not None and not allow_near_threshold:
            for v, sv in scored:
                if abs(v - threshold) <= NEAR * max(abs(v), sv) and v != threshold:
                    raise Unstable(f"value {v!r} is too close to the threshold {threshold!r}")

    def rounding_scale(self, metric, q, index, value) -> float:
        """How large the terms behind a value are: rounding errors of a correct implementation
        are relative to this, not to the value (a dot product can cancel to nearly 0)."""
        if self.store.normalize:
            return 1.0  # unit rows and queries: every term is at most 1
        row = self.store.vectors[index].astype(np.float64)
        if metric == "euclidean":
            return abs(value)  # a sum of squares does not cancel
        qq = q.astype(np.float64)
        if metric == "cosine":
            qq = (qq / np.linalg.norm(qq)).astype(np.float32).astype(np.float64)
        s = float(np.sum(np.abs(qq * row)))
        return s / float(np.linalg.norm(row)) if metric == "cosine" else s

    def end(self) -> None:
        self._emit("end")
        self.out.lines.extend(self.lines)
        self.out.lines.append("")
        self.out.count += 1


class CaseFile:
    def __init__(self, name: str, title: str):
        self.name = name
        self.lines = [
            f"# {title}",
            "# GENERATED by tests/conformance/generate.py from numpy-vector-store 0.7.0 -- do not edit.",
            "# Format: tests/conformance/README.md",
            "",
        ]
        self.names: set[str] = set()
        self.count = 0

    def case(self, name: str, dims: int, normalize: bool) -> Case:
        return Case(self, name, dims, normalize)

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


METRICS = ("cosine", "dot", "euclidean")
MODES = ((True, "norm"), (False, "raw"))


# ----------------------------------------------------------------------------------------------
# basics.cases
# ----------------------------------------------------------------------------------------------

# Small 3-D rows whose values are well separated for the queries below.
BASIC_ROWS = [
    [1.0, 0.0, 0.0],
    [0.0, 2.0, 0.0],
    [0.0, 0.0, 0.5],
    [3.0, 4.0, 0.0],
    [-2.0, 1.0, 2.0],
    [1.0, 1.0, 1.0],
    [0.25, -3.0, 1.5],
]
BASIC_IDS = [101, 7, 0, 4242, 18446744073709551615, 12, 9007199254740993]
BASIC_QUERIES = [[1.0, 0.0, 0.0], [0.5, 1.0, -0.25], [-1.0, 2.0, 3.0], [2.0, 2.0, 0.0]]


def basics() -> CaseFile:
    out = CaseFile("basics.cases", "Basics: both normalize modes x three metrics, get/len, thresholds, top_k, empty stores")
    for normalize, mode in MODES:
        c = out.case(f"{mode}_add_get_len", 3, normalize)
        c.len()
        c.add(BASIC_ROWS[:3], ids=BASIC_IDS[:3])
        c.len()
        c.add(BASIC_ROWS[3:], ids=BASIC_IDS[3:])
        c.len()
        c.comment("get returns the stored row (unit vectors in a normalize store) and its id")
        c.get_all()
        c.end()

        c = out.case(f"{mode}_row_index_ids", 2, normalize)
        c.add([[1.0, 2.0], [3.0, -1.0]])
        c.add([[0.5, 0.5]], ids=[77])
        c.add([[-4.0, 1.0], [2.0, 2.5]])
        c.comment("ids `-` are row indexes, counted from the store's length at the add")
        c.get_all()
        c.search("dot", [1.0, 0.5])
        c.end()

        c = out.case(f"{mode}_empty_add_is_noop", 4, normalize)
        c.add(flat=[])
        c.add(flat=[], ids=[])
        c.len()
        c.add([[1.0, 2.0, 3.0, 4.0]])
        c.add(flat=[], ids=[])
        c.len()
        c.get(0)
        c.get(1)
        c.end()

        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_ranking", 3, normalize)
            c.add(BASIC_ROWS, ids=BASIC_IDS)
            for q in BASIC_QUERIES:
                c.search(metric, q)
            for k in (1, 2, 3, 7, 8, 1000):
                c.search(metric, BASIC_QUERIES[1], top_k=k)
            c.end()

            c = out.case(f"{mode}_{metric}_empty_store", 3, normalize)
            c.search(metric, [1.0, 2.0, 3.0])
            c.search(metric, [1.0, 2.0, 3.0], top_k=1, threshold=0.5)
            c.search(metric, [1.0, 2.0, 3.0], within=[])
            c.add(BASIC_ROWS[:2])
            c.search(metric, [1.0, 2.0, 3.0], top_k=5)
            c.end()

            c = out.case(f"{mode}_{metric}_top_k_larger_than_store", 3, normalize)
            c.add(BASIC_ROWS[:4], ids=BASIC_IDS[:4])
            for k in (4, 5, 10, 1 << 20):
                c.search(metric, [0.5, 1.0, -0.25], top_k=k)
            c.end()

    # Thresholds on axis-aligned rows: every value is exact, so boundary rows are decided by
    # the comparison rule itself (>= for cosine/dot minimums, <= for euclidean maximums).
    axis_rows = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [1.0, 1.0, 1.0], [0.0, -1.0, 0.0]]
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_threshold_exact_boundaries", 3, normalize)
            c.add(axis_rows)
            if metric == "euclidean":
                thresholds = [0.0, 1.0, 2.0, 1.9999999, 2.0000001, 1.7320508075688772, 100.0, -1.0]
            else:
                thresholds = [1.0, 0.0, -1.0, 0.5, 1.0000001, -0.9999999, -100.0, 100.0]
            for t in thresholds:
                c.search(metric, [1.0, 0.0, 0.0], threshold=t, allow_near_threshold=True)
            c.search(metric, [0.0, 1.0, 0.0], top_k=2, threshold=thresholds[1])
            c.end()

    # Raw values that are exact integers: dot products and 3-4-5 distances.
    for metric, thresholds in (("dot", [25.0, 24.0, 0.0, -25.0, 7.0]), ("euclidean", [5.0, 0.0, 10.0, 4.0, 7.0710678118654755])):
        c = out.case(f"raw_{metric}_threshold_integer_boundaries", 2, False)
        c.add([[3.0, 4.0], [4.0, 3.0], [-3.0, -4.0], [0.0, 5.0], [5.0, 5.0], [1.0, 1.0]])
        for t in thresholds:
            c.search(metric, [3.0, 4.0] if metric == "dot" else [0.0, 0.0], threshold=t)
        c.end()

    # Cosine values are float32 in the reference and the comparison rounds the threshold to
    # float32: 0.60000003 rounds to float32(0.6), so a row with cosine float32(0.6) passes.
    for normalize, mode in MODES:
        c = out.case(f"{mode}_cosine_threshold_compared_in_float32", 2, normalize)
        c.add([[3.0, 4.0], [1.0, 0.0], [0.0, 1.0]])
        for t in (0.6, 0.6000000238418579, 0.60000003, 0.6000001, 0.59999999):
            c.search("cosine", [1.0, 0.0], threshold=t, allow_near_threshold=True)
        c.end()

    # Thresholds with top_k and with mixed-sign values.
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_threshold_with_top_k", 3, normalize)
            c.add(BASIC_ROWS, ids=BASIC_IDS)
            every = c.search(metric, BASIC_QUERIES[2], top_k=7)
            values = [h.value for h in every]
            # Thresholds halfway between neighbouring values: each keeps a prefix of the order.
            for a, b in zip(values, values[1:]):
                for k in (2, 10):
                    c.search(metric, BASIC_QUERIES[2], top_k=k, threshold=(a + b) / 2)
            c.end()
    return out


# ----------------------------------------------------------------------------------------------
# errors.cases
# ----------------------------------------------------------------------------------------------

def errors() -> CaseFile:
    out = CaseFile("errors.cases", "Errors: every rejected input, its status, and that a failed add changes nothing")
    for normalize, mode in MODES:
        c = out.case(f"{mode}_zero_dimensions", 0, normalize)
        c.end()

    for normalize, mode in MODES:
        c = out.case(f"{mode}_add_wrong_width", 3, normalize)
        c.add([[1.0, 2.0, 3.0]], ids=[5])
        c.add(flat=[1.0, 2.0])
        c.add(flat=[1.0, 2.0, 3.0, 4.0])
        c.add(flat=[1.0])
        c.add(flat=[1.0, 2.0, 3.0, 4.0, 5.0], ids=[1, 2])
        c.add(flat=[float("nan"), 2.0], ids=[1])
        c.get(0)
        c.get(1)
        c.search("dot", [1.0, 1.0, 1.0])
        c.end()

        c = out.case(f"{mode}_add_ids_count_mismatch", 2, normalize)
        c.add([[1.0, 2.0]], ids=[9])
        c.add([[1.0, 2.0], [3.0, 4.0]], ids=[1])
        c.add([[1.0, 2.0]], ids=[1, 2])
        c.add([[1.0, 2.0]], ids=[])
        c.add(flat=[], ids=[3])
        c.add([[float("nan"), 1.0], [0.0, 0.0]], ids=[1])
        c.get(0)
        c.get(1)
        c.end()

        c = out.case(f"{mode}_add_non_finite", 3, normalize)
        c.add([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ids=[10, 11])
        for bad in (float("nan"), float("inf"), float("-inf")):
            c.add([[bad, 0.0, 1.0]])
            c.add([[1.0, 2.0, 3.0], [4.0, 5.0, bad]], ids=[1, 2])
        c.add([[0.0, 0.0, 0.0], [1.0, float("nan"), 1.0]])
        c.add([[3.4e38, 3.4e38, 3.4e38], [1.0, 2.0, float("inf")]])
        c.get_all()
        c.search("euclidean", [1.0, 0.0, 0.0])
        c.end()

    c = out.case("norm_add_zero_norm", 3, True)
    c.add([[1.0, 2.0, 3.0]], ids=[1])
    c.add([[0.0, 0.0, 0.0]], ids=[2])
    c.add([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ids=[3, 4, 5])
    c.add([[-0.0, 0.0, -0.0]])
    c.get_all()
    c.search("cosine", [1.0, 2.0, 3.0])
    c.end()

    c = out.case("raw_add_zero_norm_is_accepted", 3, False)
    c.add([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], ids=[3, 4])
    c.len()
    c.get_all()
    c.search("dot", [1.0, 2.0, 3.0])
    c.search("euclidean", [1.0, 2.0, 3.0])
    c.end()

    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_search_errors", 3, normalize)
            c.add([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 1.0, 1.0]], ids=[1, 2, 3])
            q = [1.0, 0.5, 0.25]
            c.comment("query width")
            c.search(metric, [1.0, 0.5])
            c.search(metric, [1.0, 0.5, 0.25, 0.0])
            c.search(metric, [])
            c.search(metric, [float("nan"), 0.5])
            c.comment("non-finite query")
            c.search(metric, [float("nan"), 0.5, 0.25])
            c.search(metric, [1.0, float("inf"), 0.25])
            c.search(metric, [1.0, 0.5, float("-inf")])
            c.search(metric, [float("nan"), 0.5, 0.25], top_k=0)
            c.comment("top_k")
            c.search(metric, q, top_k=0)
            c.search(metric, q, top_k=0, threshold=float("nan"))
            c.search(metric, q, top_k=0, within=[1, 1])
            c.comment("non-finite threshold")
            for t in (float("nan"), float("inf"), float("-inf")):
                c.search(metric, q, threshold=t)
            c.search(metric, q, threshold=float("nan"), within=[0, 0])
            c.comment("within_rows")
            c.search(metric, q, within=[0, 0])
            c.search(metric, q, within=[2, 0, 2])
            c.search(metric, q, within=[3])
            c.search(metric, q, within=[0, 1, 2, 3])
            c.search(metric, q, within=[1000000])
            c.search(metric, q, within=[5, 1, 1])
            c.search(metric, q, within=[7, 7])
            c.search(metric, q, within=[0, 3, 3])
            c.comment("zero query: rejected when the query is normalized (cosine, or a normalize store)")
            c.search(metric, [0.0, 0.0, 0.0])
            c.search(metric, [-0.0, 0.0, -0.0], top_k=1)
            c.search(metric, [0.0, 0.0, 0.0], within=[0, 0])
            c.search(metric, [0.0, 0.0, 0.0], within=[9])
            c.search(metric, [0.0, 0.0, 0.0], within=[])
            c.search(metric, [0.0, 0.0, 0.0], threshold=0.5)
            c.comment("the store still answers normally")
            c.search(metric, q)
            c.end()

            c = out.case(f"{mode}_{metric}_errors_on_empty_store", 2, normalize)
            c.search(metric, [1.0])
            c.search(metric, [float("nan"), 1.0])
            c.search(metric, [1.0, 1.0], top_k=0)
            c.search(metric, [1.0, 1.0], threshold=float("inf"))
            c.search(metric, [1.0, 1.0], within=[0])
            c.search(metric, [1.0, 1.0], within=[0, 0])
            c.search(metric, [1.0, 1.0], within=[])
            c.search(metric, [0.0, 0.0])
            c.search(metric, [0.0, 0.0], within=[])
            c.search(metric, [1.0, 1.0])
            c.end()

    for normalize, mode in MODES:
        c = out.case(f"{mode}_get_out_of_range", 2, normalize)
        c.get(0)
        c.get(1)
        c.add([[1.0, 1.0], [2.0, 0.0]], ids=[8, 9])
        c.get(0)
        c.get(1)
        c.get(2)
        c.get(3)
        c.get(1000000)
        c.get(4294967295)
        c.end()

    c = out.case("failed_adds_change_nothing", 2, True)
    c.add([[1.0, 0.0], [0.0, 1.0]], ids=[1, 2])
    c.search("cosine", [1.0, 0.25])
    c.add([[1.0, 1.0], [0.0, 0.0]], ids=[3, 4])
    c.add([[1.0, 1.0], [float("nan"), 0.0]], ids=[3, 4])
    c.add([[1.0, 1.0], [1.0, 0.0]], ids=[3])
    c.add(flat=[1.0, 1.0, 1.0])
    c.search("cosine", [1.0, 0.25])
    c.get_all()
    c.add([[1.0, 1.0]], ids=[3])
    c.search("cosine", [1.0, 0.25])
    c.get_all()
    c.end()
    return out


# ----------------------------------------------------------------------------------------------
# ties.cases
# ----------------------------------------------------------------------------------------------

def ties() -> CaseFile:
    out = CaseFile("ties.cases", "Ties: equal values are ordered by ascending row index, at the top_k cut too")
    # Rows that are exact multiples (by powers of two) of a few directions: every value is
    # computed exactly, so ties are real ties in any implementation.
    rows = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_ties_by_row_index", 2, normalize)
            c.add(rows, ids=[50, 40, 30, 20, 10, 0, 60, 70])
            for q in ([1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]):
                for k in (1, 2, 3, 4, 5, 8, 9):
                    c.search(metric, q, top_k=k)
            c.comment("ties under within_rows in any order")
            c.search(metric, [1.0, 0.0], top_k=2, within=[5, 3, 2, 0])
            c.search(metric, [1.0, 0.0], top_k=3, within=[7, 6, 5, 4, 3, 2, 1, 0])
            c.search(metric, [0.0, 1.0], top_k=2, within=[7, 4, 1, 0])
            c.search(metric, [1.0, 1.0], top_k=4, within=[6, 5, 4, 3, 2, 1])
            c.comment("ties at a threshold")
            c.search(metric, [1.0, 1.0], top_k=3, threshold=(1.0 if metric == "euclidean" and not normalize else 0.5))
            c.end()

    # Raw stores: integer rows where many dot products / distances are exactly equal.
    c = out.case("raw_dot_integer_ties", 2, False)
    c.add([[1.0, 2.0], [2.0, 1.0], [1.0, 2.0], [3.0, 0.0], [0.0, 3.0], [-1.0, 4.0], [4.0, -1.0]])
    for k in (1, 2, 3, 4, 6, 7, 10):
        c.search("dot", [1.0, 1.0], top_k=k)
    c.search("dot", [1.0, 1.0], top_k=3, within=[6, 4, 2, 0])
    c.search("dot", [1.0, 1.0], top_k=10, threshold=3.0)
    c.search("dot", [0.0, 0.0], top_k=4)
    c.end()

    c = out.case("raw_euclidean_integer_ties", 2, False)
    c.add([[3.0, 4.0], [4.0, 3.0], [-3.0, -4.0], [5.0, 0.0], [0.0, -5.0], [1.0, 1.0], [0.0, 5.0], [-5.0, 0.0]])
    for k in (1, 2, 3, 4, 6, 8):
        c.search("euclidean", [0.0, 0.0], top_k=k)
    c.search("euclidean", [0.0, 0.0], top_k=3, within=[7, 6, 3, 2])
    c.search("euclidean", [0.0, 0.0], top_k=20, threshold=5.0)
    c.search("euclidean", [0.0, 0.0], top_k=20, threshold=4.0)
    c.end()

    # Many identical rows across scan blocks: the cut keeps the lowest row indexes.
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_many_identical_rows", 2, normalize)
            c.add([[1.0, 1.0]] * 300 + [[0.5, 0.0]] + [[1.0, 1.0]] * 300 + [[4.0, 4.0]])
            c.search(metric, [1.0, 1.0], top_k=5)
            c.search(metric, [1.0, 0.0], top_k=3)
            c.search(metric, [1.0, 1.0], top_k=3, within=[599, 600, 301, 300, 299, 0])
            c.search(metric, [1.0, 1.0], top_k=2, within=list(range(601, 250, -1)))
            c.end()
    return out


# ----------------------------------------------------------------------------------------------
# prefilter.cases
# ----------------------------------------------------------------------------------------------

def prefilter() -> CaseFile:
    out = CaseFile("prefilter.cases", "within_rows: subsets in any order, empty lists, duplicates, out-of-range rows")
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_within_rows", 3, normalize)
            c.add(BASIC_ROWS, ids=BASIC_IDS)
            q = BASIC_QUERIES[1]
            c.search(metric, q, top_k=7)
            for within in ([0, 1, 2], [2, 1, 0], [6], [5, 3], [3, 5], [6, 0, 4, 2], list(range(7)), list(range(6, -1, -1)), []):
                c.search(metric, q, within=within)
            c.search(metric, q, top_k=2, within=[6, 5, 4, 3])
            c.search(metric, q, top_k=1, within=[1, 4])
            c.comment("duplicates are INVALID_ARGUMENT, rows outside the store OUT_OF_RANGE")
            c.search(metric, q, within=[1, 1])
            c.search(metric, q, within=[0, 1, 2, 3, 4, 5, 6, 0])
            c.search(metric, q, within=[7])
            c.search(metric, q, within=[0, 100])
            c.search(metric, q, within=[8, 8, 2])
            c.end()

            c = out.case(f"{mode}_{metric}_within_rows_with_threshold", 3, normalize)
            c.add(BASIC_ROWS, ids=BASIC_IDS)
            every = c.search(metric, BASIC_QUERIES[3], top_k=7)
            values = [h.value for h in every]
            cut = (values[2] + values[3]) / 2
            c.search(metric, BASIC_QUERIES[3], threshold=cut, within=[every[0].index, every[4].index, every[6].index])
            c.search(metric, BASIC_QUERIES[3], threshold=cut, within=[every[5].index, every[6].index])
            c.search(metric, BASIC_QUERIES[3], threshold=cut, within=[])
            c.end()

            c = out.case(f"{mode}_{metric}_within_rows_validated_on_empty_store", 3, normalize)
            c.search(metric, [1.0, 2.0, 3.0], within=[])
            c.search(metric, [1.0, 2.0, 3.0], within=[0])
            c.search(metric, [1.0, 2.0, 3.0], within=[1, 1])
            c.add([[1.0, 2.0, 3.0]])
            c.search(metric, [1.0, 2.0, 3.0], within=[0])
            c.search(metric, [1.0, 2.0, 3.0], within=[1])
            c.end()

    # A larger store: prefilters that cross scan blocks, in shuffled order.
    rng = random.Random(20240611)
    for normalize, mode in MODES:
        for metric in METRICS:
            for attempt in range(50):
                c = out.case(f"{mode}_{metric}_within_rows_large_store" + (f"_{attempt}" if attempt else ""), 8, normalize)
                out.names.discard(c.lines[0].split()[1])
                rows = [[rng.gauss(0.0, 1.0) for _ in range(8)] for _ in range(700)]
                c.add(rows, ids=[rng.randrange(2**64) for _ in rows])
                try:
                    for _ in range(4):
                        within = rng.sample(range(700), rng.choice([1, 5, 64, 300, 700]))
                        q = [rng.gauss(0.0, 1.0) for _ in range(8)]
                        c.search(metric, q, top_k=rng.choice([1, 7, 25]), within=within, exact_ties=False)
                except Unstable:
                    continue
                out.names.add(c.lines[0].split()[1])
                c.end()
                break
    return out


# ----------------------------------------------------------------------------------------------
# raw.cases
# ----------------------------------------------------------------------------------------------

def raw() -> CaseFile:
    out = CaseFile("raw.cases", "Raw (normalize 0) stores, zero rows and queries, extreme magnitudes in both modes")
    c = out.case("raw_zero_query_dot_euclidean_accepted", 3, False)
    c.add([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0], [-3.0, 0.0, 4.0], [0.5, 0.0, 0.0]], ids=[1, 2, 3, 4])
    c.search("dot", [0.0, 0.0, 0.0])
    c.search("dot", [0.0, 0.0, 0.0], top_k=2, threshold=0.0)
    c.search("dot", [0.0, 0.0, 0.0], threshold=0.5)
    c.search("euclidean", [0.0, 0.0, 0.0])
    c.search("euclidean", [-0.0, 0.0, 0.0], top_k=2, threshold=3.0)
    c.search("cosine", [0.0, 0.0, 0.0])
    c.end()

    c = out.case("raw_cosine_zero_row", 2, False)
    c.add([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [-0.0, -0.0]], ids=[10, 11, 12, 13])
    c.comment("a selected zero-norm row cannot be cosine-searched")
    c.search("cosine", [1.0, 0.0])
    c.search("cosine", [1.0, 0.0], within=[0, 1])
    c.search("cosine", [1.0, 0.0], within=[3])
    c.search("cosine", [1.0, 0.0], top_k=1, threshold=0.9)
    c.comment("rows the prefilter leaves out do not matter")
    c.search("cosine", [1.0, 0.0], within=[0, 2])
    c.search("cosine", [1.0, 0.0], within=[2, 0])
    c.search("cosine", [1.0, 0.0], within=[])
    c.comment("validation order: query, top_k, threshold, within_rows, zero query, zero rows")
    c.search("cosine", [1.0, 0.0], top_k=0)
    c.search("cosine", [1.0, 0.0], within=[1, 1])
    c.search("cosine", [1.0, 0.0], within=[1, 4])
    c.search("cosine", [0.0, 0.0], within=[0, 2])
    c.comment("dot and euclidean accept zero rows")
    c.search("dot", [1.0, 2.0])
    c.search("euclidean", [1.0, 2.0])
    c.get_all()
    c.end()

    c = out.case("raw_cosine_value_is_independent_of_magnitude", 2, False)
    c.add([[3.0, 4.0], [6.0, 8.0], [0.75, 1.0], [-4.0, 3.0], [96.0, 128.0], [1.0, 0.0]])
    c.search("cosine", [1.0, 0.0])
    c.search("cosine", [3.0, 4.0])
    c.search("cosine", [1.0, 0.0], top_k=2, within=[4, 2, 1, 0])
    c.search("dot", [1.0, 0.0])
    c.search("euclidean", [1.0, 0.0])
    c.end()

    c = out.case("raw_get_returns_original_values", 3, False)
    c.add([[3.0, 4.0, 0.0], [1e-30, -2e30, 0.1], [-0.0, 16777216.0, 3.4028234663852886e38]])
    c.get_all()
    c.end()

    # Magnitudes where float32 arithmetic overflows (1e30 * 1e30) or underflows (1e-30 * 1e-30):
    # raw dot and euclidean must still rank correctly.
    big = [[1e30, 0.0, 0.0], [2e30, 1e30, 0.0], [0.0, 0.0, -3e30], [-1e30, 5e29, 1e30], [3e30, -2e30, 1e29]]
    tiny = [[1e-30, 0.0, 0.0], [2e-30, 1e-30, 0.0], [0.0, 0.0, -3e-30], [-1e-30, 5e-31, 1e-30], [3e-30, -2e-30, 1e-31]]
    huge = [[3e38, 0.0, 0.0], [-3e38, 3e38, 0.0], [0.0, 1e38, -3.4e38], [3.4e38, 3.4e38, 3.4e38]]
    sub = [[1e-45, 0.0, 0.0], [0.0, 3e-45, 1e-45], [-1e-44, 0.0, 0.0], [1e-40, 1e-40, 0.0]]
    for label, rows, queries in (
        ("1e30", big, [[1e30, 2e30, -1e30], [1.0, 0.5, 0.25], [-2e30, 0.0, 1e30]]),
        ("1e-30", tiny, [[1e-30, 2e-30, -1e-30], [1.0, 0.5, 0.25], [-2e-30, 0.0, 1e-30]]),
        ("3e38", huge, [[3e38, -3e38, 1e38], [1.0, 0.5, 0.25]]),
        ("subnormal", sub, [[1e-45, 2e-45, 0.0], [1.0, 0.5, 0.25]]),
    ):
        for normalize, mode in MODES:
            c = out.case(f"{mode}_magnitude_{label}", 3, normalize)
            c.add(rows)
            c.get_all()
            for metric in METRICS:
                for q in queries:
                    try:
                        c.search(metric, q)
                    except Unstable as e:
                        c.comment(f"skipped {metric} {q}: {e}")
            c.end()

    # Mixed magnitudes in one raw store: the order must follow the true values.
    c = out.case("raw_mixed_magnitudes", 2, False)
    c.add([[1e30, 1e30], [1.0, 1.0], [1e-30, 1e-30], [-1e30, 2e30], [1e20, 0.0], [-1e-20, -2e-20]])
    for q in ([1e30, 1e30], [1.0, 1.0], [1e-30, 1e-30], [-1.0, -1.0], [1e-20, 2e-20]):
        for metric in ("dot", "euclidean"):
            try:
                c.search(metric, q)
            except Unstable as e:
                c.comment(f"skipped {metric} {q}: {e}")
    c.end()
    return out


# ----------------------------------------------------------------------------------------------
# random.cases
# ----------------------------------------------------------------------------------------------

def random_cases() -> CaseFile:
    out = CaseFile("random.cases", "Seeded random stores and searches, skipping any whose order depends on rounding")
    rng = random.Random(7_000_001)
    dims_choices = [1, 2, 3, 4, 7, 16, 33]
    size_choices = [0, 1, 2, 3, 10, 40, 130, 300]
    produced = 0
    while produced < 150:
        dims = rng.choice(dims_choices)
        n = rng.choice(size_choices)
        normalize = rng.random() < 0.5
        integer = not normalize and rng.random() < 0.3  # exact raw values, real ties
        name = f"random_{produced:03d}_{'norm' if normalize else 'raw'}{'_int' if integer else ''}_d{dims}_n{n}"
        c = out.case(name, dims, normalize)

        def value():
            return float(rng.randint(-4, 4)) if integer else rng.gauss(0.0, 1.0)

        rows = [[value() for _ in range(dims)] for _ in range(n)]
        if normalize:
            rows = [r if any(r) else [1.0] + r[1:] for r in rows]
        remaining = rows
        while remaining:
            part = rng.randint(1, len(remaining))
            use_ids = rng.random() < 0.6
            ids = [rng.randrange(2**64) for _ in range(part)] if use_ids else None
            c.add(remaining[:part], ids=ids)
            remaining = remaining[part:]
        c.len()
        for _ in range(rng.randint(1, 3)):
            c.get(rng.randrange(n + 2))
        searches = 0
        for _ in range(40):
            if searches == 6:
                break
            metric = rng.choice(METRICS)
            if rng.random() < 0.15 and rows:
                q = list(rng.choice(rows))
            else:
                q = [value() for _ in range(dims)]
            top_k = rng.choice([1, 2, 3, 5, 10, max(1, n), n + 3])
            within = None
            if rng.random() < 0.4 and n:
                within = rng.sample(range(n), rng.randint(0, n))
            threshold = None
            if rng.random() < 0.4:
                threshold = pick_threshold(c, metric, q, within, rng)
            if integer and metric == "cosine":
                continue  # raw integer rows may be zero; cosine is covered elsewhere
            snapshot = len(c.lines)
            try:
                c.search(metric, q, top_k=top_k, threshold=threshold, within=within, exact_ties=integer)
                searches += 1
            except Unstable:
                del c.lines[snapshot:]
        c.end()
        produced += 1
    return out


def pick_threshold(c: Case, metric, q, within, rng):
    """A threshold halfway between two neighbouring values (never on a value), or outside."""
    status, hits = c._run_search(metric, f32(q), max(1, len(c.store)), None, within)
    if status != "OK" or not hits:
        return rng.choice([0.0, 1.0, -1.0])
    values = [h.value for h in hits]
    i = rng.randrange(len(values) + 1)
    if i == 0:
        return values[0] + (1.0 if metric != "euclidean" else -1.0) * max(1.0, abs(values[0]))
    if i == len(values):
        return values[-1] - (1.0 if metric != "euclidean" else -1.0) * max(1.0, abs(values[-1]))
    return (values[i - 1] + values[i]) / 2


# ----------------------------------------------------------------------------------------------

FILES = [basics, errors, ties, prefilter, raw, random_cases]


def same_cases(committed: str, fresh: str) -> str | None:
    """None when equal; hit values may differ by 1e-6 relative (BLAS rounding across CPUs)."""
    a, b = committed.splitlines(), fresh.splitlines()
    if len(a) != len(b):
        return f"{len(a)} lines committed, {len(b)} generated"
    for n, (x, y) in enumerate(zip(a, b), 1):
        if x == y:
            continue
        tx, ty = x.split(), y.split()
        if tx[:1] == ["hit"] and ty[:1] == ["hit"] and tx[:3] == ty[:3] and len(tx) == len(ty) == 4:
            want, got = float(tx[3]), float(ty[3])
            if abs(want - got) <= 1e-6 * max(1.0, abs(want)):
                continue
        return f"line {n}:\n  committed: {x[:200]}\n  generated: {y[:200]}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args()
    failures = 0
    total = 0
    for make in FILES:
        f = make()
        total += f.count
        path = HERE / f.name
        if args.check:
            committed = path.read_text() if path.exists() else ""
            problem = same_cases(committed, f.text())
            if problem:
                failures += 1
                print(f"{path.name} is stale: {problem}", file=sys.stderr)
        else:
            path.write_text(f.text())
        print(f"{f.name}: {f.count} cases")
    print(f"{total} cases")
    if failures:
        print("Regenerate with: python tests/conformance/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
