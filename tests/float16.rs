//! Float16 storage: rows rounded once to float16, values computed from the rounded rows with
//! the same kernels (and exact paths) as float32 rows, persistence as `<f2`.

use nvs::kernels::{f16, Kernel, Op};
use nvs::{ErrorKind, Metric, ReadOptions, SearchOptions, Storage, VectorStore, WriteOptions};

fn rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n * d)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn stored(s: &VectorStore) -> Vec<f32> {
    let mut v = vec![0.0; s.len() * s.dimensions()];
    s.read_rows(0, s.len(), Some(&mut v), None).unwrap();
    v
}

fn round(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| f16::to_f32(f16::to_f16(x))).collect()
}

/// Every hit of a normalized float16 store is what the active kernel gives for the stored
/// (rounded) rows, ranked with ties by row index.
fn expected_normalized(s: &VectorStore, metric: Metric, q: &[f32], k: usize) -> Vec<(usize, u64)> {
    let d = s.dimensions();
    let norm = q.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    let q: Vec<f32> = q.iter().map(|&x| (x as f64 / norm) as f32).collect();
    let v = stored(s);
    let refs: Vec<&[f32]> = v.chunks(d).collect();
    let op = if metric == Metric::Euclidean { Op::L2sq } else { Op::Dot };
    let mut out = vec![0.0f32; refs.len()];
    Kernel::active().scores(op, &q, &refs, &mut out);
    let value = |r: f32| if metric == Metric::Euclidean { r.max(0.0).sqrt() as f64 } else { r as f64 };
    let mut ranked: Vec<(usize, f64)> = out.iter().map(|&r| value(r)).enumerate().collect();
    ranked.sort_by(|a, b| {
        let by = if metric == Metric::Euclidean { a.1.total_cmp(&b.1) } else { b.1.total_cmp(&a.1) };
        by.then(a.0.cmp(&b.0))
    });
    ranked.into_iter().take(k).map(|(i, v)| (i, v.to_bits())).collect()
}

#[test]
fn rows_are_rounded_once_and_searched_as_stored() {
    let (n, d) = (700, 37);
    let data = rows(n, d, 1);
    // A raw float16 store holds the rounded values; its exact values are those of a float32
    // store holding the same rounded rows, bit for bit.
    let half = VectorStore::with_storage(d, false, Storage::Float16).unwrap();
    half.add(&data, None).unwrap();
    assert_eq!(half.storage(), Storage::Float16);
    let rounded = round(&data);
    assert_eq!(stored(&half), rounded);
    let full = VectorStore::new(d, false).unwrap();
    full.add(&rounded, None).unwrap();
    let queries = rows(4, d, 2);
    let within: Vec<usize> = (0..n).rev().step_by(3).collect();
    for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
        for within in [None, Some(&within[..])] {
            let o = SearchOptions { top_k: 9, within_rows: within, ..Default::default() };
            let batch = half.search_batch(metric, &queries, &o).unwrap();
            assert_eq!(batch, full.search_batch(metric, &queries, &o).unwrap(), "{metric:?}");
            for (q, hits) in queries.chunks(d).zip(&batch) {
                assert_eq!(&half.search(metric, q, &o).unwrap(), hits, "batch equals single");
            }
        }
    }
    // A normalized float16 store: rows normalized in float32, then rounded; values are the
    // kernel's over the rounded rows.
    let half = VectorStore::with_storage(d, true, Storage::Float16).unwrap();
    half.add(&data, None).unwrap();
    let unit = VectorStore::new(d, true).unwrap();
    unit.add(&data, None).unwrap();
    assert_eq!(stored(&half), round(&stored(&unit)));
    for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
        for q in queries.chunks(d) {
            let o = SearchOptions { top_k: 12, ..Default::default() };
            let hits = half.search(metric, q, &o).unwrap();
            let got: Vec<(usize, u64)> = hits.iter().map(|h| (h.index, h.value.to_bits())).collect();
            assert_eq!(got, expected_normalized(&half, metric, q, 12), "{metric:?}");
            let batch = half.search_batch(metric, q, &o).unwrap();
            assert_eq!(batch[0], hits);
        }
    }
}

