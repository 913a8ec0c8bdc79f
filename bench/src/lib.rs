//! The bandwidth floor: a read-only scan of a float32 buffer at full memory speed, exported
//! for the Python driver (ctypes) and used by the Rust benchmark binary.

/// Sum of `len` floats at `data` (read-only streaming; the result only defeats dead-code
/// elimination).
///
/// # Safety
/// `data` must be valid for reading `len` floats.
#[no_mangle]
pub unsafe extern "C" fn nvsb_scan(data: *const f32, len: usize) -> f32 {
    if len == 0 {
        return 0.0;
    }
    // SAFETY: caller contract.
    let s = unsafe { std::slice::from_raw_parts(data, len) };
    scan(s)
}

/// Sum of `len` floats read as `streams` interleaved streams (see [`scan_streams`]).
///
/// # Safety
/// As [`nvsb_scan`].
#[no_mangle]
pub unsafe extern "C" fn nvsb_scan_streams(data: *const f32, len: usize, streams: usize) -> f32 {
    if len == 0 {
        return 0.0;
    }
    // SAFETY: caller contract.
    let s = unsafe { std::slice::from_raw_parts(data, len) };
    scan_streams(s, streams)
}

/// A read floor on two threads: the calling thread and one helper started once, as nvs's own
/// worker pool is, so a two-thread time carries no thread start.
pub struct TwoThreadScan {
    work: std::sync::mpsc::Sender<(usize, usize, usize)>,
    done: std::sync::mpsc::Receiver<f32>,
}

impl TwoThreadScan {
    pub fn new() -> TwoThreadScan {
        let (work, jobs) = std::sync::mpsc::channel::<(usize, usize, usize)>();
        let (results, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for (at, len, streams) in jobs {
                // SAFETY: `scan` sends the address and length of a live slice and waits for
                // this result before it returns, so the slice outlives the read.
                let part = unsafe { std::slice::from_raw_parts(at as *const f32, len) };
                if results.send(scan_streams(part, streams)).is_err() {
                    return;
                }
            }
        });
        TwoThreadScan { work, done }
    }

    /// [`scan_streams`] of `s`, its second half on the helper thread.
    pub fn scan(&self, s: &[f32], streams: usize) -> f32 {
        let (first, second) = s.split_at(s.len() / 2);
        self.work.send((second.as_ptr() as usize, second.len(), streams)).expect("helper thread");
        let a = scan_streams(first, streams);
        a + self.done.recv().expect("helper thread")
    }
}

impl Default for TwoThreadScan {
    fn default() -> Self {
        Self::new()
    }
}

pub fn scan(s: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 checked.
        return unsafe { scan_avx2(s) };
    }
    scan_portable(s)
}

