#!/usr/bin/env python3
"""Generate the shared conformance cases, tests/conformance/*.cases.

Every scenario below runs through numpy-vector-store 0.7.0 (the behaviour this project follows)
and its results and exceptions are written down in the line format that every binding's runner
reads (see tests/conformance/README.md). Nothing in the expected output is typed by hand.

Run from the repository root, in a Python environment with tests/python/requirements.txt:

    python tests/conformance/generate.py           # rewrite the .cases files
    python tests/conformance/generate.py --check   # fail if the committed files are stale

The output is deterministic up to the reference's rounding: random scenarios use Python's
`random.Random` with fixed seeds (its streams are stable across Python versions), and every
decision the generator takes (which searches to keep, where to put a threshold) uses values it
computes itself in float64 with a fixed summation order (`score`), never the reference's float32
results. Those results (hit values, the unit rows a normalize store keeps) come from numpy and
OpenBLAS kernels that round differently on different CPUs (OpenBLAS picks SkylakeX kernels on
AVX-512 hosts, Haswell/Zen kernels on AVX2 hosts). Each hit line therefore carries its error
bound, and `--check` compares such values within that bound and normalized rows within one
float32 ulp, everything else exactly (see `same_cases`).
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


# ----------------------------------------------------------------------------------------------
# Error bounds
# ----------------------------------------------------------------------------------------------
#
# A hit value is written with a bound B: any two correct implementations (the reference on two
# CPUs, the reference and nvs) return values at most B apart, and B = 0 when every correct
# implementation computes the value without any rounding. The derivation (see also README.md):
#
# Dot products of d terms. Summed in any order, with or without FMA, a float computation of
# sum(x_i y_i) is within gamma_d * S of the exact value, where S = sum|x_i y_i|,
# gamma_d = d*u/(1 - d*u) and u is the unit roundoff (2^-24 for float32, 2^-53 for float64)
# [Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., section 3.1]. Two
# implementations: 2 * gamma_d * S <= (2d + 1) * u * S while 4 d^2 u <= 1 (d <= 2048 in float32;
# the +8 below keeps the bounds valid up to d = 5792; the cases here have d <= 33).
#
# Normalize stores compute in float32 (numpy: np.dot, i.e. OpenBLAS sgemv). Their inputs are
# themselves rounded: a unit row or query is float32(x / |x|) with |x| in float64, and nvs may
# round that last bit differently (it multiplies by 1/|x|), so each component may differ by one
# float32 ulp (<= 2u relative, or 2^-149 for a subnormal). That adds 4u*S and d*2^-149 per side;
# underflowing products and sums add at most 2^-150 each. Hence, with margin,
#     cosine, dot:   B = (2d + 8) u S + 4d 2^-149
#     euclidean:     B = (d + 8) u v + 3u (|r| + |q|) + sqrt(d) 2^-73
# For a distance v = sqrt(sum (r_i - q_i)^2): the rounded differences, squares and sum give a
# relative error of at most gamma_(d+2) in the sum, half of it in the square root, plus u for
# the root (per side (d/2 + 2) u v), and one-ulp changes of r and q move v by at most
# 2u(|r| + |q|); underflow in the squares moves v by at most sqrt(d 2^-149).
#
# Raw stores give the reference's float64 values (numpy einsum/norm in float64 over float32
# inputs: products are exact, only the sums round), so with u = 2^-53 and identical inputs
#     dot:           B = (2d + 8) u S
#     euclidean:     B = (d + 8) u v
# Raw cosine is float32(float64 dot / float64 row norm) with the query normalized in float32:
# the query may differ by an ulp per component (4u_32 S_c, S_c = S / |r|), the float64 parts
# by (2d + 12) u_64 S_c, and the final rounding to float32 by one ulp (2u_32 |v|):
#     cosine:        B = 2 u_32 (|v| + 2 S_c) + (2d + 12) u_64 S_c + (d + 2) 2^-149
#
# B = 0 when every operation is exact whatever the order: the inputs round the same way in any
# implementation (the float64 quotient is at least 2^-40 of its magnitude away from a float32
# rounding boundary), the products and differences are representable, and all terms are
# multiples of 2^e with sum|terms| < 2^(e + p) (so every partial sum fits p significant bits).
# A square root or division of exact operands is correctly rounded everywhere.
#
# The bounds are rounded up to two significant digits when written. The generator checks every
# reference value against them (`Case.check_stable`), on whatever CPU it runs.

U32 = 2.0**-24  # unit roundoff of float32
U64 = 2.0**-53  # unit roundoff of float64
TINY32 = 2.0**-149  # smallest positive float32 (subnormal)


def _low_bit_exponent(a: np.ndarray) -> np.ndarray:
    """For float64 values: e such that the lowest set bit of each value is 2^e (a huge number for
    zeros), and the number of significant bits."""
    m, e = np.frexp(np.abs(a))  # |a| = m * 2^e, 0.5 <= m < 1
    mant = (m * 2.0**53).astype(np.int64)  # the exact integer significand
    low = mant & -mant
    _, lz = np.frexp(low.astype(np.float64))  # low = 2^(lz - 1)
    low_exp = np.where(a != 0, e - 53 + lz - 1, 1 << 20)
    bits = np.where(a != 0, e - low_exp, 0)
    return low_exp, bits


def _sum_is_exact(terms: np.ndarray, bits: int) -> np.ndarray:
    """Per row of float64 `terms`, each representable with `bits` significant bits: True when
    every partial sum in any order is too (all terms are multiples of 2^e, e the lowest set bit
    among them, and sum|terms| < 2^(e + bits))."""
    a = np.abs(terms)
    low_exp, _ = _low_bit_exponent(a)
    e = low_exp.min(axis=1)
    total = np.cumsum(a, axis=1)[:, -1]  # exact whenever the criterion can hold
    limit = np.ldexp(1.0, np.minimum(e + bits, 1023))
    return (total == 0) | (total < limit)


def _difference_is_exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the float64 a - b is exact: the error term of TwoSum(a, -b) is 0."""
    c = -b
    s = a + c
    a2 = s - c
    c2 = s - a2
    return (a - a2) + (c - c2) == 0