#[test]
fn values_beyond_float16_fail_the_add_and_add_nothing() {
    let s = VectorStore::with_storage(3, false, Storage::Float16).unwrap();
    s.add(&[1.0, 2.0, 65504.0], Some(&[7])).unwrap();
    // Below 65520 rounds to 65504; from there it would be infinite.
    s.add(&[65519.0, 0.0, -65519.0], None).unwrap();
    for bad in [65520.0f32, -1e6, 3.4e38] {
        let e = s.add(&[0.5, 0.5, 0.5, 1.0, bad, 0.0], None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange, "{bad}: {}", e.message);
        assert!(e.message.contains("row 1 column 1"), "{}", e.message);
        assert_eq!(s.len(), 2, "nothing added");
    }
    assert_eq!(s.add(&[f32::NAN, 0.0, 0.0], None).unwrap_err().kind, ErrorKind::NonFinite);
    // Tiny values round to float16 subnormals or zero: a raw row may become all zero, and
    // raw cosine then refuses it as for any zero row.
    s.add(&[1e-9, -1e-9, 0.0], None).unwrap();
    assert_eq!(stored(&s)[6..], [0.0, -0.0, 0.0]);
    let e = s.search(Metric::Cosine, &[1.0, 0.0, 0.0], &SearchOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ZeroNorm);
    assert_eq!(stored(&s)[..6], [1.0, 2.0, 65504.0, 65504.0, 0.0, -65504.0]);
}

#[test]
fn float16_archives_round_trip_and_map() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (300, 24);
    for normalize in [true, false] {
        let s = VectorStore::with_storage(d, normalize, Storage::Float16).unwrap();
        s.add(&rows(n, d, 3), None).unwrap();
        let q = rows(1, d, 4);
        let o = SearchOptions { top_k: 5, ..Default::default() };
        let want = s.search(Metric::Cosine, &q, &o).unwrap();
        for uncompressed in [false, true] {
            let path = dir.path().join(format!("h-{normalize}-{uncompressed}.npz"));
            s.save(Some(&path), WriteOptions { uncompressed, ..Default::default() }).unwrap();
            for map in [false, true] {
                let opened = VectorStore::open(&path, ReadOptions { map, ..Default::default() }).unwrap();
                assert_eq!(opened.storage(), Storage::Float16);
                assert_eq!(opened.is_mapped(), map && uncompressed);
                assert_eq!(stored(&opened), stored(&s), "open gives the saved bits");
                assert_eq!(opened.search(Metric::Cosine, &q, &o).unwrap(), want);
                let verified = ReadOptions { map, verify: true, ..Default::default() };
                assert_eq!(stored(&VectorStore::open(&path, verified).unwrap()), stored(&s));
            }
            // A float32 store cannot reload a float16 archive (and the reverse): it says so.
            let other = VectorStore::new(d, normalize).unwrap();
            other.save(Some(&dir.path().join("f32.npz")), WriteOptions::default()).unwrap();
            std::fs::copy(&path, dir.path().join("f32.npz")).unwrap();
            let e = other.reload(ReadOptions::default()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
            assert!(e.message.contains("Float16"), "{}", e.message);
        }
    }
}

#[test]
fn ffi_storage() {
    use nvs::ffi;
    let mut store = std::ptr::null_mut();
    unsafe {
        assert_eq!(ffi::nvs_store_new_with_storage(4, true, 7, &mut store), ffi::nvs_status::InvalidArgument);
        assert!(store.is_null());
        assert_eq!(
            ffi::nvs_store_new_with_storage(4, false, ffi::NVS_STORAGE_FLOAT16, &mut store),
            ffi::nvs_status::Ok
        );
        assert_eq!(ffi::nvs_store_storage(store), ffi::NVS_STORAGE_FLOAT16);
        assert_eq!(ffi::nvs_store_storage(std::ptr::null()), ffi::NVS_STORAGE_FLOAT32);
        let row = [1.0f32, 1e5, 0.0, 0.0];
        let status = ffi::nvs_store_add(store, row.as_ptr(), 4, std::ptr::null(), 0);
        assert_eq!(status, ffi::nvs_status::OutOfRange);
        ffi::nvs_store_free(store);
    }
}
