"""Raw-store values are the exact values, correctly rounded (checked with Python fractions).

For stores without normalization, libnvs promises:

- dot: the f64 nearest the exact dot product of the stored f32 row and the f32 query;
- euclidean: the f64 nearest the exact distance;
- cosine: the f32 nearest the exact dot(q, row) / |row|, where q is the query normalized as
  the reference does it: f32(x / |x|) with |x| the f64 nearest the exact norm;

all with ties to even. Here every hit of a search over the whole store is compared with
those values computed exactly with fractions.Fraction (square roots by exact comparison with
the midpoints between neighbouring floats), on random, integer-grid (many exact ties),
cancelling, nearly equal and wide-exponent data, plus constructed midpoint ties. The same
checks run once more in a child process per kernel (NVS_KERNEL=portable/avx2/avx512; one the
CPU lacks falls back to the best, so the run still passes). Where numpy-vector-store 0.7.0
returns the correctly rounded value too, the values are therefore equal; the test reports
how often it does not.

Run from the repository root after `cargo build --release`:

    python -m pytest tests/python/test_raw_exact.py -s
"""

from __future__ import annotations

import ctypes
import math
import os
import struct
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from nvs_ctypes import METRICS, Hit, c_float_p, c_size_t_p, load_library

F32 = np.float32


# ---- exact rounding -----------------------------------------------------------------------

def is_even(x: float) -> bool:
    return struct.unpack("<Q", struct.pack("<d", x))[0] & 1 == 0


def rounded_sqrt(t: Fraction) -> float:
    """The f64 nearest sqrt(t), ties to even."""
    if t == 0:
        return 0.0
    c = math.sqrt(float(t))
    while True:
        up = math.nextafter(c, math.inf)
        mid = (Fraction(c) + Fraction(up)) / 2
        if t > mid * mid:
            c = up
            continue
        if t == mid * mid:
            return c if is_even(c) else up
        down = math.nextafter(c, 0.0)
        mid = (Fraction(c) + Fraction(down)) / 2
        if t < mid * mid:
            c = down
            continue
        if t == mid * mid:
            return c if is_even(c) else down
        return c


def f32_even(x: np.float32) -> bool:
    return int(np.asarray(x, dtype=F32).view(np.uint32)) & 1 == 0


def rounded_cosine(dot: Fraction, sq: Fraction) -> float:
    """The f32 nearest dot / sqrt(sq) (sq > 0), ties to even, as a Python float."""

    def cmp(mu: Fraction) -> int:
        # Sign of dot / sqrt(sq) - mu, exactly.
        sd, sm = (dot > 0) - (dot < 0), (mu > 0) - (mu < 0)
        if sd != sm:
            return (sd > sm) - (sd < sm)
        a, b = dot * dot, mu * mu * sq
        c = (a > b) - (a < b)
        return c if sd >= 0 else -c

    if dot == 0:
        return 0.0
    c = F32(float(dot) / math.sqrt(float(sq)))
    while True:
        up = np.nextafter(c, F32(np.inf))
        r = cmp((Fraction(float(c)) + Fraction(float(up))) / 2)
        if r > 0:
            c = up
            continue
        if r == 0:
            return float(c if f32_even(c) else up)
        down = np.nextafter(c, F32(-np.inf))
        r = cmp((Fraction(float(c)) + Fraction(float(down))) / 2)
        if r < 0:
            c = down
            continue
        if r == 0:
            return float(c if f32_even(c) else down)
        return float(c)


def exact_values(metric: str, query: np.ndarray, rows: np.ndarray) -> list[float]:
    if metric == "cosine":
        norm = rounded_sqrt(sum(Fraction(float(x)) ** 2 for x in query))
        q = (query.astype(np.float64) / norm).astype(F32)
    else:
        q = query
    qf = [Fraction(float(x)) for x in q]
    out = []
    for row in rows:
        rf = [Fraction(float(x)) for x in row]
        if metric == "dot":
            out.append(float(sum(a * b for a, b in zip(qf, rf))))
        elif metric == "euclidean":
            out.append(rounded_sqrt(sum((a - b) ** 2 for a, b in zip(qf, rf))))
        else:
            out.append(rounded_cosine(sum(a * b for a, b in zip(qf, rf)), sum(b * b for b in rf)))
    return out


# ---- libnvs ---------------------------------------------------------------------------------

class RawStore:
    def __init__(self, lib, rows: np.ndarray):
        self.lib, self.n = lib, len(rows)
        self.handle = ctypes.c_void_p()
        assert lib.nvs_store_new(rows.shape[1], False, ctypes.byref(self.handle)) == 0
        flat = np.ascontiguousarray(rows, dtype=F32).ravel()
        assert lib.nvs_store_add(self.handle, flat.ctypes.data_as(c_float_p), len(flat), None, 0) == 0

    def close(self):
        self.lib.nvs_store_free(self.handle)

    def search(self, metric: str, query: np.ndarray, threshold: float | None = None) -> dict[int, float]:
        q = np.ascontiguousarray(query, dtype=F32)
        o = self.lib.nvs_search_options_default()
        o.top_k = self.n
        if threshold is not None:
            o.has_threshold, o.threshold = True, threshold
        hits = (Hit * (self.n + 1))()
        got = ctypes.c_size_t(0)
        st = self.lib.nvs_store_search(
            self.handle, METRICS[metric], q.ctypes.data_as(c_float_p), len(q), ctypes.byref(o), hits,
            self.n + 1, ctypes.byref(got),
        )
        assert st == 0, self.lib.nvs_last_error_message()
        return {h.index: h.value for h in hits[: got.value]}