def _rounds_robustly(z: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Whether float32 `f` (as float64) is the rounding of float64 `z` and `z` lies at least
    2^-40 |z| from a rounding boundary: an implementation that gets `z` to within a few float64
    ulps (2^-50 relative) rounds it to `f` too."""
    f32v = f.astype(np.float32)
    up = np.nextafter(f32v, np.float32(np.inf)).astype(np.float64) - f
    down = f - np.nextafter(f32v, np.float32(-np.inf)).astype(np.float64)
    # f is the rounding of z when z lies between the midpoints to its neighbours.
    margin = np.ldexp(np.abs(z), -40)
    return (z - f < up / 2 - margin) & (f - z < down / 2 - margin)


def unit_query(query: np.ndarray) -> tuple[np.ndarray, bool]:
    """The query as a normalizing search uses it: float32(q / |q|) with |q| in float64 (as the
    reference and nvs compute it), and whether every implementation rounds it the same way."""
    q = query.astype(np.float64)
    norm = math.sqrt(float(np.cumsum(q * q)[-1]))
    z = q / norm
    unit = z.astype(np.float32)
    return unit, bool(np.all(_rounds_robustly(z, unit.astype(np.float64))))


def score(metric: str, normalize: bool, originals: np.ndarray, stored: np.ndarray, query: np.ndarray,
          rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of the candidate `rows` for a search that the reference accepted, and their bounds.

    `originals` are the rows as added (float32), `stored` as the reference keeps them (unit rows
    in a normalize store), `query` as given (float32). The values are computed in float64 from
    exact products with left-to-right sums (numpy's cumsum), so they are the same on every CPU
    and within a small fraction of the bound of the exact value. Returns (values, bounds); a
    bound is the largest difference between two correct implementations (see above), 0 when
    the value is computed exactly everywhere."""
    rows = np.asarray(rows, dtype=np.intp)
    d = stored.shape[1]
    if len(rows) == 0:
        return np.empty(0), np.empty(0)
    r = stored[rows].astype(np.float64)
    if metric == "cosine" or normalize:
        unit, q_ok = unit_query(query)
        q = unit.astype(np.float64)
    else:
        q, q_ok = query.astype(np.float64), True
    if normalize:
        x = originals[rows].astype(np.float64)
        z = x / np.sqrt(np.cumsum(x * x, axis=1)[:, -1])[:, None]
        r_ok = np.all(_rounds_robustly(z, r), axis=1)
    else:
        r_ok = np.ones(len(rows), dtype=bool)

    if metric == "euclidean":
        diff = r - q
        sq = diff * diff
        value = np.sqrt(np.cumsum(sq, axis=1)[:, -1])
        diff_ok = _difference_is_exact(r, q)
        if normalize:
            exact = (np.all(diff_ok & (diff.astype(np.float32) == diff) & (sq.astype(np.float32) == sq), axis=1)
                     & _sum_is_exact(sq, 24))
            value = np.where(exact, value.astype(np.float32).astype(np.float64), value)
            norms = np.sqrt(np.cumsum(r * r, axis=1)[:, -1]) + math.sqrt(float(np.cumsum(q * q)[-1]))
            bound = (d + 8) * U32 * value + 3 * U32 * norms + math.sqrt(d) * 2.0**-73
        else:
            _, bits = _low_bit_exponent(diff)
            exact = np.all(diff_ok & (bits <= 26), axis=1) & _sum_is_exact(sq, 53)
            bound = (d + 8) * U64 * value
    else:
        prod = r * q  # exact: float32 x float32 fits float64
        value = np.cumsum(prod, axis=1)[:, -1]
        terms = np.cumsum(np.abs(prod), axis=1)[:, -1]
        if normalize:
            exact = np.all(prod.astype(np.float32) == prod, axis=1) & _sum_is_exact(prod, 24)
            bound = (2 * d + 8) * U32 * terms + 4 * d * TINY32
        elif metric == "dot":
            exact = _sum_is_exact(prod, 53)
            bound = (2 * d + 8) * U64 * terms
        else:  # raw cosine
            sq = r * r
            norm = np.sqrt(np.cumsum(sq, axis=1)[:, -1])
            z = value / norm
            value = z.astype(np.float32).astype(np.float64)
            exact = _sum_is_exact(prod, 53) & _sum_is_exact(sq, 53) & _rounds_robustly(z, value)
            sc = terms / norm
            bound = 2 * U32 * (np.abs(value) + 2 * sc) + (2 * d + 12) * U64 * sc + (d + 2) * TINY32
    exact = exact & r_ok & q_ok
    return value, np.where(exact, 0.0, bound)


def bound_text(b: float) -> str:
    """A bound rounded up to two significant digits, like 6.1e-07 ("0" for exact values)."""
    if b == 0:
        return "0"
    e = math.floor(math.log10(b))
    digits = math.ceil(b / 10.0 ** (e - 1))  # 10..100
    while True:
        if digits >= 100:
            digits, e = 10, e + 1
        text = f"{digits // 10}.{digits % 10}e{e:+03d}"
        if float(text) >= b:
            return text
        digits += 1


def passes(metric: str, value: float, threshold: float) -> bool:
    """The reference's threshold test (cosine compares float32 values with a float32 threshold)."""
    if metric == "cosine":
        return np.float32(value) >= np.float32(threshold)
    return value <= threshold if metric == "euclidean" else value >= threshold


def hits_problem(want: list, got: list) -> str | None:
    """The rule every runner applies (README.md "Comparing"): `want` and `got` are lists of
    (row, id, value, bound) and (row, id, value). None when `got` is acceptable."""
    if len(got) != len(want):
        return f"{len(got)} hits, expected {len(want)}"
    where = {w[0]: k for k, w in enumerate(want)}
    pos = []
    for row, id_, value in got:
        k = where.pop(row, None)
        if k is None:
            return f"row {row} is not an expected hit (or comes twice)"
        _, want_id, want_value, bound = want[k]
        if id_ != want_id:
            return f"row {row} has id {id_}, expected {want_id}"
        if not abs(value - want_value) <= bound:
            return f"row {row} has value {value!r}, expected {want_value!r} within {bound!r}"
        pos.append(k)
    for a in range(len(pos)):
        for b in range(a + 1, len(pos)):
            i, j = pos[b], pos[a]  # i is listed first but came later
            if i < j:
                vi, bi, vj, bj = want[i][2], want[i][3], want[j][2], want[j][3]
                if not (bi + bj > 0 and abs(vi - vj) <= bi + bj):
                    return f"row {want[j][0]} came before row {want[i][0]}, and they are not a near tie"
    return None


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
        self.normalize = normalize
        self.lines = [f"case {name}"]
        status, self.store = call(lambda: VectorStore(dims, normalize=normalize))
        self.lines.append(f"store {dims} {int(normalize)} {status}")
        self.originals = np.empty((0, max(dims, 0)), dtype=np.float32)  # rows as added

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
        if status == "OK":
            self.originals = np.concatenate([self.originals, batch])
        else:
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

    def candidates(self, within) -> np.ndarray:
        return np.arange(len(self.store)) if within is None else np.asarray(within, dtype=np.intp)

    def scored(self, metric, q, within) -> list:
        """(value, bound, row) of every candidate, best first (ties by row index), from `score`."""
        rows = self.candidates(within)
        values, bounds = score(metric, self.normalize, self.originals, self.store.vectors, f32(q), rows)
        sign = 1.0 if metric == "euclidean" else -1.0
        return sorted(zip(values.tolist(), bounds.tolist(), rows.tolist()), key=lambda t: (sign * t[0], t[2]))

    def values(self, metric, q, within=None) -> list:
        """The candidates' values best first, the same on every CPU (for placing thresholds)."""
        status, _ = self._run_search(metric, f32(q), 1, None, within)
        if status != "OK" or len(self.candidates(within)) == 0:
            return []
        return [v for v, _, _ in self.scored(metric, q, within)]

    def search(self, metric, query, top_k=10, threshold=None, within=None) -> list:
        """Search and write the expected hits, each with its bound. Raises `Unstable` when the
        result could differ between correct implementations (see `check_stable`)."""
        q = f32(query)
        status, hits = self._run_search(metric, q, top_k, threshold, within)
        bounds = {}
        if status == "OK":
            bounds = self.check_stable(metric, q, top_k, threshold, within, hits)
        thr = "-" if threshold is None else num(threshold)
        within_text = "-" if within is None else " ".join([str(len(within))] + [str(r) for r in within])
        line = ["search", metric, status, str(top_k), thr, within_text, str(len(q))]
        self._emit(" ".join(line + [num(v) for v in q]))
        for hit in hits or []:
            self._emit(f"hit {hit.index} {int(hit.metadata)} {num(hit.value)} {bound_text(bounds[hit.index])}")
        return hits or []

    def search_or_skip(self, metric, query, **options) -> list:
        """`search`, or a comment saying why the search is left out (`Unstable`)."""
        try:
            return self.search(metric, query, **options)
        except Unstable as e:
            extra = "".join(f", {k} {v}" for k, v in options.items())
            self.comment(f"skipped {metric} {list(query)}{extra}: {e}")
            return []

    def check_stable(self, metric, q, top_k, threshold, within, hits) -> dict:
        """Raise `Unstable` unless every correct implementation returns the same set of rows:
        no inexact value lies within twice its bound of the threshold, and no row of the result
        is within twice the bounds of a row left out, unless the two are real ties (both values
        exact and equal, or the same stored row: ties go by row index). Rows inside the result
        may be near ties; a runner accepts them in either order. Also checks the reference's
        values against the bounds. Returns each candidate row's bound."""
        rows = self.candidates(within)
        if len(rows) == 0:
            return {}
        scored = self.scored(metric, q, within)
        status, every = self._run_search(metric, q, len(rows), None, within)
        assert status == "OK" and len(every) == len(rows)
        reference = {h.index: h.value for h in every}
        bounds = {row: b for _, b, row in scored}
        for v, b, row in scored:
            if not abs(reference[row] - v) <= b:
                raise RuntimeError(f"{metric} row {row}: the reference's value {reference[row]!r} is not "
                                   f"within {b!r} of {v!r}: the error bound is wrong")
        # Equal stored rows: the same value (numpy's kernels do not depend on the row position).
        _, group = np.unique(self.store.vectors[rows], axis=0, return_inverse=True)
        group_of = dict(zip(rows.tolist(), group.reshape(-1).tolist()))
        first = {}
        for row in rows.tolist():
            other = first.setdefault(group_of[row], row)
            if reference[other] != reference[row]:
                raise RuntimeError(f"rows {other} and {row} are equal but the reference gave "
                                   f"{reference[other]!r} and {reference[row]!r}")
        if threshold is not None:
            limits = {float(threshold), float(np.float32(threshold))}
            for v, b, row in scored:
                if b > 0 and any(abs(v - t) <= 2 * b for t in limits):
                    raise Unstable(f"row {row} is too close to the threshold {threshold!r}")
            scored = [s for s in scored if passes(metric, s[0], threshold)]
        k = min(top_k, len(scored))
        inside, outside = scored[:k], scored[k:]
        if inside and outside:
            vi, bi, ri = (np.array(x) for x in zip(*inside))
            vo, bo, ro = (np.array(x) for x in zip(*outside))
            gi = np.array([group_of[r] for r in ri.tolist()])
            go = np.array([group_of[r] for r in ro.tolist()])
            close = np.abs(vi[:, None] - vo[None, :]) <= 2 * (bi[:, None] + bo[None, :])
            real_tie = (gi[:, None] == go[None, :]) | (
                (bi[:, None] == 0) & (bo[None, :] == 0) & (vi[:, None] == vo[None, :]))
            if np.any(close & ~real_tie):
                i, o = np.argwhere(close & ~real_tie)[0]
                raise Unstable(f"rows {ri[i]} and {ro[o]} are too close to tell which one the result holds")
        if sorted(r for _, _, r in inside) != sorted(h.index for h in hits):
            raise RuntimeError(f"the reference's hits {[h.index for h in hits]} are not the rows expected")
        return bounds

    def end(self) -> None:
        self._emit("end")
        self.out.lines.extend(self.lines)
        self.out.lines.append("")
        self.out.count += 1


def threshold_between(a: float, b: float) -> float:
    """A threshold well inside the gap between values `a` and `b`: the midpoint rounded to the
    fewest significant digits that keep it in the middle half of the gap."""
    lo, hi = min(a, b), max(a, b)
    mid = (lo + hi) / 2
    quarter = (hi - lo) / 4
    for digits in range(1, 18):
        t = float(f"{mid:.{digits}g}")
        if lo + quarter <= t <= hi - quarter:
            return t
    return mid


def threshold_beyond(metric: str, v: float, first: bool) -> float:
    """A threshold past the best (`first`) or the worst value `v`, by about max(1, |v|)."""
    step = max(1.0, abs(v)) * (1.0 if (metric != "euclidean") == first else -1.0)
    return threshold_between(v + step / 2, v + 3 * step / 2)


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
                c.search(metric, [1.0, 0.0, 0.0], threshold=t)
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
            c.search("cosine", [1.0, 0.0], threshold=t)
        c.end()

    # Thresholds with top_k and with mixed-sign values.
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_threshold_with_top_k", 3, normalize)
            c.add(BASIC_ROWS, ids=BASIC_IDS)
            c.search(metric, BASIC_QUERIES[2], top_k=7)
            values = c.values(metric, BASIC_QUERIES[2])
            # Thresholds between neighbouring values: each keeps a prefix of the order.
            for a, b in zip(values, values[1:]):
                for k in (2, 10):
                    c.search(metric, BASIC_QUERIES[2], top_k=k, threshold=threshold_between(a, b))
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
                    c.search_or_skip(metric, q, top_k=k)
            c.comment("ties under within_rows in any order")
            c.search_or_skip(metric, [1.0, 0.0], top_k=2, within=[5, 3, 2, 0])
            c.search_or_skip(metric, [1.0, 0.0], top_k=3, within=[7, 6, 5, 4, 3, 2, 1, 0])
            c.search_or_skip(metric, [0.0, 1.0], top_k=2, within=[7, 4, 1, 0])
            c.search_or_skip(metric, [1.0, 1.0], top_k=4, within=[6, 5, 4, 3, 2, 1])
            c.comment("ties at a threshold")
            c.search_or_skip(metric, [1.0, 1.0], top_k=3, threshold=(1.0 if metric == "euclidean" and not normalize else 0.5))
            c.end()

    # Raw stores: integer rows where many dot products / distances are exactly equal.
    c = out.case("raw_dot_integer_ties", 2, False)
    c.add([[1.0, 2.0], [2.0, 1.0], [1.0, 2.0], [3.0, 0.0], [0.0, 3.0], [-1.0, 4.0], [4.0, -1.0]])
    for k in (1, 2, 3, 4, 6, 7, 10):
        c.search_or_skip("dot", [1.0, 1.0], top_k=k)
    c.search_or_skip("dot", [1.0, 1.0], top_k=3, within=[6, 4, 2, 0])
    c.search_or_skip("dot", [1.0, 1.0], top_k=10, threshold=3.0)
    c.search_or_skip("dot", [0.0, 0.0], top_k=4)
    c.end()

    c = out.case("raw_euclidean_integer_ties", 2, False)
    c.add([[3.0, 4.0], [4.0, 3.0], [-3.0, -4.0], [5.0, 0.0], [0.0, -5.0], [1.0, 1.0], [0.0, 5.0], [-5.0, 0.0]])
    for k in (1, 2, 3, 4, 6, 8):
        c.search_or_skip("euclidean", [0.0, 0.0], top_k=k)
    c.search_or_skip("euclidean", [0.0, 0.0], top_k=3, within=[7, 6, 3, 2])
    c.search_or_skip("euclidean", [0.0, 0.0], top_k=20, threshold=5.0)
    c.search_or_skip("euclidean", [0.0, 0.0], top_k=20, threshold=4.0)
    c.end()

    # Many identical rows across scan blocks: the cut keeps the lowest row indexes.
    for normalize, mode in MODES:
        for metric in METRICS:
            c = out.case(f"{mode}_{metric}_many_identical_rows", 2, normalize)
            c.add([[1.0, 1.0]] * 300 + [[0.5, 0.0]] + [[1.0, 1.0]] * 300 + [[4.0, 4.0]])
            c.search_or_skip(metric, [1.0, 1.0], top_k=5)
            c.search_or_skip(metric, [1.0, 0.0], top_k=3)
            c.search_or_skip(metric, [1.0, 1.0], top_k=3, within=[599, 600, 301, 300, 299, 0])
            c.search_or_skip(metric, [1.0, 1.0], top_k=2, within=list(range(601, 250, -1)))
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
            values = c.values(metric, BASIC_QUERIES[3])
            cut = threshold_between(values[2], values[3])
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
                        c.search(metric, q, top_k=rng.choice([1, 7, 25]), within=within)
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
                c.search(metric, q, top_k=top_k, threshold=threshold, within=within)
                searches += 1
            except Unstable:
                del c.lines[snapshot:]
        c.end()
        produced += 1
    return out


def pick_threshold(c: Case, metric, q, within, rng):
    """A threshold between two neighbouring values (never on a value), or past all of them."""
    values = c.values(metric, q, within)
    if not values:
        return rng.choice([0.0, 1.0, -1.0])
    i = rng.randrange(len(values) + 1)
    if i == 0:
        return threshold_beyond(metric, values[0], first=True)
    if i == len(values):
        return threshold_beyond(metric, values[-1], first=False)
    return threshold_between(values[i - 1], values[i])


# ----------------------------------------------------------------------------------------------

FILES = [basics, errors, ties, prefilter, raw, random_cases]


def ulps_apart(a: float, b: float) -> int:
    """How many float32 values lie between float32 `a` and `b`, plus one (0 when equal)."""
    ia, ib = (int(np.float32(v).view(np.int32)) for v in (a, b))
    ia, ib = (i if i >= 0 else -(1 << 31) - i for i in (ia, ib))  # ordered like the floats
    return abs(ia - ib)


def same_cases(committed: str, fresh: str) -> str | None:
    """None when `committed` is what the generator produces, up to the reference's rounding on
    another CPU: hit values within their bounds and near ties in either order (exactly as a
    runner compares, `hits_problem`), and a normalize store's unit rows within one float32 ulp.
    Everything else, thresholds and bounds included, must be identical: every decision of the
    generator uses its own CPU-independent values."""
    a, b = committed.splitlines(), fresh.splitlines()
    if len(a) != len(b):
        return f"{len(a)} lines committed, {len(b)} generated"

    def problem(n, why=""):
        return f"line {n + 1}{': ' + why if why else ''}:\n  committed: {a[n][:200]}\n  generated: {b[n][:200]}"

    normalize = False
    n = 0
    while n < len(a):
        tx, ty = a[n].split(), b[n].split()
        if tx[:1] == ty[:1] == ["hit"]:
            end = n
            while end < len(a) and a[end].startswith("hit ") and b[end].startswith("hit "):
                end += 1
            want, got = [], []
            for k in range(n, end):
                tx, ty = a[k].split(), b[k].split()
                if len(tx) != 5 or len(ty) != 5:
                    return problem(k)
                want.append((int(tx[1]), int(tx[2]), float(tx[3]), float(tx[4])))
                got.append((int(ty[1]), int(ty[2]), float(ty[3]), float(ty[4])))
            bounds = {w[0]: w[3] for w in want}
            for row, _, _, bound in got:
                if row in bounds and bounds[row] != bound:
                    return problem(n, f"row {row} has bound {bound!r}, committed {bounds[row]!r}")
            why = hits_problem(want, [g[:3] for g in got])
            if why:
                return problem(n, why)
            n = end
            continue
        if tx[:1] == ["store"] and len(tx) > 2:
            normalize = tx[2] == "1"
        if a[n] != b[n]:
            same_get = tx[:1] == ty[:1] == ["get"] and len(tx) == len(ty) and tx[:4] == ty[:4]
            close = all(ulps_apart(float(u), float(v)) <= 1 for u, v in zip(tx[4:], ty[4:]))
            if not (same_get and normalize and close):
                return problem(n)
        n += 1
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
