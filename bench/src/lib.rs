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

/// Sum of `len` floats split over `threads` threads (the two-core bandwidth floor).
///
/// # Safety
/// As [`nvsb_scan`].
#[no_mangle]
pub unsafe extern "C" fn nvsb_scan_threads(data: *const f32, len: usize, threads: usize) -> f32 {
    if len == 0 {
        return 0.0;
    }
    // SAFETY: caller contract.
    let s = unsafe { std::slice::from_raw_parts(data, len) };
    scan_threads(s, threads)
}

pub fn scan_threads(s: &[f32], threads: usize) -> f32 {
    let per = s.len().div_ceil(threads.max(1));
    std::thread::scope(|sc| {
        let mut parts = s.chunks(per.max(1));
        let first = parts.next().unwrap_or_default();
        let hs: Vec<_> = parts.map(|p| sc.spawn(move || scan(p))).collect();
        let mut t = scan(first);
        for h in hs {
            t += h.join().unwrap();
        }
        t
    })
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
