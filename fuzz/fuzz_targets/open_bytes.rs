//! Any byte string given to the archive reader must yield a valid store or an error, never a
//! panic, abort, hang or huge allocation. Both the Rust API and the C ABI are exercised; the
//! first byte picks the open flags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nvs::ReadOptions;
use nvs::{ErrorKind, Metric, SearchOptions, VectorStore};

fuzz_target!(|data: &[u8]| {
    let (row_index, bytes) = match data.split_first() {
        Some((flag, rest)) => (flag & 1 == 1, rest),
        None => (false, data),
    };
    match VectorStore::open_bytes(bytes, ReadOptions { row_index_metadata: row_index, ..Default::default() }) {
        Ok(store) => {
            // A store that opened is fully usable.
            let d = store.dimensions();
            if let Some((row, _)) = store.get(0) {
                assert_eq!(row.len(), d);
                let q = vec![1.0f32; d];
                let _ = store.search(Metric::Euclidean, &q, &SearchOptions::default()).unwrap();
            }
        }
        Err(e) => assert!(
            matches!(e.kind, ErrorKind::Format | ErrorKind::OutOfMemory),
            "unexpected error kind {:?}: {}",
            e.kind,
            e.message
        ),
    }
    let mut out = std::ptr::null_mut();
    // SAFETY: `bytes` is valid for its length and `out` is a valid out-pointer.
    let status =
        unsafe { nvs::ffi::nvs_store_open_bytes(bytes.as_ptr(), bytes.len(), row_index as u32, &mut out) };
    assert_ne!(status, nvs::ffi::nvs_status::Internal);
    // SAFETY: NULL or a handle we own.
    unsafe { nvs::ffi::nvs_store_free(out) };
});
