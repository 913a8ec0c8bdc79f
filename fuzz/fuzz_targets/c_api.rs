//! Random sequences of C API calls on one store, checked after every call against a shadow
//! model (a plain copy of the rows and ids, updated only when a call returns OK).
//!
//! The functions are declared here from `include/nvs.h` with `uint32_t` statuses, so a status
//! outside the enum is seen instead of being undefined behaviour. Every op may carry one
//! argument fault (NULL, misaligned or absurdly long pointer, short buffer, bad `options.size`,
//! ...); values (NaN, infinities, denormals, -0.0, huge, ties) come from the op itself.
//!
//! Checked after every call:
//! - the status is a known code, never `INTERNAL`; a failure leaves a non-empty
//!   `nvs_last_error_message()`, a success leaves the message unchanged;
//! - the status is one of those the arguments call for (several faults: any of them), OK when
//!   there is none;
//! - a failed call changed nothing: len, dimensions, normalize, every row and id, the bound
//!   path, and no output buffer was written (except the documented `BUFFER_TOO_SMALL` counts);
//! - stored rows equal what was added, bit for bit (normalize stores: the input scaled by its
//!   f64 norm's reciprocal, rounded to f32; archives: rows within 2^-22 of unit length kept,
//!   others normalized on load, so a saved store opens with its own bits);
//! - search hits: count <= top_k (= min(top_k, candidates) without a threshold), sorted by value
//!   (descending for cosine/dot, ascending for euclidean) with ties by ascending row index,
//!   index < len and inside `within_rows`, id equal to the shadow id, value finite, within a
//!   rounding bound of the exact f64 value, passing the threshold, and no row left out that is
//!   surely better than the last hit or surely passes the threshold;
//! - batch search equals single search per query, bit for bit; a search with `threads` equals
//!   the one-thread search bit for bit.
#![no_main]
#![allow(non_camel_case_types)]

use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use nvs::ffi::{nvs_hit, nvs_search_options};

/// The opaque handle, declared as C sees it (`typedef struct nvs_store nvs_store;`).
#[repr(C)]
struct nvs_store {
    _private: [u8; 0],
}

const OK: u32 = 0;
const NULL_ARGUMENT: u32 = 1;
const INVALID_ARGUMENT: u32 = 2;
const DIMENSION_MISMATCH: u32 = 3;
const NON_FINITE: u32 = 4;
const ZERO_NORM: u32 = 5;
const OUT_OF_RANGE: u32 = 6;
const NOT_FOUND: u32 = 7;
const BUFFER_TOO_SMALL: u32 = 8;
const IO: u32 = 9;
const FORMAT: u32 = 10;
const NO_BOUND_PATH: u32 = 11;
const INTERNAL: u32 = 13;
const STATUS_NAMES: [&str; 14] = [
    "OK",
    "NULL_ARGUMENT",
    "INVALID_ARGUMENT",
    "DIMENSION_MISMATCH",
    "NON_FINITE",
    "ZERO_NORM",
    "OUT_OF_RANGE",
    "NOT_FOUND",
    "BUFFER_TOO_SMALL",
    "IO",
    "FORMAT",
    "NO_BOUND_PATH",
    "OUT_OF_MEMORY",
    "INTERNAL",
];

const COSINE: u32 = 0;
const DOT: u32 = 1;
const EUCLIDEAN: u32 = 2;

/// Row-index metadata, map, verify (the files here are the target's own saves, so a mapped
/// open must hold what an ordinary one holds).
const OPEN_FLAGS: u32 = 1 | 2 | 4;
/// `NVS_OPEN_MAP`, which only a file can take.
const OPEN_MAP: u32 = 2;
const SAVE_FLAGS: u32 = 3;

/// Largest query (and row) the target builds; stores with more dimensions only see faults.
const MAX_BUILD: usize = 4096;
/// Largest store, in floats: keeps every op (and the exact f64 oracle) cheap.
const MAX_FLOATS: usize = 1 << 17;
const MAX_OPS: usize = 48;
/// Up to 90 queries a batch: enough for every width of the batch screen's panels and the
/// queries left after them on every kernel (64, 32 and 16 queries on AVX-512).
const MAX_BATCH: usize = 90;

mod c {
    use super::{c_char, nvs_hit, nvs_search_options, nvs_store};
    extern "C" {
        pub fn nvs_status_name(status: u32) -> *const c_char;
        pub fn nvs_last_error_message() -> *const c_char;
        pub fn nvs_search_options_default() -> nvs_search_options;
        pub fn nvs_store_new(dimensions: usize, normalize: bool, out: *mut *mut nvs_store) -> u32;
        pub fn nvs_store_new_with_storage(
            dimensions: usize,
            normalize: bool,
            storage: u32,
            out: *mut *mut nvs_store,
        ) -> u32;
        pub fn nvs_store_free(store: *mut nvs_store);
        pub fn nvs_store_add(
            store: *mut nvs_store,
            vectors: *const f32,
            vectors_len: usize,
            ids: *const u64,
            ids_len: usize,
        ) -> u32;
        pub fn nvs_store_get(
            store: *const nvs_store,
            index: usize,
            vector: *mut f32,
            vector_len: usize,
            id: *mut u64,
        ) -> u32;
        pub fn nvs_store_len(store: *const nvs_store) -> usize;
        pub fn nvs_store_dimensions(store: *const nvs_store) -> usize;
        pub fn nvs_store_normalize(store: *const nvs_store) -> bool;
        pub fn nvs_store_clear(store: *mut nvs_store) -> u32;
        pub fn nvs_store_read_rows(
            store: *const nvs_store,
            start: usize,
            count: usize,
            vectors: *mut f32,
            vectors_len: usize,
            ids: *mut u64,
            ids_len: usize,
        ) -> u32;
        pub fn nvs_store_search(
            store: *const nvs_store,
            metric: u32,
            query: *const f32,
            query_len: usize,
            options: *const nvs_search_options,
            hits: *mut nvs_hit,
            hits_capacity: usize,
            hits_len: *mut usize,
        ) -> u32;
        pub fn nvs_store_search_batch(
            store: *const nvs_store,
            metric: u32,
            queries: *const f32,
            queries_len: usize,
            options: *const nvs_search_options,
            hits: *mut nvs_hit,
            hits_capacity: usize,
            hits_per_query: usize,
            hits_lens: *mut usize,
        ) -> u32;
        pub fn nvs_store_open(path: *const c_char, out: *mut *mut nvs_store) -> u32;
        pub fn nvs_store_open_with_flags(path: *const c_char, flags: u32, out: *mut *mut nvs_store) -> u32;
        pub fn nvs_store_open_bytes(
            bytes: *const u8,
            len: usize,
            flags: u32,
            out: *mut *mut nvs_store,
        ) -> u32;
        pub fn nvs_store_save(store: *const nvs_store, path: *const c_char) -> u32;
        pub fn nvs_store_save_with_flags(store: *const nvs_store, path: *const c_char, flags: u32) -> u32;
        pub fn nvs_store_reload(store: *mut nvs_store) -> u32;
        pub fn nvs_store_reload_with_flags(store: *mut nvs_store, flags: u32) -> u32;
        pub fn nvs_store_file_path(
            store: *const nvs_store,
            buf: *mut c_char,
            capacity: usize,
            len: *mut usize,
        ) -> u32;
    }
}

// ---------------------------------------------------------------------------------------------
// The op language.

#[derive(Arbitrary, Debug)]
struct Input {
    /// The store every sequence starts with: `1 + dims % 64` dimensions (`New` ops reach
    /// every other width, invalid ones included).
    dims: u8,
    normalize: bool,
    /// The first store keeps float16 rows (`New` ops choose again).
    float16: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    New {
        dims: Dims,
        normalize: bool,
        float16: bool,
        null_out: bool,
    },
    Free,
    Add {
        values: Vec<F>,
        rows: u8,
        ids: IdsSpec,
        fault: Option<AddFault>,
    },
    AddGen {
        rows: u16,
        seed: u32,
        style: u8,
        ids: IdsSpec,
        fault: Option<AddFault>,
    },
    Get {
        index: Idx,
        vector: bool,
        id: bool,
        fault: Option<GetFault>,
    },
    ReadRows {
        start: Idx,
        count: Idx,
        vectors: bool,
        ids: bool,
        fault: Option<ReadFault>,
    },
    Clear {
        null_store: bool,
    },
    Search {
        metric: MetricSpec,
        query: QuerySpec,
        options: OptSpec,
        fault: Option<SearchFault>,
    },
    Batch {
        metric: MetricSpec,
        queries: Vec<QuerySpec>,
        options: OptSpec,
        per_query: PerQuery,
        fault: Option<BatchFault>,
    },
    Save {
        path: PathSpec,
        flags: u8,
    },
    Open {
        path: PathSpec,
        flags: u8,
        null_out: bool,
    },
    OpenBytes {
        path: PathSpec,
        flags: u8,
        damage: Option<Damage>,
    },
    Reload {
        flags: u8,
    },
    WriteOther {
        path: PathSpec,
        dims: u8,
        normalize: bool,
        rows: u8,
        seed: u32,
    },
    FilePath {
        capacity: u8,
        null_len: bool,
    },
}

/// A float value: small integers (ties, zero rows), fractions, special values or any bits.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum F {
    Int(i8),
    Frac(i16),
    Special(u8),
    Bits(u32),
}

const SPECIAL_F32: [f32; 24] = [
    0.0,
    -0.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    f32::from_bits(1), // smallest denormal
    -f32::from_bits(1),
    f32::from_bits(0x007f_ffff), // largest denormal
    1e-40,
    1e19, // its square overflows f32
    -1e19,
    1e30,
    1e-30,
    1.0,
    -1.0,
    0.1,
    f32::EPSILON,
    1.0 + f32::EPSILON,
    f32::from_bits(0x7fc0_0001), // NaN with payload
    f32::from_bits(0xffc0_0000), // negative NaN
];

