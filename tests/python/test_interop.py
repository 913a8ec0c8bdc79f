"""Archive interop between nvs (through its C ABI, via ctypes) and numpy / numpy-vector-store.

Run from the repository root after `cargo build --release`:

    python -m pytest tests/python

The library is target/release/libnvs.so unless NVS_LIB names another file.
"""

from __future__ import annotations

import ctypes
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy_vector_store import VectorStore

from nvs_ctypes import Hit, load_library

STATUS_OK = 0
STATUS_FORMAT = 10
OPEN_ROW_INDEX_METADATA = 1
SAVE_UNCOMPRESSED = 1
SAVE_PICKLED_METADATA = 2
STORAGE_FLOAT16 = 1
METRIC_COSINE, METRIC_DOT, METRIC_EUCLIDEAN = 0, 1, 2


LIB = load_library()


class Store:
    """A minimal ctypes wrapper: just what these tests need."""

    def __init__(self, handle: ctypes.c_void_p) -> None:
        self.handle = handle

    @classmethod
    def new(cls, dimensions: int, normalize: bool) -> "Store":
        h = ctypes.c_void_p()
        assert LIB.nvs_store_new(dimensions, normalize, ctypes.byref(h)) == STATUS_OK
        return cls(h)

    @classmethod
    def new_float16(cls, dimensions: int, normalize: bool) -> "Store":
        h = ctypes.c_void_p()
        assert LIB.nvs_store_new_with_storage(dimensions, normalize, STORAGE_FLOAT16, ctypes.byref(h)) == STATUS_OK
        return cls(h)

    @classmethod
    def open(cls, path: Path, flags: int = 0) -> "Store":
        h = ctypes.c_void_p()
        status = LIB.nvs_store_open_with_flags(str(path).encode(), flags, ctypes.byref(h))
        if status != STATUS_OK:
            raise NvsError(status, LIB.nvs_last_error_message().decode())
        return cls(h)

    def __del__(self) -> None:
        LIB.nvs_store_free(self.handle)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        i = np.ascontiguousarray(ids, dtype=np.uint64)
        status = LIB.nvs_store_add(
            self.handle,
            v.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            v.size,
            i.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)),
            i.size,
        )
        assert status == STATUS_OK, LIB.nvs_last_error_message()

    def save(self, path: Path, flags: int = 0) -> None:
        status = LIB.nvs_store_save_with_flags(self.handle, str(path).encode(), flags)
        assert status == STATUS_OK, LIB.nvs_last_error_message()

    def __len__(self) -> int:
        return LIB.nvs_store_len(self.handle)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        n, d = len(self), LIB.nvs_store_dimensions(self.handle)
        v = np.zeros((n, d), dtype=np.float32)
        i = np.zeros(n, dtype=np.uint64)
        status = LIB.nvs_store_read_rows(
            self.handle, 0, n,
            v.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), v.size,
            i.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), i.size,
        )
        assert status == STATUS_OK
        return v, i

    def search(self, metric: int, query: np.ndarray, top_k: int) -> list[tuple[int, int, float]]:
        q = np.ascontiguousarray(query, dtype=np.float32)
        options = LIB.nvs_search_options_default()
        options.top_k = top_k
        hits = (Hit * top_k)()
        n = ctypes.c_size_t()
        status = LIB.nvs_store_search(
            self.handle, metric, q.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), q.size,
            ctypes.byref(options), hits, top_k, ctypes.byref(n),
        )
        assert status == STATUS_OK, LIB.nvs_last_error_message()
        return [(hits[k].index, hits[k].id, hits[k].value) for k in range(n.value)]


class NvsError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"status {status}: {message}")
        self.status = status
        self.message = message


def sample(n: int, dims: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dims)).astype(np.float32)


IDS = np.array([0, 2**64 - 1, 2**63, 12345, 2**31, 7, 255, 65536], dtype=np.uint64)