fn scan_portable(s: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let mut chunks = s.chunks_exact(16);
    for c in &mut chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(s: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut a = [_mm256_setzero_ps(); 8];
    let mut chunks = s.chunks_exact(64);
    for c in &mut chunks {
        for (k, acc) in a.iter_mut().enumerate() {
            // SAFETY: c holds 64 floats.
            *acc = _mm256_add_ps(*acc, unsafe { _mm256_loadu_ps(c.as_ptr().add(8 * k)) });
        }
    }
    let mut lanes = [0.0f32; 8];
    let mut t = a[0];
    for v in &a[1..] {
        t = _mm256_add_ps(t, *v);
    }
    // SAFETY: lanes holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), t) };
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Sum of the floats of `s` read as `streams` interleaved sequential streams (the buffer cut
/// into `streams` equal parts, one load from each part in turn). Memory systems differ in how
/// many streams they need to reach full bandwidth: the read floor is the best over 1-8.
pub fn scan_streams(s: &[f32], streams: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 checked.
        return unsafe { scan_streams_avx2(s, streams.clamp(1, 8)) };
    }
    let per = s.len().div_ceil(streams.max(1)).max(1);
    s.chunks(per).map(scan_portable).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_streams_avx2(s: &[f32], streams: usize) -> f32 {
    use std::arch::x86_64::*;
    // Each stream advances 16 floats (one 64-byte line) per turn.
    let per = s.len() / streams / 16 * 16;
    let mut acc = [_mm256_setzero_ps(); 16];
    let mut i = 0;
    while i < per {
        for k in 0..streams {
            let p = s[k * per + i..].as_ptr();
            // SAFETY: k * per + i + 16 <= streams * per <= s.len().
            unsafe {
                acc[2 * k] = _mm256_add_ps(acc[2 * k], _mm256_loadu_ps(p));
                acc[2 * k + 1] = _mm256_add_ps(acc[2 * k + 1], _mm256_loadu_ps(p.add(8)));
            }
        }
        i += 16;
    }
    let mut t = acc[0];
    for v in &acc[1..] {
        t = _mm256_add_ps(t, *v);
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: lanes holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), t) };
    lanes.iter().sum::<f32>() + s[streams * per..].iter().sum::<f32>()
}

/// Time of the best multi-stream read of `s` (1, 2, 4 or 8 streams), with the stream count.
pub fn read_floor(s: &[f32], time: impl FnMut(&dyn Fn()) -> f64) -> (f64, usize) {
    best_streams(|k| scan_streams(s, k), time)
}

/// Time of the fastest of `read(1)`, `read(2)`, `read(4)` and `read(8)` (a read of that many
/// streams), with the stream count.
pub fn best_streams(read: impl Fn(usize) -> f32, mut time: impl FnMut(&dyn Fn()) -> f64) -> (f64, usize) {
    [1, 2, 4, 8]
        .into_iter()
        .map(|k| {
            let t = time(&|| {
                std::hint::black_box(read(k));
            });
            (t, k)
        })
        .fold((f64::INFINITY, 1), |best, t| if t.0 < best.0 { t } else { best })
}

/// The kernel nvs picks in this process (the same choice libnvs makes: `NVS_KERNEL` or the
/// CPU's best), as a NUL-terminated name for the Python driver.
#[no_mangle]
pub extern "C" fn nvsb_kernel_name() -> *const std::ffi::c_char {
    static NAME: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::ffi::CString::new(nvs::kernels::Kernel::active().name()).expect("kernel names have no NUL")
    })
    .as_ptr()
}

/// Which screen nvs's normalized batches take in this process: "amx-bf16" (AMX tiles in
/// bfloat16) or "f32" (the FMA screen; `NVS_SCREEN=f32` asks for it).
#[no_mangle]
pub extern "C" fn nvsb_batch_screen() -> *const std::ffi::c_char {
    let name: &'static std::ffi::CStr =
        if nvs::kernels::Kernel::active().screens_amx() { c"amx-bf16" } else { c"f32" };
    name.as_ptr()
}

/// [`fma_peak_gflops`] for the Python driver: the best of three runs.
#[no_mangle]
pub extern "C" fn nvsb_fma_peak_gflops() -> f64 {
    (0..3).map(|_| fma_peak_gflops()).fold(0.0, f64::max)
}

/// Peak single-thread f32 FMA rate, in GFLOP/s (2 flops per lane per FMA), from a register
/// loop with enough independent chains to hide the FMA latency: the compute floor of a batch.
pub fn fma_peak_gflops() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        let iters = 20_000_000u64;
        let t = std::time::Instant::now();
        let lanes = if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F checked.
            std::hint::black_box(unsafe { fma_loop_avx512(iters) });
            16.0
        } else if is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA checked.
            std::hint::black_box(unsafe { fma_loop_avx2(iters) });
            8.0
        } else {
            return 0.0;
        };
        // 12 chains x lanes x 2 flops per iteration.
        iters as f64 * 12.0 * lanes * 2.0 / t.elapsed().as_secs_f64() / 1e9
    }
    #[cfg(not(target_arch = "x86_64"))]
    0.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut t = acc[0];
    for v in &acc[1..] {
        t = _mm256_add_ps(t, *v);
    }
    _mm256_cvtss_f32(t)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut t = acc[0];
    for v in &acc[1..] {
        t = _mm512_add_ps(t, *v);
    }
    _mm512_reduce_add_ps(t)
}