# ---- data -----------------------------------------------------------------------------------

def wide(rng, shape, lo=-60, hi=60):
    """f32 values with random exponents in [lo, hi] (all magnitudes, subnormals included)."""
    m = rng.uniform(-1, 1, size=shape)
    return (m * np.exp2(rng.integers(lo, hi + 1, size=shape))).astype(F32)


def cancelling(rng, n, d, query):
    """Rows whose products with `query` nearly cancel: pairs of large opposite terms and a
    small remainder."""
    rows = wide(rng, (n, d), -20, 20)
    for r in rows:
        for i in range(0, d - 1, 2):
            if query[i + 1] != 0:
                r[i + 1] = F32(-float(query[i]) * float(r[i]) / float(query[i + 1]))
    return rows


def datasets(rng):
    """(name, query, rows) for each kind of data."""
    out = []
    for d in (1, 2, 3, 5, 8, 16, 33, 100, 384):
        n = 12 if d >= 100 else 30
        out.append((f"normal d={d}", rng.normal(size=d).astype(F32), rng.normal(size=(n, d)).astype(F32)))
        grid = rng.integers(-3, 4, size=(n + 1, d)).astype(F32) * F32(0.125)
        out.append((f"grid d={d}", grid[0], grid[1:]))
        q = wide(rng, d, -20, 20)
        out.append((f"cancelling d={d}", q, cancelling(rng, n, d, q)))
        base = wide(rng, (n, d), -30, 30)
        near = np.where(rng.random((n, d)) < 0.5, base, np.nextafter(base, F32(np.inf)))
        out.append((f"nearly equal d={d}", base[0], near))
        out.append((f"wide d={d}", wide(rng, d, -126, 126), wide(rng, (n, d), -140, 120)))
    t = lambda e: F32(2.0**e)  # noqa: E731
    ties = np.array(
        [
            [1, t(-53), 0, 0],  # dot with ones: 1 + 2^-53, halfway: to even
            [1, t(-53), t(-90), 0],  # a hair above halfway
            [1, t(-26), t(-53), 0],  # norm 1 + 2^-53 exactly: halfway
            [1, t(-26), t(-53), t(-60)],
            [2, -t(-52), -t(-53), 0],  # below a power of two
            [t(30), -t(30), 1, t(-53)],  # cancellation, then halfway
        ],
        dtype=F32,
    )
    out.append(("ties, ones", np.ones(4, dtype=F32), ties))
    out.append(("ties, zero", np.zeros(4, dtype=F32), ties))
    out.append(("ties, cosine halfway", np.array([1, t(-24), 0, 0], dtype=F32), np.ones((2, 4), dtype=F32)))
    return out


# ---- checks ---------------------------------------------------------------------------------

def reference_values(metric, query, rows):
    """numpy-vector-store 0.7.0's value for every row (None if it is not installed)."""
    try:
        from numpy_vector_store import VectorStore
    except ImportError:
        return None
    store = VectorStore(rows.shape[1], normalize=False)
    store.add(rows, list(range(len(rows))))
    hits = getattr(store, f"{metric}_search")(query, top_k=len(rows))
    return {int(h.index): float(h.value) for h in hits}


def run_checks(lib) -> dict[str, int]:
    rng = np.random.default_rng(20240611)
    stats = {"values": 0, "reference differs": 0, "threshold checks": 0}
    for name, query, rows in datasets(rng):
        store = RawStore(lib, rows)
        try:
            for metric in ("dot", "euclidean", "cosine"):
                if metric == "cosine" and (not query.any() or not rows.any(axis=1).all()):
                    continue
                want = exact_values(metric, query, rows)
                got = store.search(metric, query)
                assert len(got) == len(rows), f"{name} {metric}"
                for i, w in enumerate(want):
                    assert got[i] == w, f"{name} {metric} row {i}: got {got[i]!r}, exact {w!r}"
                    stats["values"] += 1
                ref = reference_values(metric, query, rows)
                if ref is not None:
                    stats["reference differs"] += sum(ref[i] != w for i, w in enumerate(want))
                # A threshold equal to a row's value keeps the row (the bound is inclusive).
                for i in rng.choice(len(rows), size=min(3, len(rows)), replace=False):
                    hits = store.search(metric, query, threshold=want[i])
                    assert int(i) in hits, f"{name} {metric} row {i} dropped at threshold {want[i]!r}"
                    stats["threshold checks"] += 1
        finally:
            store.close()
    return stats


def test_raw_values_are_the_exact_values_correctly_rounded(nvs_lib):
    stats = run_checks(nvs_lib)
    print(f"\n{stats}")
    assert stats["values"] > 3000


@pytest.mark.parametrize("kernel", ["portable", "avx2", "avx512"])
def test_every_kernel_path(kernel):
    env = dict(os.environ, NVS_KERNEL=kernel)
    r = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    print(run_checks(load_library()))