@pytest.mark.parametrize("flags", [0, SAVE_UNCOMPRESSED])
@pytest.mark.parametrize("normalize", [True, False])
def test_numpy_loads_our_archive(tmp_path: Path, flags: int, normalize: bool) -> None:
    store = Store.new(6, normalize)
    store.add(sample(8, 6, 1), IDS)
    path = tmp_path / "ours.npz"
    store.save(path, flags)
    expected_vectors, _ = store.rows()
    with zipfile.ZipFile(path) as z:
        methods = {info.compress_type for info in z.infolist()}
        assert sorted(z.namelist()) == sorted(
            ["format_version.npy", "dimensions.npy", "normalize.npy", "vectors.npy", "metadata.npy"]
        )
    assert methods == ({zipfile.ZIP_STORED} if flags & SAVE_UNCOMPRESSED else {zipfile.ZIP_DEFLATED})
    with np.load(path) as data:  # no allow_pickle needed
        assert data["format_version"].dtype == np.int64 and data["format_version"].shape == ()
        assert int(data["format_version"]) == 1
        assert data["dimensions"].dtype == np.int64 and int(data["dimensions"]) == 6
        assert data["normalize"].dtype == np.bool_ and bool(data["normalize"]) is normalize
        assert data["vectors"].dtype == np.dtype("<f4") and data["vectors"].shape == (8, 6)
        np.testing.assert_array_equal(data["vectors"], expected_vectors)
        assert data["metadata"].dtype == np.dtype("<u8")
        np.testing.assert_array_equal(data["metadata"], IDS)


