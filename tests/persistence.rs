//! Persistence through the Rust API and the C ABI: round trips, atomic saves, bound paths,
//! failure paths that must change nothing, and one fixture per class of malformed archive
//! (built here byte by byte, so no Python is needed).

use std::ffi::{CStr, CString};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use flate2::write::DeflateEncoder;
use flate2::Compression;
use nvs::ffi;
use nvs::{ErrorKind, Metric, SearchOptions, VectorStore};
use nvs::{ReadOptions, WriteOptions};

#[path = "support/child.rs"]
mod child;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Deterministic pseudo-random rows (no zero rows).
fn rows(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n * dims)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 0.999
        })
        .collect()
}

fn ids(n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| if i == 1 { u64::MAX } else { i * 7_919 + (1 << 40) }).collect()
}

fn filled(n: usize, dims: usize, normalize: bool, seed: u64) -> VectorStore {
    let s = VectorStore::new(dims, normalize).unwrap();
    s.add(&rows(n, dims, seed), Some(&ids(n))).unwrap();
    s
}

fn contents(s: &VectorStore) -> (usize, bool, Vec<f32>, Vec<u64>) {
    let n = s.len();
    let mut v = vec![0.0; n * s.dimensions()];
    let mut i = vec![0; n];
    s.read_rows(0, n, Some(&mut v), Some(&mut i)).unwrap();
    (s.dimensions(), s.normalize(), v, i)
}

/// Same rows, bit for bit (a normalize store keeps the unit-length rows it loads).
fn assert_same(a: &VectorStore, b: &VectorStore) {
    let (da, na, va, ia) = contents(a);
    let (db, nb, vb, ib) = contents(b);
    assert_eq!((da, na, ia.len()), (db, nb, ib.len()));
    assert_eq!(ia, ib);
    for (x, y) in va.iter().zip(&vb) {
        assert_eq!(x.to_bits(), y.to_bits(), "{x} vs {y}");
    }
}

fn kind<T: std::fmt::Debug>(r: nvs::Result<T>) -> (ErrorKind, String) {
    let e = r.expect_err("expected an error");
    (e.kind, e.message)
}

fn open_bytes(bytes: &[u8]) -> nvs::Result<VectorStore> {
    VectorStore::open_bytes(bytes, ReadOptions::default())
}

/// Held by tests that change or depend on the working directory.
static CWD: Mutex<()> = Mutex::new(());