impl F {
    fn get(self) -> f32 {
        match self {
            F::Int(i) => (i % 5) as f32,
            F::Frac(v) => v as f32 / 64.0,
            F::Special(s) => SPECIAL_F32[s as usize % SPECIAL_F32.len()],
            F::Bits(b) => f32::from_bits(b),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dims {
    Small(u8),
    Medium(u16),
    Zero,
    Huge(u8),
}

const HUGE_DIMS: [usize; 6] =
    [i32::MAX as usize / 4, i32::MAX as usize / 4 + 1, usize::MAX, isize::MAX as usize, 1 << 32, 1 << 20];

impl Dims {
    fn get(self) -> usize {
        match self {
            Dims::Small(v) => 1 + v as usize % 16,
            Dims::Medium(v) => 1 + v as usize % 600,
            Dims::Zero => 0,
            Dims::Huge(v) => HUGE_DIMS[v as usize % HUGE_DIMS.len()],
        }
    }
}

/// A row index or count: in range, raw, just past the end, or huge.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Idx {
    In(u16),
    Raw(u16),
    End(u8),
    Huge(u8),
}

impl Idx {
    fn get(self, len: usize) -> usize {
        match self {
            Idx::In(v) if len > 0 => v as usize % len,
            Idx::In(v) | Idx::Raw(v) => v as usize,
            Idx::End(k) => len + (k % 4) as usize,
            Idx::Huge(s) => {
                [usize::MAX, usize::MAX - 1, isize::MAX as usize, 1 << 32, usize::MAX / 2 + 1][s as usize % 5]
            }
        }
    }
}

/// A length no correct implementation may dereference: `len * size_of::<T>()` exceeds
/// `isize::MAX`. Passed with a small real buffer, the call must fail before reading.
fn huge_len(sel: u8, elem: usize) -> usize {
    [usize::MAX, isize::MAX as usize, isize::MAX as usize / elem + 1, usize::MAX / 2 + 1][sel as usize % 4]
}

#[derive(Arbitrary, Debug, Clone)]
enum IdsSpec {
    RowIndex,
    Given(Vec<u64>),
    Seq(u64),
    Same(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum AddFault {
    NullStore,
    VectorsNull,
    VectorsMisaligned,
    VectorsHuge(u8),
    VectorsShorter(u8),
    VectorsLonger(u8),
    VectorsEmpty,
    IdsNullWithLen(u8),
    IdsMisaligned,
    IdsHuge(u8),
    IdsShorter(u8),
    IdsLonger(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum GetFault {
    NullStore,
    VectorNullWithLen(u8),
    VectorMisaligned,
    VectorHuge(u8),
    VectorShort(u8),
    VectorLonger(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ReadFault {
    NullStore,
    VectorsNullWithLen(u8),
    VectorsMisaligned,
    VectorsHuge(u8),
    VectorsShort(u8),
    VectorsLonger(u8),
    IdsNullWithLen(u8),
    IdsMisaligned,
    IdsHuge(u8),
    IdsShort(u8),
    IdsLonger(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum MetricSpec {
    Cosine,
    Dot,
    Euclidean,
    Raw(u32),
}

impl MetricSpec {
    fn get(self) -> u32 {
        match self {
            MetricSpec::Cosine => COSINE,
            MetricSpec::Dot => DOT,
            MetricSpec::Euclidean => EUCLIDEAN,
            MetricSpec::Raw(m) => m,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum QuerySpec {
    Values(Vec<F>),
    /// A stored row, optionally with one value replaced (exact matches, ties, near ties).
    Row {
        index: Idx,
        tweak: Option<(u16, F)>,
    },
    Gen {
        seed: u32,
        style: u8,
    },
    Zero,
}

#[derive(Arbitrary, Debug, Clone)]
struct OptSpec {
    null: bool,
    top_k: TopKSpec,
    threshold: Option<Thr>,
    within: Option<Within>,
    threads: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TopKSpec {
    Small(u8),
    Huge(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Thr {
    Value(F),
    Bits(u64),
    Special(u8),
    /// The value of the hit at `rank` of the same search without a threshold, moved by `ulps`.
    AtHit {
        rank: u8,
        ulps: i8,
    },
}

const SPECIAL_F64: [f64; 17] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1e300,
    -1e300,
    f64::MIN_POSITIVE,
    5e-324,
    f32::MAX as f64 * 2.0,
    1.0 + f64::EPSILON,
    2.0,
    1e-8,
];

#[derive(Arbitrary, Debug, Clone)]
enum Within {
    Rows(Vec<Idx>),
    All,
    Reversed,
    Empty,
    NullEmpty,
    Stride { start: u8, step: u8 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SearchFault {
    NullStore,
    HitsLenNull,
    QueryNull,
    QueryMisaligned,
    QueryHuge(u8),
    QueryShorter(u8),
    QueryLonger(u8),
    QueryEmpty,
    SizeSmaller(u8),
    SizeLarger(u8),
    WithinNull(u8),
    WithinMisaligned,
    WithinHuge(u8),
    StrayWithin,
    HitsNull(u8),
    HitsMisaligned,
    HitsHuge(u8),
    HitsCapacity(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum BatchFault {
    NullStore,
    LensNull,
    QueriesNull,
    QueriesMisaligned,
    QueriesHuge(u8),
    QueriesShorter(u8),
    QueriesLonger(u8),
    QueriesEmpty,
    SizeSmaller(u8),
    SizeLarger(u8),
    WithinNull(u8),
    WithinMisaligned,
    WithinHuge(u8),
    StrayWithin,
    HitsNull,
    HitsMisaligned,
    HitsCapacity(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PerQuery {
    TopK,
    Exact(u8),
    Zero,
    Huge(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PathSpec {
    A,
    /// Without `.npz`: the library appends it.
    B,
    MissingDir,
    Empty,
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Damage {
    Flip { at: u16, xor: u8 },
    Truncate(u16),
}

fn flags(v: u8, valid: u32) -> u32 {
    if v & 0x80 == 0 {
        v as u32 & valid
    } else {
        (1u32 << (v % 32)) | (v as u32 & valid)
    }
}

// ---------------------------------------------------------------------------------------------
// Calls, statuses and the shadow model.

struct Cx<'a> {
    i: usize,
    op: &'a Op,
}

impl Cx<'_> {
    #[track_caller]
    fn fail(&self, msg: String) -> ! {
        panic!("op #{} {:?}\n  {msg}", self.i, self.op)
    }
}

macro_rules! ensure {
    ($cx:expr, $cond:expr, $($arg:tt)*) => {
        if !$cond {
            $cx.fail(format!($($arg)*))
        }
    };
}

fn last_message() -> Vec<u8> {
    // SAFETY: the library returns a NUL-terminated thread-local string valid until the next
    // failed call on this thread.
    unsafe { CStr::from_ptr(c::nvs_last_error_message()) }.to_bytes().to_vec()
}

fn name(status: u32) -> &'static str {
    STATUS_NAMES.get(status as usize).copied().unwrap_or("UNKNOWN")
}

/// With `NVS_FUZZ_STATS=1`, the status of every call is counted and printed at exit: a quick
/// view of which paths a corpus reaches.
type Counts = std::sync::Mutex<std::collections::BTreeMap<(String, u32), u64>>;

fn stats() -> Option<&'static Counts> {
    static STATS: OnceLock<Option<Counts>> = OnceLock::new();
    STATS
        .get_or_init(|| std::env::var_os("NVS_FUZZ_STATS").map(|_| std::sync::Mutex::new(Default::default())))
        .as_ref()
}

fn print_stats() {
    if let Some(s) = stats() {
        for ((what, st), n) in s.lock().unwrap().iter() {
            eprintln!("{n:>10}  {what:<40} {}", name(*st));
        }
    }
}

/// Run one C call and check the status protocol.
fn call(cx: &Cx, what: &str, f: impl FnOnce() -> u32) -> u32 {
    let before = last_message();
    let st = f();
    if let Some(s) = stats() {
        *s.lock().unwrap().entry((what.to_string(), st)).or_default() += 1;
    }
    ensure!(cx, (st as usize) < STATUS_NAMES.len(), "{what}: unknown status {st}");
    // SAFETY: static string for any value.
    let lib_name = unsafe { CStr::from_ptr(c::nvs_status_name(st)) };
    ensure!(cx, lib_name.to_bytes() == name(st).as_bytes(), "{what}: nvs_status_name({st}) = {lib_name:?}");
    let after = last_message();
    ensure!(cx, st != INTERNAL, "{what}: INTERNAL: {}", String::from_utf8_lossy(&after));
    if st == OK {
        ensure!(cx, after == before, "{what}: a successful call changed the last error message");
    } else {
        ensure!(cx, !after.is_empty(), "{what}: {} with an empty nvs_last_error_message", name(st));
    }
    st
}

/// The statuses an argument set calls for. With none the call must succeed; with several, any
/// one of them is right (their order is the library's business).
#[derive(Default)]
struct Expect {
    faults: Vec<u32>,
}

impl Expect {
    fn on(&mut self, cond: bool, status: u32) {
        if cond && !self.faults.contains(&status) {
            self.faults.push(status);
        }
    }

    fn judge(&self, cx: &Cx, what: &str, st: u32) {
        let fine = if self.faults.is_empty() { st == OK } else { self.faults.contains(&st) };
        if fine {
            return;
        }
        let want: Vec<_> =
            if self.faults.is_empty() { vec!["OK"] } else { self.faults.iter().map(|&s| name(s)).collect() };
        cx.fail(format!(
            "{what}: got {} ({:?}), expected one of {want:?}",
            name(st),
            String::from_utf8_lossy(&last_message()),
        ))
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Shadow {
    dims: usize,
    normalize: bool,
    /// Rows kept as float16 (`rows` then holds the rounded values).
    float16: bool,
    /// Rows as stored (normalized for a normalize store), row-major.
    rows: Vec<f32>,
    ids: Vec<u64>,
    bound: Option<PathBuf>,
}

impl Shadow {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dims..(i + 1) * self.dims]
    }
}

/// What an archive on disk holds.
#[derive(Clone, Debug)]
struct FileShadow {
    dims: usize,
    normalize: bool,
    float16: bool,
    rows: Vec<f32>,
    ids: Vec<u64>,
}

struct State {
    store: *mut nvs_store,
    shadow: Option<Shadow>,
    files: HashMap<PathBuf, FileShadow>,
    dir: &'static Path,
}

/// Row `row` as a normalize store keeps it: scaled by the reciprocal of its f64 norm.
fn normalized(row: &[f32]) -> Vec<f32> {
    let inv = 1.0 / nvs::kernels::portable::norm_sq_f64(row).sqrt();
    row.iter().map(|&x| (x as f64 * inv) as f32).collect()
}

fn stored_rows(vectors: &[f32], d: usize, normalize: bool) -> Vec<f32> {
    if !normalize {
        return vectors.to_vec();
    }
    vectors.chunks_exact(d).flat_map(normalized).collect()
}

/// Values as a float16 store keeps them (rounded to nearest, ties to even).
fn rounded(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| nvs::kernels::f16::to_f32(nvs::kernels::f16::to_f16(x))).collect()
}

fn all_zero(v: &[f32]) -> bool {
    v.iter().all(|&x| x == 0.0)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// `n` rows of `d` finite values. Styles: small integers (ties), uniform, extreme magnitudes,
/// one row repeated, uniform with one zero row.
fn gen_rows(n: usize, d: usize, seed: u32, style: u8) -> Vec<f32> {
    if d == 0 {
        return Vec::new();
    }
    let mut rng = Rng(seed as u64 ^ ((style as u64) << 40));
    let mut v = Vec::with_capacity(n * d);
    let finite: Vec<f32> = SPECIAL_F32.iter().copied().filter(|x| x.is_finite()).collect();
    let style = style % 5;
    for r in 0..n {
        let start = v.len();
        for _ in 0..d {
            let x = match style {
                0 | 3 => (rng.next() % 5) as f32 - 2.0,
                2 if rng.next().is_multiple_of(2) => finite[rng.next() as usize % finite.len()],
                _ => rng.unit(),
            };
            v.push(x);
        }
        if style == 3 && r > 0 {
            v.copy_within(0..d, start);
        }
        if all_zero(&v[start..]) {
            v[start + r % d] = 1.0;
        }
        if style == 4 && r == seed as usize % n.max(1) {
            v[start..].fill(0.0);
        }
    }
    v
}

impl State {
    fn len(&self) -> usize {
        self.shadow.as_ref().map_or(0, Shadow::len)
    }

    fn dims(&self) -> usize {
        self.shadow.as_ref().map_or(0, |s| s.dims)
    }

    /// Dimensions for building buffers: a buildable width even without a store.
    fn build_dims(&self) -> usize {
        match &self.shadow {
            Some(s) if s.dims <= MAX_BUILD => s.dims,
            Some(_) => 0,
            None => 4,
        }
    }

    fn path(&self, spec: PathSpec) -> (Option<CString>, Option<PathBuf>) {
        let p = match spec {
            PathSpec::A => self.dir.join("a.npz"),
            PathSpec::B => self.dir.join("b"),
            PathSpec::MissingDir => self.dir.join("missing").join("c.npz"),
            PathSpec::Empty => return (Some(CString::default()), None),
            PathSpec::Null => return (None, None),
        };
        let resolved = if matches!(spec, PathSpec::B) { self.dir.join("b.npz") } else { p.clone() };
        (Some(CString::new(p.into_os_string().into_encoded_bytes()).unwrap()), Some(resolved))
    }

    fn bound_path(&self, cx: &Cx) -> Option<PathBuf> {
        let mut buf = vec![0u8; 4096];
        let mut len = usize::MAX;
        // SAFETY: valid buffer of `buf.len()` bytes and a valid out-pointer.
        let st = call(cx, "nvs_store_file_path", || unsafe {
            c::nvs_store_file_path(self.store, buf.as_mut_ptr().cast(), buf.len(), &mut len)
        });
        match st {
            OK => {
                ensure!(cx, len < buf.len() && buf[len] == 0, "file_path: len {len} without NUL");
                Some(PathBuf::from(String::from_utf8(buf[..len].to_vec()).unwrap()))
            }
            NO_BOUND_PATH => None,
            NULL_ARGUMENT if self.store.is_null() => None,
            s => cx.fail(format!("file_path: {}", name(s))),
        }
    }

    /// The store matches the shadow: len, dimensions, normalize, every row and id, binding.
    fn verify(&self, cx: &Cx) {
        // SAFETY: NULL or our live handle.
        let (len, dims, normalize) = unsafe {
            (
                c::nvs_store_len(self.store),
                c::nvs_store_dimensions(self.store),
                c::nvs_store_normalize(self.store),
            )
        };
        let Some(sh) = &self.shadow else {
            ensure!(cx, self.store.is_null(), "a store without shadow");
            ensure!(
                cx,
                (len, dims, normalize) == (0, 0, false),
                "NULL store reports {len} {dims} {normalize}"
            );
            return;
        };
        ensure!(
            cx,
            (len, dims, normalize) == (sh.len(), sh.dims, sh.normalize),
            "store has len {len} dims {dims} normalize {normalize}, shadow {} {} {}",
            sh.len(),
            sh.dims,
            sh.normalize
        );
        if len > 0 {
            let mut rows = vec![f32::from_bits(0x7fa5_a5a5); len * dims];
            let mut ids = vec![0xdead_beef_u64; len];
            // SAFETY: buffers of the stated lengths.
            let st = call(cx, "read_rows(all)", || unsafe {
                c::nvs_store_read_rows(
                    self.store,
                    0,
                    len,
                    rows.as_mut_ptr(),
                    rows.len(),
                    ids.as_mut_ptr(),
                    len,
                )
            });
            ensure!(cx, st == OK, "read_rows of every row: {}", name(st));
            ensure!(
                cx,
                ids == sh.ids,
                "ids differ from the shadow:\n  store  {ids:?}\n  shadow {:?}",
                sh.ids
            );
            if bits(&rows) != bits(&sh.rows) {
                let i = rows.iter().zip(&sh.rows).position(|(a, b)| a.to_bits() != b.to_bits()).unwrap();
                cx.fail(format!(
                    "rows differ from the shadow at float {i} (row {}): store {:e} shadow {:e}",
                    i / dims,
                    rows[i],
                    sh.rows[i]
                ));
            }
        }
        let bound = self.bound_path(cx);
        ensure!(cx, bound == sh.bound, "bound path {bound:?}, shadow {:?}", sh.bound);
    }

    fn replace(&mut self, store: *mut nvs_store, shadow: Option<Shadow>) {
        // SAFETY: our handle (or NULL), not used afterwards.
        unsafe { c::nvs_store_free(self.store) };
        self.store = store;
        self.shadow = shadow;
    }
}

/// A buffer of `T` whose pointer can be made misaligned without reading outside it.
fn misaligned<T>(buf: &mut Vec<T>) -> *mut T {
    // One spare element so that a shifted pointer still has the stated length behind it.
    // SAFETY: one byte into a buffer of at least one element.
    unsafe { buf.as_mut_ptr().cast::<u8>().add(1).cast() }
}

// ---------------------------------------------------------------------------------------------
// Search options, the search oracle and the clean reference search.

/// The options a search uses after defaults are applied.
#[derive(Clone, Debug)]
struct Eff {
    top_k: usize,
    threshold: Option<f64>,
    within: Option<Vec<usize>>,
    threads: usize,
}

impl Default for Eff {
    fn default() -> Self {
        Eff { top_k: 10, threshold: None, within: None, threads: 0 }
    }
}

/// An options struct with spare memory behind it, so that `size` may claim more than
/// `sizeof(nvs_search_options)` without lying about the memory.
#[repr(C)]
struct Backed {
    o: nvs_search_options,
    spare: [u8; 256],
}

fn options_for(eff: &Eff, within_buf: &[usize]) -> Box<Backed> {
    // SAFETY: plain function returning a value.
    let mut o = unsafe { c::nvs_search_options_default() };
    o.top_k = eff.top_k;
    o.has_threshold = eff.threshold.is_some();
    o.threshold = eff.threshold.unwrap_or(0.0);
    o.has_within_rows = eff.within.is_some();
    o.within_rows = if within_buf.is_empty() { std::ptr::null() } else { within_buf.as_ptr() };
    o.within_rows_len = within_buf.len();
    o.threads = eff.threads;
    Box::new(Backed { o, spare: [0xa5; 256] })
}

fn within_problems(within: &[usize], len: usize) -> (bool, bool) {
    let mut seen = std::collections::HashSet::new();
    let dup = within.iter().any(|r| !seen.insert(*r));
    let outside = within.iter().any(|&r| r >= len);
    (dup, outside)
}

/// Statuses that the metric and options of a search call for, whatever the queries.
fn option_faults(e: &mut Expect, sh: &Shadow, metric: u32, eff: &Eff) {
    e.on(metric > EUCLIDEAN, INVALID_ARGUMENT);
    e.on(eff.top_k == 0, INVALID_ARGUMENT);
    e.on(eff.threshold.is_some_and(|t| !t.is_finite()), NON_FINITE);
    let mut within_ok = true;
    if let Some(w) = &eff.within {
        let (dup, outside) = within_problems(w, sh.len());
        e.on(dup, INVALID_ARGUMENT);
        e.on(outside, OUT_OF_RANGE);
        within_ok = !dup && !outside;
    }
    // Raw-store cosine divides by each selected row's norm (also for an empty batch).
    if metric == COSINE && !sh.normalize && within_ok {
        let zero_row = match &eff.within {
            Some(w) => w.iter().any(|&r| all_zero(sh.row(r))),
            None => (0..sh.len()).any(|r| all_zero(sh.row(r))),
        };
        e.on(zero_row, ZERO_NORM);
    }
}

/// Statuses that the values (not the pointers) of a search call for, for one query.
fn value_faults(e: &mut Expect, sh: &Shadow, metric: u32, query: &[f32], eff: &Eff) {
    option_faults(e, sh, metric, eff);
    let dims_ok = query.len() == sh.dims;
    e.on(!dims_ok, DIMENSION_MISMATCH);
    let finite = query.iter().all(|x| x.is_finite());
    e.on(!finite, NON_FINITE);
    let normalizes = metric == COSINE || sh.normalize;
    e.on(dims_ok && finite && normalizes && nvs::kernels::portable::norm_sq_f64(query) == 0.0, ZERO_NORM);
}

/// The query the library scans with: unit length for cosine and for normalize stores.
fn prepared_query(sh: &Shadow, metric: u32, q: &[f32]) -> Vec<f32> {
    if metric == COSINE || sh.normalize {
        let n = nvs::kernels::portable::norm_sq_f64(q).sqrt();
        q.iter().map(|&x| (x as f64 / n) as f32).collect()
    } else {
        q.to_vec()
    }
}

const U32: f64 = f32::EPSILON as f64 / 2.0;
const U64: f64 = f64::EPSILON / 2.0;
const F32_UNDERFLOW: f64 = 1.5e-45;

/// An interval holding every value the library may report for `row`: the exact value plus a
/// rounding bound (f32 kernels for normalize stores, f64 for raw stores), twice the textbook
/// bound for recursive summation so that any summation order or FMA use stays inside.
fn value_bounds(sh: &Shadow, metric: u32, qp: &[f32], row: usize) -> (f64, f64) {
    let r = sh.row(row);
    let d = sh.dims as f64;
    let k = 4.0 * d + 16.0;
    if metric == EUCLIDEAN {
        let (mut e, mut s) = (0.0f64, 0.0f64);
        for (&x, &y) in qp.iter().zip(r) {
            let t = x as f64 - y as f64;
            e += t * t;
            s += (x as f64) * (x as f64) + (y as f64) * (y as f64);
        }
        let tol = if sh.normalize { k * U32 * s + k * F32_UNDERFLOW } else { k * U64 * e };
        return ((e - tol).max(0.0).sqrt(), (e + tol).sqrt());
    }
    let (mut dot, mut s) = (0.0f64, 0.0f64);
    for (&x, &y) in qp.iter().zip(r) {
        let p = x as f64 * y as f64;
        dot += p;
        s += p.abs();
    }
    if sh.normalize {
        let tol = k * U32 * s + k * F32_UNDERFLOW;
        (dot - tol, dot + tol)
    } else if metric == DOT {
        let tol = k * U64 * s;
        (dot - tol, dot + tol)
    } else {
        let norm = nvs::kernels::portable::norm_sq_f64(r).sqrt();
        let c = dot / norm;
        let tol = k * U64 * s / norm + 2.0 * U32 * c.abs() + F32_UNDERFLOW;
        (c - tol, c + tol)
    }
}

/// Check an OK search's hits for one query against the shadow.
fn check_hits(cx: &Cx, sh: &Shadow, metric: u32, query: &[f32], eff: &Eff, hits: &[nvs_hit]) {
    let descending = metric != EUCLIDEAN;
    let candidates: Vec<usize> = match &eff.within {
        Some(w) => w.clone(),
        None => (0..sh.len()).collect(),
    };
    let show = || format!("hits {hits:?}");
    ensure!(cx, hits.len() <= eff.top_k, "{} hits for top_k {}: {}", hits.len(), eff.top_k, show());
    ensure!(cx, hits.len() <= candidates.len(), "{} hits from {} candidates", hits.len(), candidates.len());
    if eff.threshold.is_none() {
        ensure!(
            cx,
            hits.len() == eff.top_k.min(candidates.len()),
            "{} hits without a threshold, want min(top_k {}, candidates {})",
            hits.len(),
            eff.top_k,
            candidates.len()
        );
    }
    let in_within: std::collections::HashSet<usize> = candidates.iter().copied().collect();
    let mut seen = std::collections::HashSet::new();
    for h in hits {
        ensure!(cx, h.index < sh.len(), "hit index {} >= len {}: {}", h.index, sh.len(), show());
        ensure!(cx, in_within.contains(&h.index), "hit row {} is not a candidate: {}", h.index, show());
        ensure!(cx, seen.insert(h.index), "row {} hit twice: {}", h.index, show());
        ensure!(
            cx,
            h.id == sh.ids[h.index],
            "hit row {} has id {}, shadow id {}",
            h.index,
            h.id,
            sh.ids[h.index]
        );
        ensure!(cx, h.value.is_finite(), "hit value {} is not finite: {}", h.value, show());
    }
    for w in hits.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ordered = if a.value == b.value {
            a.index < b.index
        } else if descending {
            a.value > b.value
        } else {
            a.value < b.value
        };
        ensure!(
            cx,
            ordered,
            "hits out of order ({} {} then {} {}): {}",
            a.index,
            a.value,
            b.index,
            b.value,
            show()
        );
    }
    // Cosine thresholds are compared in f32 (documented in src/search.rs).
    let threshold = eff.threshold.map(|t| if metric == COSINE { t as f32 as f64 } else { t });
    let passes = |v: f64, t: f64| if descending { v >= t } else { v <= t };
    if let Some(t) = threshold {
        for h in hits {
            ensure!(
                cx,
                passes(h.value, t),
                "hit {} value {} fails threshold {t}: {}",
                h.index,
                h.value,
                show()
            );
        }
    }
    // Values against the exact f64 computation, and nothing surely better left out.
    let qp = prepared_query(sh, metric, query);
    let hit_rows: std::collections::HashSet<usize> = hits.iter().map(|h| h.index).collect();
    for h in hits {
        let (lo, hi) = value_bounds(sh, metric, &qp, h.index);
        ensure!(
            cx,
            lo <= h.value && h.value <= hi,
            "hit row {} value {:e} outside the exact bounds [{lo:e}, {hi:e}]",
            h.index,
            h.value
        );
    }
    let worst = hits.last().map(|h| h.value);
    for &r in &candidates {
        if hit_rows.contains(&r) {
            continue;
        }
        let (lo, hi) = value_bounds(sh, metric, &qp, r);
        let (sure_worst, _) = if descending { (lo, hi) } else { (hi, lo) };
        if hits.len() == eff.top_k {
            let w = worst.unwrap();
            let better = if descending { sure_worst > w } else { sure_worst < w };
            ensure!(
                cx,
                !better,
                "row {r} (value in [{lo:e}, {hi:e}]) beats the last hit {w:e} but was left out"
            );
        } else if let Some(t) = threshold {
            ensure!(
                cx,
                !passes(sure_worst, t),
                "row {r} (value in [{lo:e}, {hi:e}]) passes threshold {t} but was left out"
            );
        }
    }
}

const HIT_SENTINEL: nvs_hit = nvs_hit { index: 0xdead, id: 0xbeef, value: -1234.5 };

fn same_hits(a: &[nvs_hit], b: &[nvs_hit]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.index == y.index && x.id == y.id && x.value.to_bits() == y.value.to_bits())
}

fn untouched(hits: &[nvs_hit]) -> bool {
    same_hits(hits, &vec![HIT_SENTINEL; hits.len()])
}

/// A single search with valid pointers and ample capacity.
fn clean_search(cx: &Cx, st: &State, metric: u32, query: &[f32], eff: &Eff) -> (u32, Vec<nvs_hit>) {
    let within: Vec<usize> = eff.within.clone().unwrap_or_default();
    let opts = options_for(eff, &within);
    let cap = eff.top_k.min(eff.within.as_ref().map_or(st.len(), Vec::len));
    let mut hits = vec![HIT_SENTINEL; cap.max(1)];
    let mut n = usize::MAX;
    // SAFETY: every pointer is valid for its stated length.
    let s = call(cx, "search(clean)", || unsafe {
        c::nvs_store_search(
            st.store,
            metric,
            query.as_ptr(),
            query.len(),
            &opts.o,
            hits.as_mut_ptr(),
            cap,
            &mut n,
        )
    });
    if s != OK {
        ensure!(cx, n == usize::MAX, "failed search wrote hits_len");
        ensure!(cx, untouched(&hits), "failed search wrote hits");
        return (s, Vec::new());
    }
    ensure!(cx, n <= cap, "search wrote hits_len {n} > capacity {cap}");
    ensure!(cx, untouched(&hits[n..]), "search wrote past hits_len");
    hits.truncate(n);
    (s, hits)
}

/// A batch search with valid pointers and ample capacity.
fn clean_batch(
    cx: &Cx,
    st: &State,
    metric: u32,
    queries: &[f32],
    eff: &Eff,
    per_query: usize,
) -> (u32, Vec<usize>, Vec<nvs_hit>) {
    let within: Vec<usize> = eff.within.clone().unwrap_or_default();
    let opts = options_for(eff, &within);
    let nq = if st.dims() > 0 { queries.len() / st.dims() } else { 0 };
    let mut hits = vec![HIT_SENTINEL; (nq * per_query).max(1)];
    let mut lens = vec![usize::MAX; nq.max(1)];
    // SAFETY: every pointer is valid for its stated length.
    let s = call(cx, "search_batch(clean)", || unsafe {
        c::nvs_store_search_batch(
            st.store,
            metric,
            queries.as_ptr(),
            queries.len(),
            &opts.o,
            hits.as_mut_ptr(),
            nq * per_query,
            per_query,
            lens.as_mut_ptr(),
        )
    });
    (s, lens, hits)
}

/// Resolve an options spec against the store (AtHit thresholds run a search first).
fn resolve_options(cx: &Cx, st: &State, spec: &OptSpec, metric: u32, first_query: &[f32]) -> Eff {
    if spec.null {
        return Eff::default();
    }
    let len = st.len();
    let top_k = match spec.top_k {
        TopKSpec::Small(v) => v as usize,
        TopKSpec::Huge(s) => {
            [usize::MAX, isize::MAX as usize, 1 << 40, u32::MAX as usize + 1][s as usize % 4]
        }
    };
    let within = spec.within.as_ref().map(|w| match w {
        Within::Rows(v) => v.iter().take(64).map(|i| i.get(len)).collect(),
        Within::All => (0..len).collect(),
        Within::Reversed => (0..len).rev().collect(),
        Within::Empty | Within::NullEmpty => Vec::new(),
        Within::Stride { start, step } => {
            (*start as usize % len.max(1)..len).step_by(1 + *step as usize % 7).collect()
        }
    });
    let threads = [0, 1, 2, 3, 4, 7, 64, usize::MAX][spec.threads as usize % 8];
    let mut eff = Eff { top_k, threshold: None, within, threads };
    eff.threshold = spec.threshold.map(|t| match t {
        Thr::Value(f) => f.get() as f64,
        Thr::Bits(b) => f64::from_bits(b),
        Thr::Special(s) => SPECIAL_F64[s as usize % SPECIAL_F64.len()],
        Thr::AtHit { rank, ulps } => {
            let probe = Eff { top_k: rank as usize + 1, threshold: None, ..eff.clone() };
            let (s, hits) = clean_search(cx, st, metric, first_query, &probe);
            let mut v = if s == OK { hits.last().map_or(0.0, |h| h.value) } else { 0.0 };
            for _ in 0..ulps.unsigned_abs().min(8) {
                v = if ulps > 0 { v.next_up() } else { v.next_down() };
            }
            v
        }
    });
    eff
}

fn build_query(st: &State, spec: &QuerySpec, d: usize) -> Vec<f32> {
    match spec {
        QuerySpec::Values(v) if !v.is_empty() => (0..d).map(|i| v[i % v.len()].get()).collect(),
        QuerySpec::Values(_) | QuerySpec::Zero => vec![0.0; d],
        QuerySpec::Row { index, tweak } => {
            let mut q = match &st.shadow {
                Some(sh) if sh.len() > 0 && sh.dims == d => sh.row(index.get(sh.len()) % sh.len()).to_vec(),
                _ => vec![1.0; d],
            };
            if let (Some((at, f)), false) = (tweak, q.is_empty()) {
                let n = q.len();
                q[*at as usize % n] = f.get();
            }
            q
        }
        QuerySpec::Gen { seed, style } => gen_rows(1, d, *seed, *style),
    }
}

// ---------------------------------------------------------------------------------------------
// Ops.

fn op_new(cx: &Cx, st: &mut State, dims: Dims, normalize: bool, float16: bool, null_out: bool) {
    let d = dims.get();
    let mut out: *mut nvs_store = std::ptr::null_mut();
    let out_ptr = if null_out { std::ptr::null_mut() } else { &mut out as *mut _ };
    // SAFETY: out is NULL or valid.
    let s = call(cx, "nvs_store_new", || unsafe {
        if float16 {
            c::nvs_store_new_with_storage(d, normalize, 1, out_ptr)
        } else {
            c::nvs_store_new(d, normalize, out_ptr)
        }
    });
    let mut e = Expect::default();
    e.on(null_out, NULL_ARGUMENT);
    e.on(d == 0 || d > i32::MAX as usize / 4, INVALID_ARGUMENT);
    e.judge(cx, "nvs_store_new", s);
    if s != OK {
        ensure!(cx, out.is_null(), "failed nvs_store_new wrote *out");
        return;
    }
    ensure!(cx, !out.is_null(), "nvs_store_new returned OK and NULL");
    st.replace(out, Some(Shadow { dims: d, normalize, float16, rows: Vec::new(), ids: Vec::new(), bound: None }));
}

fn op_add(cx: &Cx, st: &mut State, mut vectors: Vec<f32>, n: usize, ids: &IdsSpec, fault: Option<AddFault>) {
    let start = st.len();
    // Always `n` ids behind the pointer, so that a fault that passes a pointer for RowIndex
    // ids still points at real memory.
    let mut id_buf: Vec<u64> = match ids {
        IdsSpec::RowIndex => (start as u64..(start + n) as u64).collect(),
        IdsSpec::Given(v) if !v.is_empty() => (0..n).map(|i| v[i % v.len()]).collect(),
        IdsSpec::Given(_) => vec![0; n],
        IdsSpec::Seq(b) => (0..n as u64).map(|i| b.wrapping_add(i)).collect(),
        IdsSpec::Same(b) => vec![*b; n],
    };
    let with_ids = !matches!(ids, IdsSpec::RowIndex);
    let mut vec_len = vectors.len();
    let mut ids_len = if with_ids { n } else { 0 };
    vectors.push(1.0); // spare element for a misaligned pointer
    id_buf.push(7);
    let mut store = st.store;
    let mut vec_ptr = vectors.as_ptr();
    let mut ids_ptr = if with_ids { id_buf.as_ptr() } else { std::ptr::null() };
    let mut e = Expect::default();
    match fault {
        None => {}
        Some(AddFault::NullStore) => store = std::ptr::null_mut(),
        Some(AddFault::VectorsNull) => vec_ptr = std::ptr::null(),
        Some(AddFault::VectorsMisaligned) => vec_ptr = misaligned(&mut vectors),
        Some(AddFault::VectorsHuge(s)) => vec_len = huge_len(s, 4),
        Some(AddFault::VectorsShorter(k)) => vec_len = vec_len.saturating_sub(1 + k as usize % 8),
        Some(AddFault::VectorsLonger(k)) => {
            let extra = 1 + k as usize % 8;
            vectors.pop();
            vectors.extend(std::iter::repeat_n(0.5, extra));
            vectors.push(1.0);
            vec_ptr = vectors.as_ptr();
            vec_len += extra;
        }
        Some(AddFault::VectorsEmpty) => vec_len = 0,
        Some(AddFault::IdsNullWithLen(k)) => {
            ids_ptr = std::ptr::null();
            ids_len = 1 + k as usize;
        }
        Some(AddFault::IdsMisaligned) => {
            ids_ptr = misaligned(&mut id_buf);
            ids_len = n;
        }
        Some(AddFault::IdsHuge(s)) => {
            ids_ptr = id_buf.as_ptr();
            ids_len = huge_len(s, 8);
        }
        Some(AddFault::IdsShorter(k)) => {
            ids_ptr = id_buf.as_ptr();
            ids_len = n.saturating_sub(1 + k as usize % 4);
        }
        Some(AddFault::IdsLonger(k)) => {
            let extra = 1 + k as usize % 4;
            id_buf.pop();
            id_buf.extend(std::iter::repeat_n(99, extra));
            id_buf.push(7);
            ids_ptr = id_buf.as_ptr();
            ids_len = n + extra;
        }
    }
    // SAFETY: pointers are NULL, or valid (misaligned ones included) for the stated lengths
    // unless the length is huge, which the library must refuse before reading.
    let s =
        call(cx, "nvs_store_add", || unsafe { c::nvs_store_add(store, vec_ptr, vec_len, ids_ptr, ids_len) });
    let Some(sh) = &st.shadow else {
        e.on(true, NULL_ARGUMENT);
        e.judge(cx, "nvs_store_add (no store)", s);
        return;
    };
    e.on(store.is_null(), NULL_ARGUMENT);
    let vec_huge = vec_len > MAX_FLOATS * 2;
    e.on(vec_len > 0 && vec_ptr.is_null(), NULL_ARGUMENT);
    e.on(vec_len > 0 && !vec_ptr.is_null() && !vec_ptr.is_aligned(), INVALID_ARGUMENT);
    e.on(vec_huge, INVALID_ARGUMENT);
    let ids_huge = ids_len > MAX_FLOATS * 2;
    e.on(ids_len > 0 && !ids_ptr.is_null() && !ids_ptr.is_aligned(), INVALID_ARGUMENT);
    e.on(ids_huge, INVALID_ARGUMENT);
    e.on(!vec_len.is_multiple_of(sh.dims), DIMENSION_MISMATCH);
    let null_ids_with_len = ids_ptr.is_null() && ids_len > 0;
    e.on(null_ids_with_len, NULL_ARGUMENT);
    let rows = vec_len.checked_div(sh.dims).unwrap_or(0);
    e.on(!ids_ptr.is_null() && ids_len != rows, INVALID_ARGUMENT);
    let passed =
        if vec_huge || vec_ptr.is_null() || !vec_ptr.is_aligned() { &[][..] } else { &vectors[..vec_len] };
    let clean_shape = e.faults.is_empty() || (null_ids_with_len && e.faults == [NULL_ARGUMENT]);
    if clean_shape && rows > 0 {
        e.on(passed.iter().any(|x| !x.is_finite()), NON_FINITE);
        let zero_row = passed.chunks_exact(sh.dims).any(all_zero);
        e.on(sh.normalize && zero_row && passed.iter().all(|x| x.is_finite()), ZERO_NORM);
        // A float16 store: a prepared value beyond float16's range, once the float32 checks pass.
        if sh.float16 && e.faults.is_empty() {
            let prepared = stored_rows(passed, sh.dims, sh.normalize);
            let overflow = prepared.iter().any(|&x| !nvs::kernels::f16::to_f32(nvs::kernels::f16::to_f16(x)).is_finite());
            e.on(overflow, OUT_OF_RANGE);
        }
    }
    e.judge(cx, "nvs_store_add", s);
    if s != OK {
        return;
    }
    let sh = st.shadow.as_mut().unwrap();
    let prepared = stored_rows(passed, sh.dims, sh.normalize);
    sh.rows.extend(if sh.float16 { rounded(&prepared) } else { prepared });
    if ids_ptr.is_null() {
        sh.ids.extend((start..start + rows).map(|i| i as u64));
    } else {
        sh.ids.extend_from_slice(&id_buf[..rows]);
    }
}

fn op_get(cx: &Cx, st: &State, index: Idx, with_vector: bool, with_id: bool, fault: Option<GetFault>) {
    let d = st.build_dims();
    let index = index.get(st.len());
    let mut buf = vec![f32::from_bits(0x7fa5_a5a5); d + 9];
    let mut len = if with_vector { d } else { 0 };
    let mut ptr = if with_vector { buf.as_mut_ptr() } else { std::ptr::null_mut() };
    let mut id = 0xfeed_u64;
    let id_ptr = if with_id { &mut id as *mut u64 } else { std::ptr::null_mut() };
    let mut store = st.store;
    match fault {
        None => {}
        Some(GetFault::NullStore) => store = std::ptr::null_mut(),
        Some(GetFault::VectorNullWithLen(k)) => {
            ptr = std::ptr::null_mut();
            len = 1 + k as usize;
        }
        Some(GetFault::VectorMisaligned) => {
            ptr = misaligned(&mut buf);
            len = d;
        }
        Some(GetFault::VectorHuge(s)) => {
            ptr = buf.as_mut_ptr();
            len = huge_len(s, 4);
        }
        Some(GetFault::VectorShort(k)) => {
            ptr = buf.as_mut_ptr();
            len = d.saturating_sub(1 + k as usize % 4);
        }
        Some(GetFault::VectorLonger(k)) => {
            ptr = buf.as_mut_ptr();
            len = d + 1 + k as usize % 8;
        }
    }
    let before = bits(&buf);
    // SAFETY: as in op_add.
    let s = call(cx, "nvs_store_get", || unsafe { c::nvs_store_get(store, index, ptr, len, id_ptr) });
    let mut e = Expect::default();
    e.on(store.is_null(), NULL_ARGUMENT);
    if let Some(sh) = &st.shadow {
        e.on(!ptr.is_null() && len > 0 && !ptr.is_aligned(), INVALID_ARGUMENT);
        e.on(len > MAX_FLOATS * 2, INVALID_ARGUMENT);
        e.on(index >= sh.len(), NOT_FOUND);
        e.on(!ptr.is_null() && len < sh.dims, BUFFER_TOO_SMALL);
    }
    e.judge(cx, "nvs_store_get", s);
    if s != OK {
        ensure!(cx, bits(&buf) == before, "failed get wrote the vector buffer");
        ensure!(cx, id == 0xfeed, "failed get wrote the id");
        return;
    }
    let sh = st.shadow.as_ref().unwrap();
    if with_id {
        ensure!(cx, id == sh.ids[index], "get({index}) id {id}, shadow {}", sh.ids[index]);
    }
    if !ptr.is_null() && ptr == buf.as_mut_ptr() {
        ensure!(cx, bits(&buf[..d]) == bits(sh.row(index)), "get({index}) vector differs from the shadow");
        ensure!(cx, bits(&buf[d..]) == before[d..], "get wrote past the row");
    }
}

#[allow(clippy::too_many_arguments)]
fn op_read_rows(
    cx: &Cx,
    st: &State,
    start: Idx,
    count: Idx,
    with_vectors: bool,
    with_ids: bool,
    fault: Option<ReadFault>,
) {
    let d = st.build_dims();
    let len = st.len();
    let start = start.get(len);
    let count = count.get(len);
    let fits = start.checked_add(count).is_some_and(|e| e <= len);
    let want = if fits { count } else { count.min(8) };
    let mut vbuf = vec![f32::from_bits(0x7fa5_a5a5); want * d + 9];
    let mut ibuf = vec![0xfeed_u64; want + 5];
    let (mut vptr, mut vlen) =
        if with_vectors { (vbuf.as_mut_ptr(), want * d) } else { (std::ptr::null_mut(), 0) };
    let (mut iptr, mut ilen) = if with_ids { (ibuf.as_mut_ptr(), want) } else { (std::ptr::null_mut(), 0) };
    let mut store = st.store;
    match fault {
        None => {}
        Some(ReadFault::NullStore) => store = std::ptr::null_mut(),
        Some(ReadFault::VectorsNullWithLen(k)) => (vptr, vlen) = (std::ptr::null_mut(), 1 + k as usize),
        Some(ReadFault::VectorsMisaligned) => (vptr, vlen) = (misaligned(&mut vbuf), want * d),
        Some(ReadFault::VectorsHuge(s)) => (vptr, vlen) = (vbuf.as_mut_ptr(), huge_len(s, 4)),
        Some(ReadFault::VectorsShort(k)) => {
            (vptr, vlen) = (vbuf.as_mut_ptr(), (want * d).saturating_sub(1 + k as usize % 4))
        }
        Some(ReadFault::VectorsLonger(k)) => {
            (vptr, vlen) = (vbuf.as_mut_ptr(), want * d + 1 + k as usize % 8)
        }
        Some(ReadFault::IdsNullWithLen(k)) => (iptr, ilen) = (std::ptr::null_mut(), 1 + k as usize),
        Some(ReadFault::IdsMisaligned) => (iptr, ilen) = (misaligned(&mut ibuf), want),
        Some(ReadFault::IdsHuge(s)) => (iptr, ilen) = (ibuf.as_mut_ptr(), huge_len(s, 8)),
        Some(ReadFault::IdsShort(k)) => {
            (iptr, ilen) = (ibuf.as_mut_ptr(), want.saturating_sub(1 + k as usize % 4))
        }
        Some(ReadFault::IdsLonger(k)) => (iptr, ilen) = (ibuf.as_mut_ptr(), want + 1 + k as usize % 4),
    }
    let (vbefore, ibefore) = (bits(&vbuf), ibuf.clone());
    // SAFETY: as in op_add.
    let s = call(cx, "nvs_store_read_rows", || unsafe {
        c::nvs_store_read_rows(store, start, count, vptr, vlen, iptr, ilen)
    });
    let mut e = Expect::default();
    e.on(store.is_null(), NULL_ARGUMENT);
    if let Some(sh) = &st.shadow {
        e.on(!vptr.is_null() && vlen > 0 && !vptr.is_aligned(), INVALID_ARGUMENT);
        e.on(vlen > MAX_FLOATS * 2, INVALID_ARGUMENT);
        e.on(!iptr.is_null() && ilen > 0 && !iptr.is_aligned(), INVALID_ARGUMENT);
        e.on(ilen > MAX_FLOATS * 2, INVALID_ARGUMENT);
        e.on(!fits, OUT_OF_RANGE);
        e.on(!vptr.is_null() && vlen < count.saturating_mul(sh.dims), BUFFER_TOO_SMALL);
        e.on(!iptr.is_null() && ilen < count, BUFFER_TOO_SMALL);
    }
    e.judge(cx, "nvs_store_read_rows", s);
    if s != OK {
        ensure!(cx, bits(&vbuf) == vbefore && ibuf == ibefore, "failed read_rows wrote a buffer");
        return;
    }
    let sh = st.shadow.as_ref().unwrap();
    if vptr == vbuf.as_mut_ptr() {
        let want_rows = &sh.rows[start * sh.dims..(start + count) * sh.dims];
        ensure!(cx, bits(&vbuf[..count * d]) == bits(want_rows), "read_rows vectors differ from the shadow");
        ensure!(cx, bits(&vbuf[count * d..]) == vbefore[count * d..], "read_rows wrote past the rows");
    }
    if iptr == ibuf.as_mut_ptr() {
        ensure!(cx, ibuf[..count] == sh.ids[start..start + count], "read_rows ids differ from the shadow");
        ensure!(cx, ibuf[count..] == ibefore[count..], "read_rows wrote past the ids");
    }
}

/// Options as passed in the main call, with a fault applied.
struct MainOptions {
    backed: Option<Box<Backed>>,
    _within: Vec<usize>,
}

enum OptFault {
    SizeSmaller(u8),
    SizeLarger(u8),
    WithinNull(u8),
    WithinMisaligned,
    WithinHuge(u8),
    Stray,
}

fn main_options(spec: &OptSpec, eff: &Eff, fault: Option<OptFault>, e: &mut Expect) -> MainOptions {
    if spec.null {
        return MainOptions { backed: None, _within: Vec::new() };
    }
    let mut within = eff.within.clone().unwrap_or_default();
    within.push(0); // spare element for a misaligned pointer
    let used = within.len() - 1;
    let mut backed = options_for(eff, &within[..used]);
    let want = std::mem::size_of::<nvs_search_options>();
    let has = eff.within.is_some();
    match fault {
        None => {}
        Some(OptFault::SizeSmaller(k)) => {
            backed.o.size = want.saturating_sub(1 + k as usize % want);
            e.on(true, INVALID_ARGUMENT);
        }
        Some(OptFault::SizeLarger(k)) => {
            // A newer caller's struct: accepted while the bytes this library does not know are
            // all zero, INVALID_ARGUMENT once one is set (k's low bit picks which).
            let extra = 1 + (k as usize >> 1) % 200;
            backed.o.size = want + extra;
            backed.spare[..extra].fill(0);
            if k & 1 == 1 {
                backed.spare[extra - 1] = 1;
                e.on(true, INVALID_ARGUMENT);
            }
        }
        Some(OptFault::WithinNull(k)) => {
            backed.o.within_rows = std::ptr::null();
            backed.o.within_rows_len = 1 + k as usize;
            e.on(has, NULL_ARGUMENT);
        }
        Some(OptFault::WithinMisaligned) => {
            backed.o.within_rows = misaligned(&mut within);
            backed.o.within_rows_len = used;
            e.on(has && used > 0, INVALID_ARGUMENT);
        }
        Some(OptFault::WithinHuge(s)) => {
            backed.o.within_rows = within.as_ptr();
            backed.o.within_rows_len = huge_len(s, 8);
            e.on(has, INVALID_ARGUMENT);
        }
        Some(OptFault::Stray) if !has => {
            // Ignored: has_within_rows is false. A read would fault on this address.
            backed.o.within_rows = std::ptr::dangling();
            backed.o.within_rows_len = 12345;
        }
        Some(OptFault::Stray) => {}
    }
    MainOptions { backed: Some(backed), _within: within }
}

impl MainOptions {
    fn ptr(&self) -> *const nvs_search_options {
        self.backed.as_ref().map_or(std::ptr::null(), |b| &b.o)
    }
}

fn op_search(
    cx: &Cx,
    st: &State,
    metric: MetricSpec,
    query: &QuerySpec,
    spec: &OptSpec,
    fault: Option<SearchFault>,
) {
    let metric = metric.get();
    let d = st.build_dims();
    let mut q = build_query(st, query, d);
    let base = q.len();
    let eff = resolve_options(cx, st, spec, metric, &q);
    let mut e = Expect::default();
    let opt_fault = match fault {
        Some(SearchFault::SizeSmaller(k)) => Some(OptFault::SizeSmaller(k)),
        Some(SearchFault::SizeLarger(k)) => Some(OptFault::SizeLarger(k)),
        Some(SearchFault::WithinNull(k)) => Some(OptFault::WithinNull(k)),
        Some(SearchFault::WithinMisaligned) => Some(OptFault::WithinMisaligned),
        Some(SearchFault::WithinHuge(s)) => Some(OptFault::WithinHuge(s)),
        Some(SearchFault::StrayWithin) => Some(OptFault::Stray),
        _ => None,
    };
    let opts = main_options(spec, &eff, opt_fault, &mut e);
    let candidates = eff.within.as_ref().map_or(st.len(), Vec::len);
    let mut cap = eff.top_k.min(candidates);
    let mut qlen = base;
    let mut huge_query = false;
    let mut huge_hits = false;
    q.push(1.0); // spare element
    let mut qptr = q.as_ptr();
    let mut store = st.store;
    let mut hits = vec![HIT_SENTINEL; cap + 1];
    let mut hptr = hits.as_mut_ptr();
    let mut n = usize::MAX;
    let mut nptr = &mut n as *mut usize;
    match fault {
        Some(SearchFault::NullStore) => store = std::ptr::null_mut(),
        Some(SearchFault::HitsLenNull) => nptr = std::ptr::null_mut(),
        Some(SearchFault::QueryNull) => qptr = std::ptr::null(),
        Some(SearchFault::QueryMisaligned) => qptr = misaligned(&mut q),
        Some(SearchFault::QueryHuge(s)) => {
            qlen = huge_len(s, 4);
            huge_query = true;
        }
        Some(SearchFault::QueryShorter(k)) => qlen = base.saturating_sub(1 + k as usize % 4),
        Some(SearchFault::QueryLonger(k)) => {
            let extra = 1 + k as usize % 4;
            q.pop();
            q.extend(std::iter::repeat_n(0.25, extra + 1));
            qptr = q.as_ptr();
            qlen = base + extra;
        }
        Some(SearchFault::QueryEmpty) => qlen = 0,
        Some(SearchFault::HitsNull(k)) => {
            hptr = std::ptr::null_mut();
            cap = k as usize % 3;
        }
        Some(SearchFault::HitsMisaligned) => hptr = misaligned(&mut hits),
        Some(SearchFault::HitsHuge(s)) => {
            cap = huge_len(s, std::mem::size_of::<nvs_hit>());
            huge_hits = true;
        }
        Some(SearchFault::HitsCapacity(k)) => cap = cap.min(k as usize % 4),
        _ => {}
    }
    // SAFETY: as in op_add; the options struct has spare memory for any `size` we set.
    let s = call(cx, "nvs_store_search", || unsafe {
        c::nvs_store_search(store, metric, qptr, qlen, opts.ptr(), hptr, cap, nptr)
    });
    let Some(sh) = &st.shadow else {
        e.faults = vec![NULL_ARGUMENT];
        return e.judge(cx, "nvs_store_search (no store)", s);
    };
    // Pointer and length faults.
    e.on(store.is_null() || nptr.is_null(), NULL_ARGUMENT);
    e.on(qlen > 0 && qptr.is_null(), NULL_ARGUMENT);
    e.on(qlen > 0 && !qptr.is_null() && !qptr.is_aligned(), INVALID_ARGUMENT);
    e.on(cap > 0 && hptr.is_null(), NULL_ARGUMENT);
    e.on(cap > 0 && !hptr.is_null() && !hptr.is_aligned(), INVALID_ARGUMENT);
    e.on(huge_hits, INVALID_ARGUMENT);
    e.on(huge_query, DIMENSION_MISMATCH);
    let pointer_faults = !e.faults.is_empty();
    // Value faults, from what the library can read.
    let passed: &[f32] =
        if huge_query || qptr.is_null() || !qptr.is_aligned() { &q[..0] } else { &q[..qlen] };
    let mut v = Expect::default();
    value_faults(&mut v, sh, metric, if huge_query { &q[..0] } else { passed }, &eff);
    for &f in &v.faults {
        e.on(true, f);
    }
    // The same search with clean pointers: its status is decided by the values alone.
    let clean_query = &q[..base];
    let mut cv = Expect::default();
    value_faults(&mut cv, sh, metric, clean_query, &eff);
    let (cs, clean) = clean_search(cx, st, metric, clean_query, &eff);
    cv.judge(cx, "nvs_store_search(clean)", cs);
    if cs == OK && !pointer_faults && v.faults.is_empty() && clean.len() > cap {
        e.on(true, BUFFER_TOO_SMALL);
    }
    e.judge(cx, "nvs_store_search", s);
    let written = if hptr == hits.as_mut_ptr() { &hits[..] } else { &hits[..0] };
    match s {
        OK => {
            ensure!(cx, n <= cap, "hits_len {n} > capacity {cap}");
            ensure!(
                cx,
                same_hits(&written[..n], &clean),
                "hits differ from the clean search\n  {:?}\n  {clean:?}",
                &written[..n]
            );
            ensure!(cx, untouched(&written[n..]), "search wrote past hits_len");
        }
        BUFFER_TOO_SMALL if !pointer_faults => {
            ensure!(
                cx,
                n == clean.len(),
                "BUFFER_TOO_SMALL with hits_len {n}, clean search found {}",
                clean.len()
            );
            ensure!(cx, untouched(written), "BUFFER_TOO_SMALL wrote hits");
        }
        _ => {
            ensure!(cx, n == usize::MAX || s == BUFFER_TOO_SMALL, "failed search wrote hits_len");
            ensure!(cx, untouched(written), "failed search wrote hits");
        }
    }
    if cs != OK {
        return;
    }
    check_hits(cx, sh, metric, clean_query, &eff, &clean);
    // Thread count and batch of one give the same bits.
    if eff.threads != 1 {
        let (s1, one) = clean_search(cx, st, metric, clean_query, &Eff { threads: 1, ..eff.clone() });
        ensure!(
            cx,
            s1 == OK && same_hits(&one, &clean),
            "threads {} differs from threads 1:\n  {clean:?}\n  {one:?}",
            eff.threads
        );
    }
    let per_query = clean.len();
    let (bs, lens, bhits) = clean_batch(cx, st, metric, clean_query, &eff, per_query);
    ensure!(cx, bs == OK, "batch of one failed with {} where the single search succeeded", name(bs));
    ensure!(
        cx,
        lens[0] == clean.len() && same_hits(&bhits[..lens[0]], &clean),
        "batch of one differs from the single search:\n  single {clean:?}\n  batch  {:?}",
        &bhits[..lens[0].min(bhits.len())]
    );
}

fn op_batch(
    cx: &Cx,
    st: &State,
    metric: MetricSpec,
    specs: &[QuerySpec],
    spec: &OptSpec,
    per_query: PerQuery,
    fault: Option<BatchFault>,
) {
    let metric = metric.get();
    let d = st.build_dims();
    let nq = specs.len().min(MAX_BATCH);
    let mut queries: Vec<f32> = specs[..nq].iter().flat_map(|s| build_query(st, s, d)).collect();
    let base = queries.len();
    let first = if d > 0 && nq > 0 { queries[..d].to_vec() } else { Vec::new() };
    let eff = resolve_options(cx, st, spec, metric, &first);
    let mut e = Expect::default();
    let opt_fault = match fault {
        Some(BatchFault::SizeSmaller(k)) => Some(OptFault::SizeSmaller(k)),
        Some(BatchFault::SizeLarger(k)) => Some(OptFault::SizeLarger(k)),
        Some(BatchFault::WithinNull(k)) => Some(OptFault::WithinNull(k)),
        Some(BatchFault::WithinMisaligned) => Some(OptFault::WithinMisaligned),
        Some(BatchFault::WithinHuge(s)) => Some(OptFault::WithinHuge(s)),
        Some(BatchFault::StrayWithin) => Some(OptFault::Stray),
        _ => None,
    };
    let opts = main_options(spec, &eff, opt_fault, &mut e);
    let mut qlen = base;
    let mut huge_queries = false;
    queries.push(1.0);
    let mut qptr = queries.as_ptr();
    let mut store = st.store;
    match fault {
        Some(BatchFault::NullStore) => store = std::ptr::null_mut(),
        Some(BatchFault::QueriesNull) => qptr = std::ptr::null(),
        Some(BatchFault::QueriesMisaligned) => qptr = misaligned(&mut queries),
        Some(BatchFault::QueriesHuge(s)) => {
            qlen = huge_len(s, 4);
            huge_queries = true;
        }
        Some(BatchFault::QueriesShorter(k)) => qlen = base.saturating_sub(1 + k as usize % (d + 1).max(2)),
        Some(BatchFault::QueriesLonger(k)) => {
            let extra = 1 + k as usize % (d + 1).max(2);
            queries.pop();
            for i in 0..=extra {
                queries.push(if i % 2 == 0 { 0.5 } else { -1.5 });
            }
            qptr = queries.as_ptr();
            qlen = base + extra;
        }
        Some(BatchFault::QueriesEmpty) => qlen = 0,
        _ => {}
    }
    let readable = !(huge_queries || (qlen > 0 && (qptr.is_null() || !qptr.is_aligned())));
    let passed: &[f32] = if readable { &queries[..qlen] } else { &queries[..0] };
    let n_passed = if d > 0 && qlen.is_multiple_of(d) && readable { qlen / d } else { 0 };
    let hpq = match per_query {
        PerQuery::TopK => eff.top_k,
        PerQuery::Exact(v) => v as usize % 16,
        PerQuery::Zero => 0,
        PerQuery::Huge(s) => [usize::MAX, isize::MAX as usize, 1 << 40][s as usize % 3],
    };
    let needed = n_passed.saturating_mul(hpq);
    let real = needed.min(1 << 14);
    let mut hits = vec![HIT_SENTINEL; real + 1];
    let mut hptr = hits.as_mut_ptr();
    let mut cap = real;
    let mut lens = vec![usize::MAX; n_passed.max(1)];
    let mut lptr = lens.as_mut_ptr();
    match fault {
        Some(BatchFault::LensNull) => lptr = std::ptr::null_mut(),
        Some(BatchFault::HitsNull) => hptr = std::ptr::null_mut(),
        Some(BatchFault::HitsMisaligned) => hptr = misaligned(&mut hits),
        Some(BatchFault::HitsCapacity(k)) => cap = k as usize % (real + 1),
        _ => {}
    }
    // SAFETY: as in op_search; `hits` holds `cap` entries, `lens` one per passed query (the
    // library writes `hits_lens` only after checking the queries' shape).
    let s = call(cx, "nvs_store_search_batch", || unsafe {
        c::nvs_store_search_batch(store, metric, qptr, qlen, opts.ptr(), hptr, cap, hpq, lptr)
    });
    let Some(sh) = &st.shadow else {
        e.faults = vec![NULL_ARGUMENT];
        return e.judge(cx, "nvs_store_search_batch (no store)", s);
    };
    e.on(store.is_null(), NULL_ARGUMENT);
    e.on(qlen > 0 && qptr.is_null(), NULL_ARGUMENT);
    e.on(qlen > 0 && !qptr.is_null() && !qptr.is_aligned(), INVALID_ARGUMENT);
    e.on(qlen > 0 && lptr.is_null(), NULL_ARGUMENT);
    if huge_queries {
        e.on(true, DIMENSION_MISMATCH);
        e.on(true, INVALID_ARGUMENT);
    }
    e.on(!qlen.is_multiple_of(sh.dims), DIMENSION_MISMATCH);
    let pointer_faults = !e.faults.is_empty();
    // Value faults per passed query, and the clean single search of each.
    let mut any_value_fault = false;
    let mut singles = Vec::new();
    let query_rows: Vec<&[f32]> =
        if qlen.is_multiple_of(sh.dims) { passed.chunks_exact(sh.dims).collect() } else { Vec::new() };
    let mut v = Expect::default();
    option_faults(&mut v, sh, metric, &eff);
    for &f in &v.faults {
        e.on(true, f);
        any_value_fault = true;
    }
    for q in &query_rows {
        let mut qv = Expect::default();
        value_faults(&mut qv, sh, metric, q, &eff);
        let (cs, hits1) = clean_search(cx, st, metric, q, &eff);
        qv.judge(cx, "nvs_store_search(clean, batch query)", cs);
        for &f in &qv.faults {
            e.on(true, f);
            any_value_fault = true;
        }
        singles.push(hits1);
    }
    let counts: Vec<usize> = singles.iter().map(Vec::len).collect();
    if !pointer_faults && !any_value_fault {
        // A hit buffer that is given (capacity > 0) must be usable before anything is written;
        // then a short one is BUFFER_TOO_SMALL (NULL with capacity 0 is a sizing call).
        let hits_null = cap > 0 && hptr.is_null();
        let hits_misaligned = cap > 0 && !hptr.is_null() && !hptr.is_aligned();
        e.on(hits_null, NULL_ARGUMENT);
        e.on(hits_misaligned, INVALID_ARGUMENT);
        if !hits_null && !hits_misaligned && (cap < needed || counts.iter().any(|&c| c > hpq)) {
            e.on(true, BUFFER_TOO_SMALL);
        }
    }
    e.judge(cx, "nvs_store_search_batch", s);
    let written_hits = if hptr == hits.as_mut_ptr() { &hits[..] } else { &hits[..0] };
    let written_lens = if lptr == lens.as_mut_ptr() { &lens[..] } else { &lens[..0] };
    match s {
        OK => {
            for (i, single) in singles.iter().enumerate() {
                ensure!(
                    cx,
                    written_lens[i] == single.len(),
                    "batch query {i}: {} hits, single search {}",
                    written_lens[i],
                    single.len()
                );
                let got = &written_hits[i * hpq..i * hpq + single.len()];
                ensure!(
                    cx,
                    same_hits(got, single),
                    "batch query {i} differs from its single search:\n  single {single:?}\n  batch  {got:?}"
                );
            }
        }
        BUFFER_TOO_SMALL => {
            if !written_lens.is_empty() && !singles.is_empty() {
                ensure!(
                    cx,
                    written_lens[..singles.len()] == counts[..],
                    "BUFFER_TOO_SMALL hits_lens {written_lens:?}, singles {counts:?}"
                );
            }
            ensure!(cx, untouched(written_hits), "BUFFER_TOO_SMALL wrote hits");
        }
        _ => {
            let lens_untouched = written_lens.iter().all(|&l| l == usize::MAX);
            ensure!(cx, lens_untouched, "failed batch ({}) wrote hits_lens {written_lens:?}", name(s));
            ensure!(cx, untouched(written_hits), "failed batch wrote hits");
        }
    }
    // Thread counts give the same bits for batches too.
    if s == OK && eff.threads != 1 && !query_rows.is_empty() {
        let all: Vec<f32> = query_rows.concat();
        let hpq1 = counts.iter().copied().max().unwrap_or(0);
        let (s1, l1, h1) = clean_batch(cx, st, metric, &all, &Eff { threads: 1, ..eff.clone() }, hpq1);
        ensure!(cx, s1 == OK, "batch with threads 1 failed: {}", name(s1));
        for (i, single) in singles.iter().enumerate() {
            ensure!(
                cx,
                l1[i] == single.len() && same_hits(&h1[i * hpq1..i * hpq1 + l1[i]], single),
                "batch threads 1 query {i} differs"
            );
        }
    }
}

fn op_save(cx: &Cx, st: &mut State, path: PathSpec, flag_bits: u8) {
    let f = flags(flag_bits, SAVE_FLAGS);
    let (cpath, resolved) = st.path(path);
    let p = cpath.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: NULL or a NUL-terminated path.
    let s = call(cx, "nvs_store_save", || unsafe {
        if f == 0 && flag_bits.is_multiple_of(2) {
            c::nvs_store_save(st.store, p)
        } else {
            c::nvs_store_save_with_flags(st.store, p, f)
        }
    });
    let mut e = Expect::default();
    let Some(sh) = &st.shadow else {
        e.on(true, NULL_ARGUMENT);
        return e.judge(cx, "nvs_store_save (no store)", s);
    };
    e.on(f & !SAVE_FLAGS != 0, INVALID_ARGUMENT);
    e.on(matches!(path, PathSpec::Empty), INVALID_ARGUMENT);
    e.on(matches!(path, PathSpec::Null) && sh.bound.is_none(), NO_BOUND_PATH);
    e.on(matches!(path, PathSpec::MissingDir), IO);
    e.judge(cx, "nvs_store_save", s);
    if s != OK {
        return;
    }
    let target = resolved.or_else(|| sh.bound.clone()).unwrap();
    let file =
        FileShadow {
            dims: sh.dims,
            normalize: sh.normalize,
            float16: sh.float16,
            rows: sh.rows.clone(),
            ids: sh.ids.clone(),
        };
    st.files.insert(target.clone(), file);
    st.shadow.as_mut().unwrap().bound = Some(target);
}

/// The shadow of a store opened from an archive: a normalize store keeps the rows that are
/// unit length (f64 norm within 2^-22 of 1, as every row it saved is; 2^-9 for float16 rows)
/// and normalizes (and rounds again) the others.
fn opened(file: &FileShadow, bound: Option<PathBuf>) -> Shadow {
    let tolerance = if file.float16 { 1.0 / 512.0 } else { 1.0 / (1u64 << 22) as f64 };
    let rows = if file.normalize {
        file.rows
            .chunks_exact(file.dims)
            .flat_map(|row| {
                let norm = nvs::kernels::portable::norm_sq_f64(row).sqrt();
                if (norm - 1.0).abs() <= tolerance {
                    row.to_vec()
                } else if file.float16 {
                    rounded(&normalized(row))
                } else {
                    normalized(row)
                }
            })
            .collect()
    } else {
        file.rows.clone()
    };
    Shadow { dims: file.dims, normalize: file.normalize, float16: file.float16, rows, ids: file.ids.clone(), bound }
}

fn op_open(cx: &Cx, st: &mut State, path: PathSpec, flag_bits: u8, null_out: bool) {
    let f = flags(flag_bits, OPEN_FLAGS);
    let (cpath, resolved) = st.path(path);
    let p = cpath.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let mut out: *mut nvs_store = std::ptr::null_mut();
    let out_ptr = if null_out { std::ptr::null_mut() } else { &mut out as *mut _ };
    // SAFETY: NULL or a NUL-terminated path; out NULL or valid.
    let s = call(cx, "nvs_store_open", || unsafe {
        if f == 0 && flag_bits.is_multiple_of(2) {
            c::nvs_store_open(p, out_ptr)
        } else {
            c::nvs_store_open_with_flags(p, f, out_ptr)
        }
    });
    let file = resolved.as_ref().and_then(|r| st.files.get(r));
    let mut e = Expect::default();
    e.on(null_out || matches!(path, PathSpec::Null), NULL_ARGUMENT);
    e.on(f & !OPEN_FLAGS != 0 || matches!(path, PathSpec::Empty), INVALID_ARGUMENT);
    e.on(matches!(path, PathSpec::A | PathSpec::B | PathSpec::MissingDir) && file.is_none(), IO);
    e.judge(cx, "nvs_store_open", s);
    if s != OK {
        ensure!(cx, out.is_null(), "failed open wrote *out");
        return;
    }
    let shadow = opened(file.unwrap(), resolved);
    st.replace(out, Some(shadow));
}

fn op_open_bytes(cx: &Cx, st: &mut State, path: PathSpec, flag_bits: u8, damage: Option<Damage>) {
    let f = flags(flag_bits, OPEN_FLAGS);
    let (_, resolved) = st.path(path);
    let file = resolved.as_ref().and_then(|r| st.files.get(r)).cloned();
    let mut bytes = match (&resolved, &file) {
        (Some(r), Some(_)) => std::fs::read(r).unwrap(),
        _ => Vec::new(),
    };
    let mut damaged = false;
    match damage {
        Some(Damage::Flip { at, xor }) if !bytes.is_empty() && xor != 0 => {
            let n = bytes.len();
            bytes[at as usize % n] ^= xor;
            damaged = true;
        }
        Some(Damage::Truncate(k)) if !bytes.is_empty() => {
            bytes.truncate(k as usize % bytes.len());
            damaged = true;
        }
        _ => {}
    }
    let mut out: *mut nvs_store = std::ptr::null_mut();
    // SAFETY: `bytes` is valid for its length.
    let s = call(cx, "nvs_store_open_bytes", || unsafe {
        c::nvs_store_open_bytes(bytes.as_ptr(), bytes.len(), f, &mut out)
    });
    let mut e = Expect::default();
    e.on(f & !OPEN_FLAGS != 0 || f & OPEN_MAP != 0, INVALID_ARGUMENT);
    e.on(file.is_none() || damaged, FORMAT);
    if damaged && f & !OPEN_FLAGS == 0 && f & OPEN_MAP == 0 && s == OK {
        // A damaged archive that still opens must hold exactly what was saved (the zip CRC
        // covers every member's data).
        let file = file.unwrap();
        let probe =
            State { store: out, shadow: Some(opened(&file, None)), files: HashMap::new(), dir: st.dir };
        probe.verify(cx);
        // SAFETY: our handle.
        unsafe { c::nvs_store_free(out) };
        return;
    }
    e.judge(cx, "nvs_store_open_bytes", s);
    if s != OK {
        ensure!(cx, out.is_null(), "failed open_bytes wrote *out");
        return;
    }
    st.replace(out, Some(opened(&file.unwrap(), None)));
}

fn op_reload(cx: &Cx, st: &mut State, flag_bits: u8) {
    let f = flags(flag_bits, OPEN_FLAGS);
    // SAFETY: NULL or our handle.
    let s = call(cx, "nvs_store_reload", || unsafe {
        if f == 0 && flag_bits.is_multiple_of(2) {
            c::nvs_store_reload(st.store)
        } else {
            c::nvs_store_reload_with_flags(st.store, f)
        }
    });
    let mut e = Expect::default();
    let Some(sh) = &st.shadow else {
        e.on(true, NULL_ARGUMENT);
        return e.judge(cx, "nvs_store_reload (no store)", s);
    };
    e.on(f & !OPEN_FLAGS != 0, INVALID_ARGUMENT);
    let file = sh.bound.as_ref().map(|b| st.files.get(b).expect("bound file in the map").clone());
    e.on(file.is_none(), NO_BOUND_PATH);
    if let Some(file) = &file {
        e.on(file.dims != sh.dims, DIMENSION_MISMATCH);
        e.on(file.normalize != sh.normalize, INVALID_ARGUMENT);
        e.on(file.float16 != sh.float16, INVALID_ARGUMENT);
    }
    e.judge(cx, "nvs_store_reload", s);
    if s == OK {
        let bound = sh.bound.clone();
        st.shadow = Some(opened(&file.unwrap(), bound));
    }
}

/// Write an archive from a scratch store, so that the bound file can change under the store.
fn op_write_other(cx: &Cx, st: &mut State, path: PathSpec, dims: u8, normalize: bool, rows: u8, seed: u32) {
    let (Some(cpath), Some(resolved)) = st.path(path) else { return };
    if matches!(path, PathSpec::MissingDir) {
        return;
    }
    let d = 1 + dims as usize % 8;
    let n = rows as usize % 16;
    let mut other: *mut nvs_store = std::ptr::null_mut();
    // SAFETY: valid out-pointer, buffers and path; the scratch handle is freed below.
    unsafe {
        ensure!(
            cx,
            call(cx, "new(other)", || c::nvs_store_new(d, normalize, &mut other)) == OK,
            "new(other)"
        );
        let v = gen_rows(n, d, seed, seed as u8);
        let ids: Vec<u64> = (0..n as u64).map(|i| i * 3 + seed as u64).collect();
        let s = call(cx, "add(other)", || c::nvs_store_add(other, v.as_ptr(), v.len(), ids.as_ptr(), n));
        let stored = if s == OK { stored_rows(&v, d, normalize) } else { Vec::new() };
        let kept_ids = if s == OK { ids } else { Vec::new() };
        let saved = call(cx, "save(other)", || c::nvs_store_save(other, cpath.as_ptr()));
        c::nvs_store_free(other);
        ensure!(cx, saved == OK, "save(other): {}", name(saved));
        st.files.insert(resolved, FileShadow { dims: d, normalize, float16: false, rows: stored, ids: kept_ids });
    }
}

fn op_file_path(cx: &Cx, st: &State, capacity: u8, null_len: bool) {
    let cap = capacity as usize;
    let mut buf = vec![0xa5u8; cap + 1];
    let bptr = if cap == 0 && capacity.is_multiple_of(2) { std::ptr::null_mut() } else { buf.as_mut_ptr() };
    let mut len = usize::MAX;
    let lptr = if null_len { std::ptr::null_mut() } else { &mut len as *mut usize };
    // SAFETY: buffer of `cap` bytes (or NULL with 0), len NULL or valid.
    let s = call(cx, "nvs_store_file_path", || unsafe {
        c::nvs_store_file_path(st.store, bptr.cast(), cap, lptr)
    });
    let mut e = Expect::default();
    let Some(sh) = &st.shadow else {
        e.on(true, NULL_ARGUMENT);
        return e.judge(cx, "nvs_store_file_path (no store)", s);
    };
    e.on(null_len, NULL_ARGUMENT);
    e.on(sh.bound.is_none(), NO_BOUND_PATH);
    let want = sh.bound.as_ref().map(|b| b.as_os_str().as_encoded_bytes().to_vec());
    if let Some(w) = &want {
        e.on(cap < w.len() + 1, BUFFER_TOO_SMALL);
    }
    e.judge(cx, "nvs_store_file_path", s);
    match s {
        OK => {
            let w = want.unwrap();
            ensure!(
                cx,
                len == w.len() && buf[..len] == w[..] && buf[len] == 0,
                "file_path wrote {:?}",
                &buf[..cap]
            );
        }
        BUFFER_TOO_SMALL => ensure!(cx, len == want.unwrap().len(), "BUFFER_TOO_SMALL with len {len}"),
        _ => ensure!(cx, len == usize::MAX, "failed file_path wrote len"),
    }
}

// ---------------------------------------------------------------------------------------------

fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        // Folders of processes that crashed (no exit handler ran) are removed here.
        if Path::new("/proc/self").exists() {
            for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("nvs-fuzz-c_api-") {
                    if !Path::new("/proc").join(pid).exists() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
        let dir = base.join(format!("nvs-fuzz-c_api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        extern "C" fn cleanup() {
            print_stats();
            if let Some(d) = DIR.get() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
        extern "C" {
            fn atexit(f: extern "C" fn()) -> i32;
        }
        // SAFETY: registers a plain function to run at exit.
        unsafe { atexit(cleanup) };
        dir
    })
}

fn run(input: &Input) {
    let dir = scratch_dir();
    for name in ["a.npz", "b.npz"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let mut st = State { store: std::ptr::null_mut(), shadow: None, files: HashMap::new(), dir };
    let dims = Dims::Medium((input.dims % 64) as u16);
    let start = Op::New { dims, normalize: input.normalize, float16: input.float16, null_out: false };
    let cx = Cx { i: usize::MAX, op: &start };
    op_new(&cx, &mut st, dims, input.normalize, input.float16, false);
    st.verify(&cx);
    for (i, op) in input.ops.iter().take(MAX_OPS).enumerate() {
        let cx = Cx { i, op };
        let mutates = match op {
            Op::New { dims, normalize, float16, null_out } => {
                op_new(&cx, &mut st, *dims, *normalize, *float16, *null_out);
                true
            }
            Op::Free => {
                st.replace(std::ptr::null_mut(), None);
                true
            }
            Op::Add { values, rows, ids, fault } => {
                let d = st.build_dims();
                let room = MAX_FLOATS.saturating_sub(st.len() * d).checked_div(d).unwrap_or(0);
                let n = (*rows as usize % 64).min(room);
                let v: Vec<f32> = if values.is_empty() {
                    vec![0.0; n * d]
                } else {
                    (0..n * d).map(|i| values[i % values.len()].get()).collect()
                };
                op_add(&cx, &mut st, v, n, ids, *fault);
                true
            }
            Op::AddGen { rows, seed, style, ids, fault } => {
                let d = st.build_dims();
                let room = MAX_FLOATS.saturating_sub(st.len() * d).checked_div(d).unwrap_or(0);
                let n = (*rows as usize % 1100).min(room);
                op_add(&cx, &mut st, gen_rows(n, d, *seed, *style), n, ids, *fault);
                true
            }
            Op::Get { index, vector, id, fault } => {
                op_get(&cx, &st, *index, *vector, *id, *fault);
                false
            }
            Op::ReadRows { start, count, vectors, ids, fault } => {
                op_read_rows(&cx, &st, *start, *count, *vectors, *ids, *fault);
                false
            }
            Op::Clear { null_store } => {
                let store = if *null_store { std::ptr::null_mut() } else { st.store };
                // SAFETY: NULL or our handle.
                let s = call(&cx, "nvs_store_clear", || unsafe { c::nvs_store_clear(store) });
                let mut e = Expect::default();
                e.on(store.is_null(), NULL_ARGUMENT);
                e.judge(&cx, "nvs_store_clear", s);
                if s == OK {
                    let sh = st.shadow.as_mut().unwrap();
                    sh.rows.clear();
                    sh.ids.clear();
                }
                true
            }
            Op::Search { metric, query, options, fault } => {
                op_search(&cx, &st, *metric, query, options, *fault);
                false
            }
            Op::Batch { metric, queries, options, per_query, fault } => {
                op_batch(&cx, &st, *metric, queries, options, *per_query, *fault);
                false
            }
            Op::Save { path, flags } => {
                op_save(&cx, &mut st, *path, *flags);
                true
            }
            Op::Open { path, flags, null_out } => {
                op_open(&cx, &mut st, *path, *flags, *null_out);
                true
            }
            Op::OpenBytes { path, flags, damage } => {
                op_open_bytes(&cx, &mut st, *path, *flags, *damage);
                true
            }
            Op::Reload { flags } => {
                op_reload(&cx, &mut st, *flags);
                true
            }
            Op::WriteOther { path, dims, normalize, rows, seed } => {
                op_write_other(&cx, &mut st, *path, *dims, *normalize, *rows, *seed);
                false
            }
            Op::FilePath { capacity, null_len } => {
                op_file_path(&cx, &st, *capacity, *null_len);
                false
            }
        };
        if mutates {
            st.verify(&cx);
        } else {
            // SAFETY: NULL or our handle.
            let len = unsafe { c::nvs_store_len(st.store) };
            ensure!(cx, len == st.len(), "len {len} after a read-only call, shadow {}", st.len());
        }
    }
    st.replace(std::ptr::null_mut(), None);
}

fuzz_target!(|input: Input| run(&input));