def test_numpy_loads_an_empty_archive(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    Store.new(5, True).save(path)
    with np.load(path) as data:
        assert data["vectors"].shape == (0, 5)
        assert data["metadata"].shape == (0,)


def test_we_read_numpy_vector_store_archives(tmp_path: Path) -> None:
    vectors = sample(5, 4, 2)
    reference = VectorStore(dimensions=4, normalize=True)
    reference.add(vectors, [10, 2**64 - 1, 0, 77, 3])
    path = tmp_path / "reference.npz"
    reference.save(path)
    ours = Store.open(path)
    got_vectors, got_ids = ours.rows()
    assert list(got_ids) == [10, 2**64 - 1, 0, 77, 3]
    np.testing.assert_allclose(got_vectors, reference.vectors, rtol=0, atol=1e-6)
    # Searching the opened archive is searching the same rows added directly (bit for bit:
    # both sides are nvs; nvs against the reference is the differential suite's job).
    direct = Store.new(4, True)
    direct.add(reference.vectors, np.array([10, 2**64 - 1, 0, 77, 3], dtype=np.uint64))
    query = sample(1, 4, 3)[0]
    assert ours.search(METRIC_COSINE, query, 5) == direct.search(METRIC_COSINE, query, 5)

    raw = VectorStore(dimensions=4, normalize=False)
    raw.add(vectors, list(range(5)))
    raw.save(tmp_path / "raw.npz")
    assert not LIB.nvs_store_normalize(Store.open(tmp_path / "raw.npz").handle)


def test_reference_archives_with_other_metadata(tmp_path: Path) -> None:
    reference = VectorStore(dimensions=3, normalize=False)
    reference.add(sample(3, 3, 4), [{"title": "a"}, "b", -1])
    path = tmp_path / "dicts.npz"
    reference.save(path)
    with pytest.raises(NvsError) as err:
        Store.open(path)
    assert err.value.status == STATUS_FORMAT
    assert "metadata must be integers in the uint64 range" in err.value.message
    store = Store.open(path, OPEN_ROW_INDEX_METADATA)
    assert list(store.rows()[1]) == [0, 1, 2]

    negative = VectorStore(dimensions=3, normalize=False)
    negative.add(sample(2, 3, 5), [1, -5])
    negative.save(tmp_path / "negative.npz")
    # Integers outside the uint64 range are refused even with row-index metadata: the flag
    # only replaces payloads that are not integers, never real ids.
    for flags in (0, OPEN_ROW_INDEX_METADATA):
        with pytest.raises(NvsError) as err:
            Store.open(tmp_path / "negative.npz", flags)
        assert err.value.status == STATUS_FORMAT
        assert "row 1 holds the integer -5" in err.value.message


# Metadata as numpy-vector-store users pass it in practice: each kind is pickled differently
# (Python ints, numpy integer scalars of each width, both mixed, an np.arange array).
METADATA_KINDS = {
    "python ints": [10, 2**64 - 1, 0, 2**31],
    "np.arange": np.arange(10, 14),
    "np.arange uint64": np.arange(2**64 - 4, 2**64, dtype=np.uint64),
    "numpy scalars": [np.int8(1), np.uint8(255), np.int16(-0) + 2, np.uint16(65535)],
    "wide numpy scalars": [np.int32(2**31 - 1), np.uint32(2**32 - 1), np.int64(2**63 - 1), np.uint64(2**64 - 1)],
    "mixed": [np.int64(7), 8, np.uint64(2**64 - 1), np.int8(0)],
    "from a list of arrays": list(np.array([3, 1, 4, 1], dtype=np.int64)),
}


@pytest.mark.parametrize("kind", sorted(METADATA_KINDS))
@pytest.mark.parametrize("flags", [0, OPEN_ROW_INDEX_METADATA])
def test_reference_archives_with_numpy_integer_metadata(tmp_path: Path, kind: str, flags: int) -> None:
    metadata = METADATA_KINDS[kind]
    reference = VectorStore(dimensions=3, normalize=True)
    reference.add(sample(4, 3, 11), metadata)
    path = tmp_path / "ids.npz"
    reference.save(path)
    want = [int(m) for m in reference.metadata]
    assert list(Store.open(path, flags).rows()[1]) == want


@pytest.mark.parametrize("flags", [0, OPEN_ROW_INDEX_METADATA])
def test_reference_archives_with_negative_numpy_ids_are_refused(tmp_path: Path, flags: int) -> None:
    reference = VectorStore(dimensions=3, normalize=True)
    reference.add(sample(3, 3, 12), np.array([5, 6, -7], dtype=np.int16))
    path = tmp_path / "neg.npz"
    reference.save(path)
    with pytest.raises(NvsError) as err:
        Store.open(path, flags)
    assert err.value.status == STATUS_FORMAT
    assert "row 2 holds the integer -7" in err.value.message


@pytest.mark.parametrize("flags", [SAVE_PICKLED_METADATA, SAVE_PICKLED_METADATA | SAVE_UNCOMPRESSED])
def test_numpy_vector_store_reads_our_pickled_archive(tmp_path: Path, flags: int) -> None:
    vectors = sample(8, 6, 6)
    store = Store.new(6, True)
    store.add(vectors, IDS)
    path = tmp_path / "pickled.npz"
    store.save(path, flags)
    reference = VectorStore.open(path)
    assert reference.dimensions == 6 and reference.normalize is True
    assert list(reference.metadata) == [int(i) for i in IDS]
    assert all(type(m) is int for m in reference.metadata)
    # The reference holds exactly our rows, so it finds the same hits. Its float32 values depend
    # on the CPU's BLAS kernels, so values compare within 1e-5 and the set of hits only where
    # the cut after top_k is not a near tie.
    np.testing.assert_array_equal(reference.vectors, store.rows()[0])
    for metric, search in ((METRIC_COSINE, reference.cosine_search), (METRIC_DOT, reference.dot_search),
                           (METRIC_EUCLIDEAN, reference.euclidean_search)):
        for seed in range(5):
            query = sample(1, 6, 100 + seed)[0]
            everything = [(h.index, h.metadata, h.value) for h in search(query, top_k=8)]
            got = store.search(metric, query, 4)
            if abs(everything[3][2] - everything[4][2]) > 1e-5:
                assert sorted((i, m) for i, m, _ in got) == sorted((i, m) for i, m, _ in everything[:4])
            by_index = {i: v for i, _, v in everything}
            for i, _, v in got:
                assert abs(v - by_index[i]) <= 1e-5 * max(1.0, abs(v))
    # And numpy itself, with allow_pickle, sees an object array of Python ints.
    with np.load(path, allow_pickle=True) as data:
        assert data["metadata"].dtype == object
        assert list(data["metadata"]) == [int(i) for i in IDS]


def test_numpy_vector_store_refuses_our_default_archive_but_we_round_trip_its_own(tmp_path: Path) -> None:
    # Documented behaviour: the reference requires object-dtype metadata, hence the pickled flag.
    store = Store.new(3, False)
    store.add(sample(2, 3, 7), np.array([1, 2], dtype=np.uint64))
    store.save(tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="object dtype"):
        VectorStore.open(tmp_path / "plain.npz")
    # Re-saving a reference archive through nvs with pickled metadata keeps it readable there.
    reference = VectorStore(dimensions=3, normalize=False)
    reference.add(sample(4, 3, 8), [5, 6, 7, 8])
    reference.save(tmp_path / "ref.npz")
    ours = Store.open(tmp_path / "ref.npz")
    ours.save(tmp_path / "again.npz", SAVE_PICKLED_METADATA)
    again = VectorStore.open(tmp_path / "again.npz")
    np.testing.assert_array_equal(again.vectors, reference.vectors)
    assert list(again.metadata) == [5, 6, 7, 8]


@pytest.mark.parametrize("flags", [0, SAVE_UNCOMPRESSED])
def test_float16_archives_numpy_reads_and_the_reference_refuses(tmp_path: Path, flags: int) -> None:
    vectors = sample(8, 6, 9)
    store = Store.new_float16(6, True)
    store.add(vectors, IDS)
    path = tmp_path / "half.npz"
    store.save(path, flags | SAVE_PICKLED_METADATA)
    ours, _ = store.rows()
    with np.load(path, allow_pickle=True) as data:
        assert data["vectors"].dtype == np.dtype("<f2") and data["vectors"].shape == (8, 6)
        # Widening float16 is exact: numpy sees the very values the store searches.
        np.testing.assert_array_equal(data["vectors"].astype(np.float32), ours)
        # They are the float32-normalized rows rounded to float16.
        unit = vectors / np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
        np.testing.assert_allclose(ours, unit, atol=2.0**-11)
    # numpy-vector-store 0.7.0 accepts float32 rows only.
    with pytest.raises(ValueError, match="float32"):
        VectorStore.open(path)
    reopened = Store.open(path)
    assert LIB.nvs_store_storage(reopened.handle) == STORAGE_FLOAT16
    np.testing.assert_array_equal(reopened.rows()[0], ours)


def test_numpy_written_npz_variants(tmp_path: Path) -> None:
    # Archives built directly with numpy: int32 scalars, int64 ids, Fortran-ordered and
    # big-endian vectors are all read; float64 vectors are refused.
    vectors = sample(4, 3, 9)
    common = dict(format_version=np.int32(1), dimensions=np.array(3, dtype=np.int16),
                  normalize=np.array(False), metadata=np.array([4, 3, 2, 1], dtype=np.int64))
    np.savez(tmp_path / "fortran.npz", vectors=np.asfortranarray(vectors), **common)
    np.testing.assert_array_equal(Store.open(tmp_path / "fortran.npz").rows()[0], vectors)
    np.savez_compressed(tmp_path / "big.npz", vectors=vectors.astype(">f4"), **common)
    np.testing.assert_array_equal(Store.open(tmp_path / "big.npz").rows()[0], vectors)
    assert list(Store.open(tmp_path / "big.npz").rows()[1]) == [4, 3, 2, 1]
    np.savez(tmp_path / "f8.npz", vectors=vectors.astype(np.float64), **common)
    with pytest.raises(NvsError) as err:
        Store.open(tmp_path / "f8.npz")
    assert err.value.status == STATUS_FORMAT and "float32" in err.value.message
    np.savez(tmp_path / "v2.npz", format_version=np.int64(2), dimensions=np.int64(3), normalize=np.array(False),
             vectors=vectors, metadata=np.arange(4, dtype=np.uint64))
    with pytest.raises(NvsError, match="unsupported format version 2"):
        Store.open(tmp_path / "v2.npz")