/// Run `f` with the working directory set to `dir`, restoring it afterwards.
fn in_dir(dir: &Path, f: impl FnOnce()) {
    let _guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let original = std::env::current_dir().unwrap();
    std::env::set_current_dir(dir).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::env::set_current_dir(original).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Files in `dir` (to check that no temporary file is left behind).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A `.npy` member: header (numpy layout, version 1.0) + data.
fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let fortran = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64_bytes(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// One zip member for [`zip_bytes`]; the size and CRC written can be overridden to lie.
#[derive(Clone)]
struct Entry {
    name: String,
    data: Vec<u8>,
    deflate: bool,
    declared_size: Option<u32>,
    crc: Option<u32>,
}

fn entry(name: &str, data: Vec<u8>) -> Entry {
    Entry { name: name.to_string(), data, deflate: false, declared_size: None, crc: None }
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// A minimal zip writer (local headers, central directory, end record), by hand.
fn zip_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let payload = if e.deflate {
            let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        let size = e.declared_size.unwrap_or(e.data.len() as u32);
        let method: u16 = if e.deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(&0x04034b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&payload);
        central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The five members of a valid archive of `n` rows, 4 dimensions, raw (normalize false).
fn valid_entries(n: usize) -> Vec<Entry> {
    let dims = 4;
    vec![
        entry("format_version.npy", npy("<i8", false, "()", &1i64.to_le_bytes())),
        entry("dimensions.npy", npy("<i8", false, "()", &(dims as i64).to_le_bytes())),
        entry("normalize.npy", npy("|b1", false, "()", &[0])),
        entry("vectors.npy", npy("<f4", false, &format!("({n}, {dims})"), &f32_bytes(&rows(n, dims, 3)))),
        entry("metadata.npy", npy("<u8", false, &format!("({n},)"), &u64_bytes(&ids(n)))),
    ]
}

fn with(mut entries: Vec<Entry>, name: &str, data: Vec<u8>) -> Vec<Entry> {
    let e = entries.iter_mut().find(|e| e.name == name).unwrap();
    e.data = data;
    entries
}

fn without(entries: Vec<Entry>, name: &str) -> Vec<Entry> {
    entries.into_iter().filter(|e| e.name != name).collect()
}

/// Through the C ABI: FORMAT with a message.
fn ffi_format(bytes: &[u8]) -> String {
    let mut out: *mut ffi::nvs_store = std::ptr::null_mut();
    // SAFETY: `bytes` is valid for its length; `out` is a valid out-pointer.
    let status = unsafe { ffi::nvs_store_open_bytes(bytes.as_ptr(), bytes.len(), 0, &mut out) };
    assert_eq!(status, ffi::nvs_status::Format);
    assert!(out.is_null());
    // SAFETY: a NUL-terminated thread-local string.
    let message = unsafe { CStr::from_ptr(ffi::nvs_last_error_message()) }.to_string_lossy().into_owned();
    assert!(!message.is_empty());
    message
}

/// The archive must be refused with FORMAT (Rust and C) and a message containing `needle`.
fn assert_format(bytes: &[u8], needle: &str) {
    let (k, message) = kind(open_bytes(bytes));
    assert_eq!(k, ErrorKind::Format, "{message}");
    assert!(message.contains(needle), "message {message:?} lacks {needle:?}");
    assert_eq!(ffi_format(bytes), message);
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trips_in_every_mode() {
    let dir = tmp();
    for normalize in [true, false] {
        for n in [0, 1, 37] {
            for (label, options) in [
                ("deflate", WriteOptions::default()),
                ("stored", WriteOptions { uncompressed: true, ..Default::default() }),
                ("pickled", WriteOptions { pickled_metadata: true, ..Default::default() }),
                ("both", WriteOptions { uncompressed: true, pickled_metadata: true }),
            ] {
                let s = filled(n, 5, normalize, n as u64 + 1);
                let path = dir.path().join(format!("{label}-{normalize}-{n}.npz"));
                s.save(Some(&path), options).unwrap();
                assert_eq!(s.file_path().as_deref(), Some(path.as_path()));
                let back = VectorStore::open(&path, ReadOptions::default()).unwrap();
                assert_same(&s, &back);
                assert_eq!(back.file_path().as_deref(), Some(path.as_path()));
                let from_bytes = open_bytes(&fs::read(&path).unwrap()).unwrap();
                assert_same(&s, &from_bytes);
                assert_eq!(from_bytes.file_path(), None);
                if n > 0 {
                    let q = rows(1, 5, 99);
                    for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
                        let a = s.search(metric, &q, &SearchOptions::default()).unwrap();
                        let b = back.search(metric, &q, &SearchOptions::default()).unwrap();
                        assert_eq!(
                            a.iter().map(|h| (h.index, h.id)).collect::<Vec<_>>(),
                            b.iter().map(|h| (h.index, h.id)).collect::<Vec<_>>()
                        );
                    }
                }
            }
        }
    }
    assert!(listing(dir.path()).iter().all(|n| n.ends_with(".npz")));
}

#[test]
fn stored_archives_are_larger_and_compressed_smaller() {
    let dir = tmp();
    // Highly regular data compresses; the flag must really switch compression off.
    let s = VectorStore::new(8, false).unwrap();
    s.add(&vec![1.0; 8 * 500], None).unwrap();
    let a = dir.path().join("a.npz");
    let b = dir.path().join("b.npz");
    s.save(Some(&a), WriteOptions::default()).unwrap();
    s.save(Some(&b), WriteOptions { uncompressed: true, ..Default::default() }).unwrap();
    let (ca, cb) = (fs::metadata(&a).unwrap().len(), fs::metadata(&b).unwrap().len());
    assert!(cb > 500 * 8 * 4 + 500 * 8, "stored file is {cb} bytes");
    assert!(ca < cb / 10, "deflated {ca} vs stored {cb}");
}

#[test]
fn save_to_bound_path_and_save_as() {
    let dir = tmp();
    let a = dir.path().join("a.npz");
    let s = filled(3, 4, true, 1);
    assert_eq!(kind(s.save(None, WriteOptions::default())).0, ErrorKind::NoBoundPath);
    assert_eq!(kind(s.reload(ReadOptions::default())).0, ErrorKind::NoBoundPath);
    s.save(Some(&a), WriteOptions::default()).unwrap();
    s.add(&rows(2, 4, 5), None).unwrap();
    s.save(None, WriteOptions::default()).unwrap();
    assert_eq!(VectorStore::open(&a, ReadOptions::default()).unwrap().len(), 5);

    // Save As to a place that cannot be written: binding and old file unchanged.
    let before = fs::read(&a).unwrap();
    let bad = dir.path().join("missing-folder").join("b.npz");
    let (k, message) = kind(s.save(Some(&bad), WriteOptions::default()));
    assert_eq!(k, ErrorKind::Io);
    assert!(message.contains(&*bad.to_string_lossy()), "{message}");
    assert_eq!(s.file_path().as_deref(), Some(a.as_path()));
    assert_eq!(fs::read(&a).unwrap(), before);

    // Save As that works binds the new path; later saves go there.
    let b = dir.path().join("b.npz");
    s.save(Some(&b), WriteOptions::default()).unwrap();
    assert_eq!(s.file_path().as_deref(), Some(b.as_path()));
    s.clear();
    s.save(None, WriteOptions::default()).unwrap();
    assert_eq!(VectorStore::open(&b, ReadOptions::default()).unwrap().len(), 0);
    assert_eq!(VectorStore::open(&a, ReadOptions::default()).unwrap().len(), 5);
}

#[test]
fn npz_is_appended_and_relative_paths_anchor_at_bind_time() {
    let _guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let original = std::env::current_dir().unwrap();
    let (one, two) = (tmp(), tmp());
    let one_path = one.path().canonicalize().unwrap();
    std::env::set_current_dir(&one_path).unwrap();
    let s = filled(2, 3, false, 1);
    let result = std::panic::catch_unwind(|| {
        s.save(Some(Path::new("data")), WriteOptions::default()).unwrap();
        assert_eq!(s.file_path().unwrap(), one_path.join("data.npz"));
        s.save(Some(Path::new("kept.npz")), WriteOptions::default()).unwrap();
        assert_eq!(s.file_path().unwrap(), one_path.join("kept.npz"));
        let opened = VectorStore::open("data", ReadOptions::default()).unwrap();
        assert_eq!(opened.file_path().unwrap(), one_path.join("data.npz"));
        std::env::set_current_dir(two.path()).unwrap();
        // The bound path stays in the first folder after the working directory changes.
        opened.add(&rows(1, 3, 8), None).unwrap();
        opened.save(None, WriteOptions::default()).unwrap();
        opened.reload(ReadOptions::default()).unwrap();
        assert_eq!(VectorStore::open(one_path.join("data.npz"), ReadOptions::default()).unwrap().len(), 3);
        assert!(listing(two.path()).is_empty());
        // The C ABI resolves the same way.
        let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
        let c = CString::new(one_path.join("data").to_string_lossy().into_owned()).unwrap();
        // SAFETY: valid NUL-terminated path and out-pointer.
        assert_eq!(unsafe { ffi::nvs_store_open(c.as_ptr(), &mut h) }, ffi::nvs_status::Ok);
        let mut buf = vec![0u8; 4096];
        let mut len = 0usize;
        // SAFETY: live handle, buffer of the given capacity.
        let st = unsafe { ffi::nvs_store_file_path(h, buf.as_mut_ptr().cast(), buf.len(), &mut len) };
        assert_eq!(st, ffi::nvs_status::Ok);
        assert_eq!(&buf[..len], one_path.join("data.npz").to_string_lossy().as_bytes());
        // SAFETY: handle from nvs_store_open.
        unsafe { ffi::nvs_store_free(h) };
    });
    std::env::set_current_dir(original).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn saving_keeps_permission_bits() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let path = dir.path().join("p.npz");
    let s = filled(2, 3, true, 1);
    s.save(Some(&path), WriteOptions::default()).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    s.save(None, WriteOptions::default()).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o640);
}

// ---------------------------------------------------------------------------------------------
// Failure paths

#[test]
fn unwritable_destinations_are_io_errors_that_change_nothing() {
    let dir = tmp();
    let s = filled(3, 4, false, 1);
    let bound = dir.path().join("bound.npz");
    s.save(Some(&bound), WriteOptions::default()).unwrap();
    let before = fs::read(&bound).unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let folder = dir.path().join("folder.npz");
    fs::create_dir(&folder).unwrap();
    for bad in [file.join("x.npz"), dir.path().join("no").join("such").join("x.npz"), folder.clone()] {
        let (k, message) = kind(s.save(Some(&bad), WriteOptions::default()));
        assert_eq!(k, ErrorKind::Io, "{message}");
        assert!(message.contains(&*bad.to_string_lossy()), "{message}");
        assert_eq!(s.file_path().as_deref(), Some(bound.as_path()));
        assert_eq!(fs::read(&bound).unwrap(), before);
    }
    assert!(folder.is_dir());
    assert_eq!(listing(dir.path()), vec!["bound.npz", "folder.npz", "plain-file"]);

    // Opening: missing file and a directory are Io with the path.
    let missing = dir.path().join("missing.npz");
    let (k, message) = kind(VectorStore::open(&missing, ReadOptions::default()));
    assert_eq!(k, ErrorKind::Io);
    assert!(message.contains(&*missing.to_string_lossy()));
    let (k, message) = kind(VectorStore::open(&folder, ReadOptions::default()));
    assert_eq!(k, ErrorKind::Io);
    assert!(message.contains("folder.npz"), "{message}");
}

#[test]
fn ffi_save_failure_keeps_binding_and_status_is_io() {
    let dir = tmp();
    let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    assert_eq!(unsafe { ffi::nvs_store_new(2, true, &mut h) }, ffi::nvs_status::Ok);
    let v = [1.0f32, 2.0, 3.0, 4.0];
    // SAFETY: live handle, 4 floats, NULL ids.
    assert_eq!(unsafe { ffi::nvs_store_add(h, v.as_ptr(), 4, std::ptr::null(), 0) }, ffi::nvs_status::Ok);
    let good = CString::new(dir.path().join("good").to_string_lossy().into_owned()).unwrap();
    let bad = CString::new(dir.path().join("nope/bad.npz").to_string_lossy().into_owned()).unwrap();
    // SAFETY: live handle and NUL-terminated paths throughout.
    unsafe {
        assert_eq!(ffi::nvs_store_save(h, std::ptr::null()), ffi::nvs_status::NoBoundPath);
        assert_eq!(ffi::nvs_store_save_with_flags(h, good.as_ptr(), 3), ffi::nvs_status::Ok);
        assert_eq!(ffi::nvs_store_save(h, bad.as_ptr()), ffi::nvs_status::Io);
        let message = CStr::from_ptr(ffi::nvs_last_error_message()).to_string_lossy().into_owned();
        assert!(message.contains("nope/bad.npz"), "{message}");
        let mut len = 0usize;
        assert_eq!(
            ffi::nvs_store_file_path(h, std::ptr::null_mut(), 0, &mut len),
            ffi::nvs_status::BufferTooSmall
        );
        assert_eq!(len, dir.path().join("good.npz").to_string_lossy().len());
        assert_eq!(ffi::nvs_store_reload(h), ffi::nvs_status::Ok);
        assert_eq!(ffi::nvs_store_len(h), 2);
        ffi::nvs_store_free(h);
    }
}

#[test]
fn reload_failure_leaves_the_store_unchanged() {
    let dir = tmp();
    let path = dir.path().join("r.npz");
    let s = filled(4, 3, true, 1);
    s.save(Some(&path), WriteOptions::default()).unwrap();
    let before = contents(&s);
    let check = |expected: ErrorKind| {
        let (k, message) = kind(s.reload(ReadOptions::default()));
        assert_eq!(k, expected, "{message}");
        assert_eq!(contents(&s), before);
        assert_eq!(s.file_path().as_deref(), Some(path.as_path()));
    };
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    check(ErrorKind::Format);
    filled(2, 5, true, 1).save(Some(&path), WriteOptions::default()).unwrap();
    check(ErrorKind::DimensionMismatch);
    filled(2, 3, false, 1).save(Some(&path), WriteOptions::default()).unwrap();
    check(ErrorKind::InvalidArgument);
    fs::remove_file(&path).unwrap();
    check(ErrorKind::Io);
    // And a good file reloads.
    filled(6, 3, true, 2).save(Some(&path), WriteOptions::default()).unwrap();
    s.reload(ReadOptions::default()).unwrap();
    assert_eq!(s.len(), 6);
}

#[test]
fn concurrent_readers_never_see_a_partial_file() {
    let dir = tmp();
    let path = dir.path().join("c.npz");
    let small = filled(10, 16, true, 1);
    let large = filled(3000, 16, true, 2);
    small.save(Some(&path), WriteOptions::default()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, path) = (Arc::clone(&done), path.clone());
        std::thread::spawn(move || {
            let mut opens = 0;
            while !done.load(Ordering::Acquire) || opens < 20 {
                let s =
                    VectorStore::open(&path, ReadOptions::default()).expect("a reader saw a broken archive");
                assert!(s.len() == 10 || s.len() == 3000, "{} rows", s.len());
                assert_eq!(s.get(1).unwrap().1, u64::MAX);
                opens += 1;
            }
            opens
        })
    };
    for i in 0..40 {
        let (s, options) = if i % 2 == 0 {
            (&large, WriteOptions::default())
        } else {
            (&small, WriteOptions { uncompressed: true, ..Default::default() })
        };
        s.save(Some(&path), options).unwrap();
    }
    done.store(true, Ordering::Release);
    assert!(reader.join().unwrap() >= 20);
    assert_eq!(listing(dir.path()), vec!["c.npz"]);
}

/// Disk full, simulated with RLIMIT_FSIZE (writes past the limit fail with EFBIG) in a child
/// process so the limit does not touch other tests.
#[test]
fn save_failure_on_a_full_disk_keeps_the_old_file() {
    let dir = tmp();
    let path = dir.path().join("full.npz");
    filled(10, 8, false, 1).save(Some(&path), WriteOptions::default()).unwrap();
    let before = fs::read(&path).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["disk_full_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("NVS_PERSIST_DISK_FULL_FILE", &path)
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(listing(dir.path()), vec!["full.npz"]);
}

#[test]
#[ignore = "run by save_failure_on_a_full_disk_keeps_the_old_file in a child process"]
fn disk_full_child() {
    let path = PathBuf::from(std::env::var_os("NVS_PERSIST_DISK_FULL_FILE").expect("run by the parent test"));
    let s = VectorStore::open(&path, ReadOptions::default()).unwrap();
    s.add(&rows(20_000, 8, 3), None).unwrap();
    let limit = libc::rlimit { rlim_cur: 64 * 1024, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: plain libc calls on a child process that does nothing else; SIGXFSZ is ignored so
    // an oversized write fails with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    for options in [WriteOptions::default(), WriteOptions { uncompressed: true, ..Default::default() }] {
        let (k, message) = kind(s.save(None, options));
        assert_eq!(k, ErrorKind::Io, "{message}");
        assert!(message.contains(&*path.to_string_lossy()), "{message}");
        assert_eq!(s.file_path().as_deref(), Some(path.as_path()));
    }
    // Save As to a new file in the same folder fails too and does not bind.
    let other = path.with_file_name("other.npz");
    assert_eq!(kind(s.save(Some(&other), WriteOptions::default())).0, ErrorKind::Io);
    assert_eq!(s.file_path().as_deref(), Some(path.as_path()));
    assert!(!other.exists());
}

// ---------------------------------------------------------------------------------------------
// Path resolution

/// What numpy-vector-store 0.7.0 resolves each relative path to (its `pathlib` resolution, run
/// with Python 3.11), relative to the working directory; `None`: refused as empty.
const RESOLVED: [(&str, Option<&str>); 18] = [
    ("dir/", Some("dir.npz")),
    ("dir", Some("dir.npz")),
    ("x/", Some("x.npz")),
    ("a.npz/", Some("a.npz")),
    ("x.npz//", Some("x.npz")),
    ("", None),
    (".", Some("..npz")),
    ("./", Some("..npz")),
    ("..", Some("...npz")),
    ("a//b", Some("a/b.npz")),
    ("./a", Some("a.npz")),
    ("a/./b", Some("a/b.npz")),
    ("a/.", Some("a.npz")),
    ("a/../b", Some("a/../b.npz")),
    (".npz", Some(".npz.npz")),
    ("a.NPZ", Some("a.NPZ.npz")),
    ("a.", Some("a..npz")),
    ("a.npz.", Some("a.npz..npz")),
];

#[test]
fn paths_resolve_like_the_reference() {
    let dir = tmp();
    let cwd = dir.path().canonicalize().unwrap();
    in_dir(&cwd, || {
        for (input, want) in RESOLVED {
            let got = nvs::npz::resolve_path(Path::new(input));
            match want {
                Some(want) => assert_eq!(got.unwrap(), cwd.join(want), "{input:?}"),
                None => assert_eq!(kind(got).0, ErrorKind::InvalidArgument, "{input:?}"),
            }
        }
    });
    for (input, want) in
        [("/", "/.npz"), ("///a", "/a.npz"), ("/x/y/", "/x/y.npz"), ("/x/./y.npz/", "/x/y.npz")]
    {
        assert_eq!(nvs::npz::resolve_path(Path::new(input)).unwrap(), Path::new(want), "{input:?}");
    }
}

#[test]
fn paths_longer_than_the_bound_are_refused_before_any_file_is_touched() {
    let max = nvs::npz::MAX_PATH_BYTES;
    // Absolute, so the working directory does not count; the name already ends in ".npz".
    let at = |len: usize| format!("/{}.npz", "d/".repeat((len - 6) / 2) + &"x".repeat((len - 6) % 2 + 1));
    assert_eq!(at(max).len(), max);
    assert_eq!(nvs::npz::resolve_path(Path::new(&at(max))).unwrap().as_os_str().len(), max);
    let (k, message) = kind(nvs::npz::resolve_path(Path::new(&at(max + 1))));
    assert_eq!(k, ErrorKind::InvalidArgument);
    assert!(message.contains(&format!("at most {max} bytes")), "{message}");
    let s = VectorStore::new(2, true).unwrap();
    s.add(&[1.0, 0.0], None).unwrap();
    let (k, _) = kind(s.save(Some(Path::new(&at(max + 1))), WriteOptions::default()));
    assert_eq!(k, ErrorKind::InvalidArgument);
    assert_eq!(s.file_path(), None, "a refused save binds nothing");
    let (k, _) = kind(VectorStore::open(at(max + 2), ReadOptions::default()));
    assert_eq!(k, ErrorKind::InvalidArgument);
}

#[test]
fn a_trailing_separator_names_the_file_not_a_hidden_file_inside() {
    let dir = tmp();
    let cwd = dir.path().canonicalize().unwrap();
    fs::create_dir(cwd.join("dir")).unwrap();
    fs::create_dir(cwd.join("a.npz")).unwrap();
    let s = filled(2, 3, false, 1);
    in_dir(&cwd, || {
        s.save(Some(Path::new("dir/")), WriteOptions::default()).unwrap();
        assert_eq!(s.file_path().unwrap(), cwd.join("dir.npz"));
        assert!(listing(&cwd.join("dir")).is_empty());
        let opened = VectorStore::open("dir/", ReadOptions::default()).unwrap();
        assert_eq!(opened.file_path().unwrap(), cwd.join("dir.npz"));
        assert_same(&s, &opened);

        // No folder `x` needed: "x/" is x.npz.
        s.save(Some(Path::new("x/")), WriteOptions::default()).unwrap();
        assert_eq!(s.file_path().unwrap(), cwd.join("x.npz"));

        // "a.npz/" is a.npz, here a folder: refused both ways, nothing changes.
        let (k, message) = kind(s.save(Some(Path::new("a.npz/")), WriteOptions::default()));
        assert_eq!(k, ErrorKind::Io);
        assert!(message.contains("it is a directory, not a regular file"), "{message}");
        assert_eq!(s.file_path().unwrap(), cwd.join("x.npz"));
        let (k, message) = kind(VectorStore::open("a.npz/", ReadOptions::default()));
        assert_eq!(k, ErrorKind::Io);
        assert!(message.contains("it is a directory, not a regular file"), "{message}");

        assert_eq!(kind(s.save(Some(Path::new("")), WriteOptions::default())).0, ErrorKind::InvalidArgument);
        assert_eq!(kind(VectorStore::open("", ReadOptions::default())).0, ErrorKind::InvalidArgument);

        // The C ABI resolves the same way.
        let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
        let (dir_slash, y_slash) = (CString::new("dir/").unwrap(), CString::new("y/").unwrap());
        // SAFETY: NUL-terminated paths, valid out-pointer, live handle.
        unsafe {
            assert_eq!(ffi::nvs_store_open(dir_slash.as_ptr(), &mut h), ffi::nvs_status::Ok);
            assert_eq!(ffi::nvs_store_save(h, y_slash.as_ptr()), ffi::nvs_status::Ok);
            let mut buf = vec![0u8; 4096];
            let mut len = 0usize;
            let st = ffi::nvs_store_file_path(h, buf.as_mut_ptr().cast(), buf.len(), &mut len);
            assert_eq!(st, ffi::nvs_status::Ok);
            assert_eq!(&buf[..len], cwd.join("y.npz").to_string_lossy().as_bytes());
            ffi::nvs_store_free(h);
        }
    });
    assert_eq!(listing(&cwd), vec!["a.npz", "dir", "dir.npz", "x.npz", "y.npz"]);
}

// ---------------------------------------------------------------------------------------------
// Special files: FIFOs, devices, sockets, directories and dangling links are refused without
// blocking; saves follow the reference for symbolic links.

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Something that is not a regular file, made at a path: (what the message calls it, maker).
type Special = (&'static str, fn(&Path));

const SPECIALS: [Special; 8] = [
    ("it is a FIFO, not a regular file", |p| mkfifo(p)),
    ("it is a directory, not a regular file", |p| fs::create_dir(p).unwrap()),
    ("it is a character device, not a regular file", |p| symlink("/dev/zero", p)),
    ("it is a character device, not a regular file", |p| symlink("/dev/null", p)),
    ("it is a socket, not a regular file", |p| drop(std::os::unix::net::UnixListener::bind(p).unwrap())),
    ("it is a symbolic link to a missing file", |p| symlink(p.with_extension("missing"), p)),
    ("it is a FIFO, not a regular file", |p| {
        let target = p.with_extension("fifo");
        mkfifo(&target);
        symlink(target, p);
    }),
    ("it is a directory, not a regular file", |p| symlink(p.parent().unwrap(), p)),
];

/// Remove what a [`Special`] made.
fn unmake(path: &Path) {
    if fs::symlink_metadata(path).unwrap().is_dir() {
        fs::remove_dir(path).unwrap();
    } else {
        fs::remove_file(path).unwrap();
    }
    let _ = fs::remove_file(path.with_extension("fifo"));
}

#[test]
fn open_refuses_special_files_without_blocking() {
    let dir = tmp();
    for (i, (what, make)) in SPECIALS.iter().enumerate() {
        let path = dir.path().join(format!("special-{i}.npz"));
        make(&path);
        let (k, message) = kind(VectorStore::open(&path, ReadOptions::default()));
        assert_eq!(k, ErrorKind::Io, "{message}");
        assert!(message.contains(*what) && message.contains(&*path.to_string_lossy()), "{message}");
        let c = CString::new(path.to_string_lossy().into_owned()).unwrap();
        let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
        // SAFETY: NUL-terminated path, valid out-pointer.
        assert_eq!(unsafe { ffi::nvs_store_open(c.as_ptr(), &mut h) }, ffi::nvs_status::Io);
        assert!(h.is_null());
    }
    // Devices by their own names (read_file takes the path as given).
    for device in ["/dev/zero", "/dev/null"] {
        let (k, message) = kind(nvs::npz::read_file(Path::new(device), ReadOptions::default()));
        assert_eq!(k, ErrorKind::Io);
        assert!(message.contains("it is a character device, not a regular file"), "{message}");
    }
}

#[test]
fn reload_refuses_special_files_and_changes_nothing() {
    let dir = tmp();
    let path = dir.path().join("r.npz");
    let s = filled(4, 3, true, 1);
    s.save(Some(&path), WriteOptions::default()).unwrap();
    let before = contents(&s);
    let good = fs::read(&path).unwrap();
    for (what, make) in SPECIALS {
        fs::remove_file(&path).unwrap();
        make(&path);
        let (k, message) = kind(s.reload(ReadOptions::default()));
        assert_eq!(k, ErrorKind::Io, "{message}");
        assert!(message.contains(what), "{message}");
        assert_eq!(contents(&s), before);
        assert_eq!(s.file_path().as_deref(), Some(path.as_path()));
        unmake(&path);
        fs::write(&path, &good).unwrap();
    }
    // Through the C ABI: a store bound to `path`, which then turns into a FIFO.
    let c = CString::new(path.to_string_lossy().into_owned()).unwrap();
    let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
    // SAFETY: NUL-terminated path, valid out-pointer, live handle.
    unsafe {
        assert_eq!(ffi::nvs_store_open(c.as_ptr(), &mut h), ffi::nvs_status::Ok);
        fs::remove_file(&path).unwrap();
        mkfifo(&path);
        assert_eq!(ffi::nvs_store_reload(h), ffi::nvs_status::Io);
        let message = CStr::from_ptr(ffi::nvs_last_error_message()).to_string_lossy().into_owned();
        assert!(message.contains("it is a FIFO, not a regular file"), "{message}");
        assert_eq!(ffi::nvs_store_len(h), 4);
        ffi::nvs_store_free(h);
    }
    fs::remove_file(&path).unwrap();
    filled(6, 3, true, 2).save(Some(&path), WriteOptions::default()).unwrap();
    s.reload(ReadOptions::default()).unwrap();
    assert_eq!(s.len(), 6);
}

#[test]
fn save_refuses_special_destinations_and_replaces_symbolic_links_like_the_reference() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tmp();
    let bound = dir.path().join("bound.npz");
    let s = filled(3, 4, false, 1);
    s.save(Some(&bound), WriteOptions::default()).unwrap();
    let before = fs::read(&bound).unwrap();
    for (i, (what, make)) in SPECIALS.iter().enumerate() {
        let dest = dir.path().join(format!("special-{i}.npz"));
        make(&dest);
        let kind_before = fs::symlink_metadata(&dest).unwrap().file_type();
        let names = listing(dir.path());
        let result = s.save(Some(&dest), WriteOptions::default());
        if what.contains("missing") {
            // A dangling link is replaced by the archive, as numpy-vector-store does (its
            // os.replace renames over the link); the missing target is not created.
            result.unwrap();
            assert!(fs::symlink_metadata(&dest).unwrap().is_file());
            assert!(!dest.with_extension("missing").exists());
            assert_eq!(s.file_path().as_deref(), Some(dest.as_path()));
            s.save(Some(&bound), WriteOptions::default()).unwrap();
            continue;
        }
        let (k, message) = kind(result);
        assert_eq!(k, ErrorKind::Io, "{message}");
        assert!(message.contains(*what) && message.contains(&*dest.to_string_lossy()), "{message}");
        assert_eq!(fs::symlink_metadata(&dest).unwrap().file_type(), kind_before);
        assert_eq!(s.file_path().as_deref(), Some(bound.as_path()));
        assert_eq!(fs::read(&bound).unwrap(), before);
        assert_eq!(listing(dir.path()), names);
    }
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());

    // A link to a regular file: the link is replaced by a regular file with the target's
    // permission bits, and the target keeps its old contents (numpy-vector-store does the same).
    let target = dir.path().join("target.npz");
    fs::write(&target, b"old").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.npz");
    symlink(&target, &link);
    s.save(Some(&link), WriteOptions::default()).unwrap();
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(fs::read(&target).unwrap(), b"old");
    assert_eq!(VectorStore::open(&link, ReadOptions::default()).unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// The library never writes to stdout or stderr

/// Writes past `bytes` then fail with EFBIG (SIGXFSZ is ignored so they do not kill the process).
fn set_file_size_limit(bytes: libc::rlim_t) {
    // SAFETY: plain libc calls in a child process that runs one test.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// Failing saves (full disk at many points, unwritable places) and failing opens and reloads
/// (corrupt, truncated, special files) leave fds 1 and 2 untouched. The zip writer prints when
/// its drop-time finish fails; the library must not let it. Runs in a child process.
#[test]
fn failures_print_nothing() {
    let dir = tmp();
    child::run_child_test("silent_failures_child", &[("NVS_PERSIST_SILENT_DIR", dir.path())]);
}

#[test]
#[ignore = "run by failures_print_nothing in a child process"]
fn silent_failures_child() {
    let dir = PathBuf::from(std::env::var_os("NVS_PERSIST_SILENT_DIR").expect("run by the parent test"));
    let kept = dir.join("kept.npz");
    let small = filled(10, 8, false, 1);
    small.save(Some(&kept), WriteOptions::default()).unwrap();
    let archive = fs::read(&kept).unwrap();
    // Past the 1 MiB write buffer, so the disk fills in the middle of a member's data too.
    let big = filled(40_000, 8, false, 2);
    let modes = [
        WriteOptions::default(),
        WriteOptions { uncompressed: true, ..Default::default() },
        WriteOptions { pickled_metadata: true, ..Default::default() },
    ];
    let sizes: Vec<u64> = modes
        .iter()
        .map(|&options| {
            let p = dir.join("size.npz");
            big.save(Some(&p), options).unwrap();
            fs::metadata(&p).unwrap().len()
        })
        .collect();
    fs::remove_file(dir.join("size.npz")).unwrap();

    let mut broken = Vec::new();
    for k in 0..16 {
        broken.push(archive[..archive.len() * k / 16].to_vec());
    }
    broken.push(archive[..archive.len() - 1].to_vec());
    for at in [0, archive.len() / 2, archive.len() - 22] {
        let mut b = archive.clone();
        b[at] ^= 0x5a;
        broken.push(b);
    }
    broken.push(b"not a zip file at all".to_vec());
    let broken_paths: Vec<PathBuf> = broken
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let p = dir.join(format!("broken-{i}.npz"));
            fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let specials: Vec<(&str, PathBuf)> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, (what, make))| {
            let p = dir.join(format!("special-{i}.npz"));
            make(&p);
            (*what, p)
        })
        .collect();
    let file = dir.join("plain-file");
    fs::write(&file, b"x").unwrap();
    let bound = VectorStore::open(&kept, ReadOptions::default()).unwrap();

    let printed = child::captured(|| {
        // A full disk at many points of a save, in every mode.
        let dest = dir.join("big.npz");
        for (options, size) in modes.iter().zip(&sizes) {
            for limit in [0, 1, 100, 4096, size / 4, size / 2, size * 3 / 4, size - 100, size - 1] {
                set_file_size_limit(limit);
                let result = big.save(Some(&dest), *options);
                set_file_size_limit(libc::RLIM_INFINITY);
                let (k, message) = kind(result);
                assert_eq!(k, ErrorKind::Io, "limit {limit}: {message}");
                assert!(!dest.exists());
            }
        }
        // Places that cannot be written.
        let refused = specials.iter().filter(|(what, _)| !what.contains("missing")).map(|(_, p)| p.clone());
        let places = [dir.join("no-such-folder").join("x.npz"), file.join("x.npz")];
        for dest in places.into_iter().chain(refused) {
            let (k, message) = kind(small.save(Some(&dest), WriteOptions::default()));
            assert_eq!(k, ErrorKind::Io, "{message}");
        }
        // Opens and reloads of broken archives and special files.
        for p in broken_paths.iter().chain(specials.iter().map(|(_, p)| p)) {
            let k = kind(VectorStore::open(p, ReadOptions::default())).0;
            assert!(k == ErrorKind::Format || k == ErrorKind::Io, "{}: {k:?}", p.display());
            let c = CString::new(p.to_string_lossy().into_owned()).unwrap();
            let mut h: *mut ffi::nvs_store = std::ptr::null_mut();
            // SAFETY: NUL-terminated path, valid out-pointer.
            assert_ne!(unsafe { ffi::nvs_store_open(c.as_ptr(), &mut h) }, ffi::nvs_status::Ok);
            fs::remove_file(&kept).unwrap();
            symlink(p, &kept);
            assert!(bound.reload(ReadOptions::default()).is_err(), "{}", p.display());
            fs::remove_file(&kept).unwrap();
            fs::write(&kept, &archive).unwrap();
        }
        assert_eq!(bound.len(), 10);
    });
    assert!(printed.is_empty(), "the library printed: {}", String::from_utf8_lossy(&printed));
}

// ---------------------------------------------------------------------------------------------
// Malformed archives: one fixture per class, each FORMAT (never a panic) in Rust and C.

#[test]
fn the_hand_built_valid_archive_opens() {
    for deflate in [false, true] {
        let entries: Vec<Entry> = valid_entries(6).into_iter().map(|e| Entry { deflate, ..e }).collect();
        let s = open_bytes(&zip_bytes(&entries)).unwrap();
        assert_eq!((s.dimensions(), s.normalize(), s.len()), (4, false, 6));
        assert_eq!(s.get(5).unwrap(), (rows(6, 4, 3)[20..24].to_vec(), ids(6)[5]));
    }
}

#[test]
fn member_set_problems() {
    for name in ["dimensions.npy", "normalize.npy", "vectors.npy", "metadata.npy"] {
        assert_format(&zip_bytes(&without(valid_entries(2), name)), &format!("missing members: {name}"));
    }
    assert_format(
        &zip_bytes(&without(valid_entries(2), "format_version.npy")),
        "missing member format_version.npy",
    );
    let mut extra = valid_entries(2);
    extra.push(entry("extra.npy", npy("<i8", false, "()", &[0; 8])));
    assert_format(&zip_bytes(&extra), "unexpected members: \"extra.npy\"");
    // A member must be named `<field>.npy`.
    let mut renamed = valid_entries(2);
    renamed[3].name = "vectors".into();
    assert_format(&zip_bytes(&renamed), "missing members: vectors.npy");
    let mut dup = valid_entries(2);
    dup.push(dup[3].clone());
    assert_format(&zip_bytes(&dup), "duplicate");
    assert_format(b"", "not a valid .npz");
    assert_format(b"PK\x03\x04 not really a zip", "not a valid .npz");
    assert_format(&[0u8; 4096], "not a valid .npz");
}

#[test]
fn scalar_problems() {
    let v = |data| zip_bytes(&with(valid_entries(2), "format_version.npy", data));
    assert_format(&v(npy("<i8", false, "()", &2i64.to_le_bytes())), "unsupported format version 2");
    assert_format(&v(npy("<i8", false, "()", &(-1i64).to_le_bytes())), "unsupported format version -1");
    assert_format(
        &v(npy("<f8", false, "()", &1f64.to_le_bytes())),
        "format_version must be a scalar integer",
    );
    assert_format(
        &v(npy("<i8", false, "(1,)", &1i64.to_le_bytes())),
        "format_version must be a scalar integer",
    );
    // Any integer type is accepted, like numpy-vector-store does.
    assert!(open_bytes(&v(npy(">u2", false, "()", &1u16.to_be_bytes()))).is_ok());
    assert!(open_bytes(&v(npy("|i1", false, "()", &[1]))).is_ok());

    let d = |data| zip_bytes(&with(valid_entries(2), "dimensions.npy", data));
    assert_format(
        &d(npy("<i8", false, "()", &0i64.to_le_bytes())),
        "dimensions must be greater than 0, got 0",
    );
    assert_format(
        &d(npy("<i8", false, "()", &(-4i64).to_le_bytes())),
        "dimensions must be greater than 0, got -4",
    );
    assert_format(&d(npy("<i8", false, "(1,)", &4i64.to_le_bytes())), "dimensions must be a scalar integer");
    assert_format(&d(npy("|b1", false, "()", &[1])), "dimensions must be a scalar integer");
    assert_format(&d(npy("<i8", false, "()", &5i64.to_le_bytes())), "vectors are 4 wide");
    assert_format(&d(npy("<i8", false, "()", &i64::MAX.to_le_bytes())), "vectors are 4 wide");

    let n = |data| zip_bytes(&with(valid_entries(2), "normalize.npy", data));
    assert_format(&n(npy("<i8", false, "()", &1i64.to_le_bytes())), "normalize must be a scalar boolean");
    assert_format(&n(npy("|b1", false, "(1,)", &[1])), "normalize must be a scalar boolean");
}

#[test]
fn vectors_problems() {
    let v = |descr: &str, shape: &str, data: Vec<u8>| {
        zip_bytes(&with(valid_entries(2), "vectors.npy", npy(descr, false, shape, &data)))
    };
    assert_format(&v("<f8", "(2, 4)", vec![0; 64]), "vectors must be float32");
    assert_format(&v("<f4", "(8,)", f32_bytes(&rows(2, 4, 3))), "vectors must be a 2-D array");
    assert_format(&v("<f4", "(2, 2, 2)", f32_bytes(&rows(2, 4, 3))), "vectors must be a 2-D array");
    assert_format(&v("<f4", "(4, 2)", f32_bytes(&rows(2, 4, 3))), "vectors are 2 wide");
    assert_format(
        &v("<f4", "(2, 4)", f32_bytes(&rows(2, 4, 3))[..30].to_vec()),
        "shape (2, 4) (32 data bytes)",
    );
    // A header that claims 10^12 rows in a small file.
    assert_format(&v("<f4", "(1000000000000, 4)", f32_bytes(&rows(2, 4, 3))), "(1000000000000, 4)");
    assert_format(&v("<f4", "(99999999999999999999, 4)", vec![]), "expected non-negative 64-bit integers");
    assert_format(
        &v("<f4", "(999999999999999999999999999999999999999999, 4)", vec![]),
        "unreadable .npy header",
    );
    assert_format(&v("<f4", "(4611686018427387904, 4)", vec![]), "too large");
    // Non-finite values and zero rows are the store's rules, reported as FORMAT.
    let mut nan = rows(2, 4, 3);
    nan[5] = f32::NAN;
    assert_format(&v("<f4", "(2, 4)", f32_bytes(&nan)), "non-finite");
    let mut zero = valid_entries(2);
    zero[2].data = npy("|b1", false, "()", &[1]);
    zero[3].data = npy("<f4", false, "(2, 4)", &f32_bytes(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
    assert_format(&zip_bytes(&zero), "zero norm");
    let mut zero_raw = valid_entries(2);
    zero_raw[3].data = npy("<f4", false, "(2, 4)", &[0; 32]);
    assert!(open_bytes(&zip_bytes(&zero_raw)).is_ok(), "a raw store keeps zero rows");
}

#[test]
fn vectors_in_fortran_order_or_big_endian_are_read_correctly() {
    let want = rows(3, 4, 3);
    let mut column_major = Vec::new();
    for c in 0..4 {
        for r in 0..3 {
            column_major.push(want[r * 4 + c]);
        }
    }
    let mut e = valid_entries(3);
    e[3].data = npy("<f4", true, "(3, 4)", &f32_bytes(&column_major));
    let s = open_bytes(&zip_bytes(&e)).unwrap();
    assert_eq!(contents(&s).2, want);
    let big: Vec<u8> = want.iter().flat_map(|x| x.to_be_bytes()).collect();
    e[3].data = npy(">f4", false, "(3, 4)", &big);
    assert_eq!(contents(&open_bytes(&zip_bytes(&e)).unwrap()).2, want);
}

#[test]
fn metadata_problems() {
    let m = |descr: &str, shape: &str, data: Vec<u8>| {
        zip_bytes(&with(valid_entries(2), "metadata.npy", npy(descr, false, shape, &data)))
    };
    assert_format(&m("<u8", "(3,)", u64_bytes(&[1, 2, 3])), "metadata has 3 entries but vectors have 2 rows");
    assert_format(&m("<u8", "(1,)", u64_bytes(&[1])), "metadata has 1 entries");
    assert_format(&m("<u8", "(2, 1)", u64_bytes(&[1, 2])), "metadata must be a 1-D array");
    assert_format(&m("<u8", "()", u64_bytes(&[1])), "metadata must be a 1-D array");
    // Other integer types are ids when they are non-negative.
    let s = open_bytes(&m("<i8", "(2,)", [5i64, 6].iter().flat_map(|x| x.to_le_bytes()).collect())).unwrap();
    assert_eq!(contents(&s).3, vec![5, 6]);
    let s = open_bytes(&m(">u4", "(2,)", [7u32, 8].iter().flat_map(|x| x.to_be_bytes()).collect())).unwrap();
    assert_eq!(contents(&s).3, vec![7, 8]);
    // Integers outside the uint64 range: FORMAT naming the row, even with row-index metadata
    // (replacing real ids by row indexes would lose them silently).
    let row_index = ReadOptions { row_index_metadata: true, ..Default::default() };
    let negative = m("<i8", "(2,)", [5i64, -6].iter().flat_map(|x| x.to_le_bytes()).collect());
    assert_format(&negative, "row 1 holds the integer -6");
    assert_eq!(kind(VectorStore::open_bytes(&negative, row_index)).0, ErrorKind::Format);
    // Not integers at all: FORMAT, unless row-index metadata is asked for.
    for bytes in [
        m("<f8", "(2,)", [5f64, 6.0].iter().flat_map(|x| x.to_le_bytes()).collect()),
        m("|b1", "(2,)", vec![1, 0]),
        m("<U3", "(2,)", vec![0; 24]),
    ] {
        assert_format(
            &bytes,
            "metadata must be integers in the uint64 range; open with row-index metadata to ignore it",
        );
        let s = VectorStore::open_bytes(&bytes, row_index).unwrap();
        assert_eq!(contents(&s).3, vec![0, 1]);
    }
    // Length is still checked with row-index metadata.
    assert_eq!(kind(VectorStore::open_bytes(&m("<f8", "(3,)", vec![0; 24]), row_index)).0, ErrorKind::Format);
}

/// `np.save` of `np.array([{'a': 1}, 'x'], dtype=object)` and of `[0, 255, 2**64 - 1]`.
const DICT_PICKLE: &str = "80049597000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b02859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94287d948c0161944b01738c017894657494622e";
const INT_PICKLE: &str = "80049599000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b03859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94284b004bff8a09ffffffffffffffff00657494622e";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn pickled_metadata() {
    let ints = zip_bytes(&with(valid_entries(3), "metadata.npy", npy("|O", false, "(3,)", &hex(INT_PICKLE))));
    assert_eq!(contents(&open_bytes(&ints).unwrap()).3, vec![0, 255, u64::MAX]);
    let dicts =
        zip_bytes(&with(valid_entries(2), "metadata.npy", npy("|O", false, "(2,)", &hex(DICT_PICKLE))));
    assert_format(
        &dicts,
        "metadata must be integers in the uint64 range; open with row-index metadata to ignore it",
    );
    let s = VectorStore::open_bytes(&dicts, ReadOptions { row_index_metadata: true, ..Default::default() })
        .unwrap();
    assert_eq!(contents(&s).3, vec![0, 1]);
    // A pickle that cannot be parsed at all: row indexes with the flag, FORMAT without.
    let junk = zip_bytes(&with(
        valid_entries(2),
        "metadata.npy",
        npy("|O", false, "(2,)", b"\x80\x04cos\nsystem\n."),
    ));
    assert_format(&junk, "os.system");
    assert_eq!(
        contents(
            &VectorStore::open_bytes(&junk, ReadOptions { row_index_metadata: true, ..Default::default() })
                .unwrap()
        )
        .3,
        vec![0, 1]
    );
    // Three pickled ints for two rows.
    let short =
        zip_bytes(&with(valid_entries(2), "metadata.npy", npy("|O", false, "(2,)", &hex(INT_PICKLE))));
    assert_format(&short, "pickled array of 3 integers");
}

#[test]
fn absurd_header_lengths_and_bad_magic() {
    let mut huge = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    huge.extend_from_slice(&[b' '; 100]);
    assert_format(&zip_bytes(&with(valid_entries(2), "vectors.npy", huge)), "allowed");
    let mut long = b"\x93NUMPY\x01\x00\xf0\x00".to_vec();
    long.extend_from_slice(b"{}");
    assert_format(&zip_bytes(&with(valid_entries(2), "vectors.npy", long)), "holds only");
    assert_format(
        &zip_bytes(&with(valid_entries(2), "vectors.npy", b"not numpy at all".to_vec())),
        "bad magic",
    );
    assert_format(
        &zip_bytes(&with(valid_entries(2), "vectors.npy", b"\x93NUMPY\x09\x00\x00\x00".to_vec())),
        "version 9.0",
    );
}

#[test]
fn zip_bombs_and_lying_sizes() {
    let header = npy("<f4", false, "(2, 4)", &[]);
    let mut bomb = header.clone();
    bomb.resize(header.len() + 64 * 1024 * 1024, 0);
    // Honest zip sizes, but 64 MiB of data for a (2, 4) shape.
    let mut e = valid_entries(2);
    e[3] = Entry { deflate: true, ..entry("vectors.npy", bomb.clone()) };
    assert_format(&zip_bytes(&e), "has shape (2, 4) (32 data bytes)");
    // The zip entry lies that it is small: reading stops one byte past the shape.
    e[3].declared_size = Some((header.len() + 32) as u32);
    e[3].crc = Some(crc32(&bomb[..header.len() + 32]));
    assert_format(&zip_bytes(&e), "vectors.npy");
    // The zip entry claims ~4 GB from a few compressed bytes.
    let mut claim = valid_entries(2);
    claim[3] = Entry {
        deflate: true,
        declared_size: Some(u32::MAX - 1),
        ..entry("vectors.npy", bomb[..4096].to_vec())
    };
    assert_format(&zip_bytes(&claim), "more than its");
    // A stored member whose sizes disagree.
    let mut stored = valid_entries(2);
    stored[3].declared_size = Some(10_000);
    assert_format(&zip_bytes(&stored), "vectors.npy");
}

#[test]
fn truncated_at_every_offset() {
    for deflate in [false, true] {
        let entries: Vec<Entry> = valid_entries(3).into_iter().map(|e| Entry { deflate, ..e }).collect();
        let bytes = zip_bytes(&entries);
        for cut in 0..bytes.len() {
            let (k, message) = kind(open_bytes(&bytes[..cut]));
            assert_eq!(k, ErrorKind::Format, "cut at {cut}: {message}");
        }
    }
    // Archives we write, cut.
    let dir = tmp();
    let path = dir.path().join("t.npz");
    filled(50, 8, true, 1).save(Some(&path), WriteOptions::default()).unwrap();
    let bytes = fs::read(&path).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        assert_eq!(kind(open_bytes(&bytes[..cut])).0, ErrorKind::Format, "cut at {cut}");
        if cut % 301 == 0 {
            ffi_format(&bytes[..cut]);
        }
    }
}

#[test]
fn flipped_bytes() {
    // In member data the CRC catches every flip.
    let entries = valid_entries(3);
    let bytes = zip_bytes(&entries);
    let vectors = &entries[3].data;
    let start = bytes.windows(vectors.len()).position(|w| w == &vectors[..]).unwrap();
    for i in start + 128..start + vectors.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x10;
        assert_format(&b, "CRC");
    }
    // Anywhere else, in our own compressed and stored archives: an error or an intact store,
    // never a panic.
    let dir = tmp();
    for (i, options) in [WriteOptions::default(), WriteOptions { uncompressed: true, pickled_metadata: true }]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("f{i}.npz"));
        let s = filled(20, 4, true, 1);
        s.save(Some(&path), options).unwrap();
        let bytes = fs::read(&path).unwrap();
        for at in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= mask;
                match open_bytes(&b) {
                    Ok(o) => assert_same(&s, &o),
                    Err(e) => assert_eq!(e.kind, ErrorKind::Format, "flip {mask:#x} at {at}: {}", e.message),
                }
            }
        }
    }
}

#[test]
fn numpy_layout_of_what_we_write() {
    // The members and headers numpy expects (checked against numpy itself in
    // tests/python/test_interop.py).
    let dir = tmp();
    let path = dir.path().join("layout.npz");
    filled(2, 3, true, 1)
        .save(Some(&path), WriteOptions { uncompressed: true, ..Default::default() })
        .unwrap();
    let bytes = fs::read(&path).unwrap();
    for needle in [
        &b"format_version.npy"[..],
        b"{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
        b"{'descr': '|b1', 'fortran_order': False, 'shape': (), }",
        b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        b"{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }",
    ] {
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "missing {}",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn unsupported_zip_features_are_refused() {
    let bytes = zip_bytes(&valid_entries(2));
    let name = b"vectors.npy";
    let positions: Vec<usize> =
        bytes.windows(name.len()).enumerate().filter(|(_, w)| w == name).map(|(i, _)| i).collect();
    assert_eq!(positions.len(), 2, "one local and one central header");
    let (local, central) = (positions[0], positions[1]);
    // Compression method 12 (bzip2) in both headers.
    let mut bzip = bytes.clone();
    bzip[local - 22] = 12;
    bzip[central - 36] = 12;
    assert_format(&bzip, "vectors.npy");
    // The "encrypted" flag in both headers.
    let mut encrypted = bytes.clone();
    encrypted[local - 24] |= 1;
    encrypted[central - 38] |= 1;
    assert_format(&encrypted, "vectors.npy");
}

#[test]
fn saving_is_deterministic() {
    let dir = tmp();
    let s = filled(30, 6, true, 4);
    for options in [WriteOptions::default(), WriteOptions { uncompressed: true, pickled_metadata: true }] {
        let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
        s.save(Some(&a), options).unwrap();
        s.save(Some(&b), options).unwrap();
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// Mapped open (NVS_OPEN_MAP)

const MAP: ReadOptions = ReadOptions { row_index_metadata: false, map: true, verify: false };
const MAP_VERIFIED: ReadOptions = ReadOptions { row_index_metadata: false, map: true, verify: true };
const UNCOMPRESSED: WriteOptions = WriteOptions { uncompressed: true, pickled_metadata: false };

/// Every metric's hits for a few queries, single and batch, with and without a prefilter
/// that takes rows from both ends of the store.
fn every_search(s: &VectorStore) -> Vec<(usize, u64, u64)> {
    let d = s.dimensions();
    let queries = rows(3, d, 99);
    let within: Vec<usize> = (0..s.len()).filter(|r| r % 3 != 1).collect();
    let mut out = Vec::new();
    for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
        for within in [None, Some(&within[..])] {
            let options = SearchOptions { top_k: 7, within_rows: within, ..Default::default() };
            let batch = s.search_batch(metric, &queries, &options).unwrap();
            for (q, hits) in queries.chunks(d).zip(&batch) {
                assert_eq!(&s.search(metric, q, &options).unwrap(), hits, "batch equals single");
                out.extend(hits.iter().map(|h| (h.index, h.id, h.value.to_bits())));
            }
        }
    }
    out
}

/// Where the zip header with `signature` for member `name` (which follows `fixed` bytes of
/// header) starts.
fn find_header(bytes: &[u8], signature: [u8; 4], fixed: usize, name: &[u8]) -> usize {
    bytes.windows(fixed + name.len()).position(|w| w[..4] == signature && &w[fixed..] == name).unwrap()
}

/// Where `vectors.npy`'s array data starts in an archive file (after its local header and
/// its .npy header).
fn vectors_data_offset(bytes: &[u8]) -> usize {
    let at = find_header(bytes, [0x50, 0x4b, 3, 4], 30, b"vectors.npy");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let data = at + 30 + u16_at(at + 26) + u16_at(at + 28);
    data + 10 + u16_at(data + 8)
}

#[test]
fn mapped_open_searches_rows_in_place_like_an_ordinary_open() {
    let dir = tmp();
    for normalize in [true, false] {
        for (n, d) in [(0, 3), (1, 1), (300, 17), (1000, 64)] {
            let store = filled(n, d, normalize, 5);
            let path = dir.path().join(format!("s{n}-{d}-{normalize}.npz"));
            store.save(Some(&path), UNCOMPRESSED).unwrap();
            let bytes = fs::read(&path).unwrap();
            if n > 0 {
                assert_eq!(vectors_data_offset(&bytes) % 64, 0, "rows aligned to 64 bytes");
            }
            let ordinary = VectorStore::open(&path, ReadOptions::default()).unwrap();
            let mapped = VectorStore::open(&path, MAP).unwrap();
            assert!(!ordinary.is_mapped());
            assert_eq!(mapped.is_mapped(), n > 0, "{n} x {d}");
            assert_same(&ordinary, &mapped);
            assert_same(&mapped, &VectorStore::open(&path, MAP_VERIFIED).unwrap());
            assert_eq!(mapped.file_path(), ordinary.file_path());
            if n > 0 {
                assert_eq!(every_search(&mapped), every_search(&ordinary), "{n} x {d} normalize={normalize}");
            }
        }
    }
}

#[test]
fn archives_that_cannot_be_mapped_open_the_ordinary_way() {
    let dir = tmp();
    let store = filled(50, 8, true, 6);
    for (name, options) in [
        ("compressed.npz", WriteOptions::default()),
        ("pickled.npz", WriteOptions { uncompressed: true, pickled_metadata: true }),
    ] {
        let path = dir.path().join(name);
        store.save(Some(&path), options).unwrap();
        let opened = VectorStore::open(&path, MAP).unwrap();
        assert_eq!(opened.is_mapped(), name == "pickled.npz", "{name}: rows stored, ids pickled");
        assert_same(&store, &opened);
    }
    // Rows 2 bytes off alignment (an archive built by hand, as other writers may): read.
    let entries = valid_entries(4);
    let bytes = zip_bytes(&entries);
    let path = dir.path().join("unaligned.npz");
    fs::write(&path, &bytes).unwrap();
    let opened = VectorStore::open(&path, MAP).unwrap();
    assert_eq!(opened.is_mapped(), vectors_data_offset(&bytes).is_multiple_of(4));
    assert_same(&VectorStore::open(&path, ReadOptions::default()).unwrap(), &opened);
}

#[test]
fn adds_saves_reloads_and_clears_after_a_mapped_open() {
    let dir = tmp();
    let path = dir.path().join("m.npz");
    for normalize in [true, false] {
        let d = 24;
        filled(500, d, normalize, 7).save(Some(&path), UNCOMPRESSED).unwrap();
        let mapped = VectorStore::open(&path, MAP).unwrap();
        let ordinary = VectorStore::open(&path, ReadOptions::default()).unwrap();
        // Rows added after the mapped ones: searches cover both parts (blocks span them).
        for s in [&mapped, &ordinary] {
            s.add(&rows(37, d, 8), Some(&(0..37).collect::<Vec<u64>>())).unwrap();
            s.add(&rows(1, d, 9), None).unwrap();
            assert_eq!(s.add(&[f32::NAN; 24], None).unwrap_err().kind, ErrorKind::NonFinite);
        }
        assert!(mapped.is_mapped());
        assert_same(&mapped, &ordinary);
        assert_eq!(every_search(&mapped), every_search(&ordinary));
        // Saved over the very file it maps: every row is written, the mapping stays valid.
        mapped.save(None, UNCOMPRESSED).unwrap();
        assert_same(&mapped, &ordinary);
        assert_same(&VectorStore::open(&path, MAP).unwrap(), &ordinary);
        mapped.save(None, WriteOptions::default()).unwrap();
        assert_same(&VectorStore::open(&path, MAP).unwrap(), &ordinary);
        // Reload: the ordinary way releases the mapping, a mapped one maps the new file.
        mapped.reload(ReadOptions::default()).unwrap();
        assert!(!mapped.is_mapped());
        mapped.save(None, UNCOMPRESSED).unwrap();
        mapped.reload(MAP).unwrap();
        assert!(mapped.is_mapped());
        assert_same(&mapped, &ordinary);
        mapped.clear();
        assert!(!mapped.is_mapped() && mapped.is_empty());
        let other = dir.path().join("other.npz");
        filled(5, 3, normalize, 1).save(Some(&other), UNCOMPRESSED).unwrap();
        let reloading = VectorStore::open(&path, MAP).unwrap();
        fs::copy(&other, dir.path().join("wrong.npz")).unwrap();
        let before = contents(&reloading);
        reloading.save(Some(&dir.path().join("wrong.npz")), UNCOMPRESSED).unwrap_or(());
        fs::copy(&other, dir.path().join("wrong.npz")).unwrap();
        assert_eq!(kind(reloading.reload(MAP)).0, ErrorKind::DimensionMismatch);
        assert_eq!(contents(&reloading), before, "a failed mapped reload changes nothing");
    }
}

/// Bytes of `path` with the f32 at row `r`, column `c` of `vectors` replaced.
fn poke(path: &Path, r: usize, c: usize, d: usize, value: f32) {
    let mut bytes = fs::read(path).unwrap();
    let at = vectors_data_offset(&bytes) + (r * d + c) * 4;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    fs::write(path, bytes).unwrap();
}

#[test]
fn unverified_mapped_rows_are_trusted_and_verified_ones_checked() {
    let dir = tmp();
    let path = dir.path().join("v.npz");
    for normalize in [true, false] {
        // 100 rows and 20 queries: a normalize store's batches take the screen (`screen.rs`).
        let d = 8;
        filled(100, d, normalize, 3).save(Some(&path), UNCOMPRESSED).unwrap();
        // A changed value: the CRC no longer matches. Unverified, the open trusts the rows
        // and every search still runs (wrong numbers at worst); verified, it is FORMAT.
        for value in [0.5, f32::NAN, f32::INFINITY, 1e30] {
            filled(100, d, normalize, 3).save(Some(&path), UNCOMPRESSED).unwrap();
            poke(&path, 7, 2, d, value);
            let trusted = VectorStore::open(&path, MAP).unwrap();
            assert!(trusted.is_mapped());
            every_search_runs(&trusted, if value.is_finite() { None } else { Some(7) });
            let (k, message) = kind(VectorStore::open(&path, MAP_VERIFIED));
            assert_eq!(k, ErrorKind::Format, "{message}");
            assert_eq!(kind(VectorStore::open(&path, ReadOptions::default())).0, ErrorKind::Format);
        }
    }
    // Rows of a normalize store that are not unit length (another writer's, CRC intact):
    // a verified mapped open normalizes them into private memory, as an ordinary open does.
    filled(30, 5, false, 4).save(Some(&path), UNCOMPRESSED).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let local = find_header(&bytes, [0x50, 0x4b, 3, 4], 30, b"normalize.npy");
    let central = find_header(&bytes, [0x50, 0x4b, 1, 2], 46, b"normalize.npy");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
    let len = u32::from_le_bytes(bytes[local + 18..local + 22].try_into().unwrap()) as usize;
    bytes[data + len - 1] = 1;
    let crc = crc32(&bytes[data..data + len]).to_le_bytes();
    bytes[local + 14..local + 18].copy_from_slice(&crc);
    bytes[central + 16..central + 20].copy_from_slice(&crc);
    fs::write(&path, bytes).unwrap();
    let verified = VectorStore::open(&path, MAP_VERIFIED).unwrap();
    assert!(!verified.is_mapped());
    assert_same(&verified, &VectorStore::open(&path, ReadOptions::default()).unwrap());
}

/// Every metric searches `s` (single and batch, top 5 and every row); row `absent`, which holds
/// NaN or infinity, is never a hit, and a batch returns what single searches return.
fn every_search_runs(s: &VectorStore, absent: Option<usize>) {
    let d = s.dimensions();
    let q = rows(20, d, 4);
    for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
        for top_k in [5, s.len()] {
            let options = SearchOptions { top_k, ..Default::default() };
            let single = s.search(metric, &q[..d], &options);
            let batch = s.search_batch(metric, &q, &options);
            assert_eq!(single.is_ok(), batch.is_ok(), "{metric:?}");
            if let Ok(batch) = &batch {
                for (query, hits) in q.chunks(d).zip(batch) {
                    assert_eq!(&s.search(metric, query, &options).unwrap(), hits, "{metric:?} top {top_k}");
                }
            }
            let hits = single.into_iter().flatten().chain(batch.into_iter().flatten().flatten());
            for hit in hits {
                assert_ne!(Some(hit.index), absent, "{metric:?} top {top_k}: {hit:?}");
                assert!(hit.value.is_finite(), "{metric:?} top {top_k}: {hit:?}");
            }
        }
    }
}

#[test]
fn ffi_map_flags() {
    let dir = tmp();
    let path = dir.path().join("f.npz");
    filled(10, 4, false, 2).save(Some(&path), UNCOMPRESSED).unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut store = std::ptr::null_mut();
    unsafe {
        let flags = ffi::NVS_OPEN_MAP | ffi::NVS_OPEN_VERIFY;
        assert_eq!(ffi::nvs_store_open_with_flags(c_path.as_ptr(), flags, &mut store), ffi::nvs_status::Ok);
        assert!(ffi::nvs_store_is_mapped(store));
        assert_eq!(ffi::nvs_store_reload_with_flags(store, 0), ffi::nvs_status::Ok);
        assert!(!ffi::nvs_store_is_mapped(store));
        assert!(!ffi::nvs_store_is_mapped(std::ptr::null()));
        ffi::nvs_store_free(store);
        let bytes = fs::read(&path).unwrap();
        let mut out = std::ptr::null_mut();
        let status = ffi::nvs_store_open_bytes(bytes.as_ptr(), bytes.len(), ffi::NVS_OPEN_MAP, &mut out);
        assert_eq!(status, ffi::nvs_status::InvalidArgument);
        assert!(out.is_null());
        let message = CStr::from_ptr(ffi::nvs_last_error_message()).to_str().unwrap();
        assert!(message.contains("NVS_OPEN_MAP needs a file"), "{message}");
    }
}
