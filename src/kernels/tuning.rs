//! Every parameter whose best value depends on the CPU (cache sizes, registers, the memory
//! system), in one place, each with the reason for its value and how it was chosen. None of
//! them changes a result: a (query, row) value is the same bits whatever the grouping, tile or
//! thread split (`simd.rs`), so these can be tuned per microarchitecture freely.
//!
//! Measured on the project's 2-core x86-64 VMs (Intel Xeon with AVX-512; AMD EPYC Zen 3 with
//! AVX2+FMA, figures from issue 13), with `bench` run side by side against one-line variants.

/// Single-query scans, per instruction set: (rows read side by side, each with its own
/// accumulator chain; whether long rows are also prefetched ahead within the group).
/// - AVX-512 (Intel Xeon): 8 rows hide the FMA latency (4 cycles, 2 per cycle) and keep enough
///   loads in flight to stream rows at memory speed; the long-row prefetch helps there.
/// - AVX2: the kernel of AMD Zen 3 (no AVX-512). Measured there (issue 13): 4 rows were 6-30%
///   faster than 8 with rows in cache, and turning off the long-row prefetch gained 11% at
///   100k x 1536. On the Intel host the same variants tie with (8, true) within noise
///   (10k x 384: 0.555 vs 0.56 ms; 100k x 1536: 38-41 ms for all three), so AVX2 takes the
///   Zen choice.
/// - NEON: unmeasured on Apple silicon so far; the AVX-512 choice.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_SCAN: (usize, bool) = (4, false);
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_SCAN: (usize, bool) = (8, true);
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_SCAN: (usize, bool) = (8, true);

/// A group of scanned rows no larger than this (bytes; half a 32-48 KiB L1) has the whole
/// next group prefetched while it is scored: eight short streams are what the hardware
/// prefetcher picks up late.
pub(crate) const PREFETCH_WHOLE_GROUP_BYTES: usize = 16 << 10;

/// Longer rows are prefetched this many bytes ahead within the current group (split over its
/// rows), far enough to cover DRAM latency at the scan's rate, near enough to stay in L1.
pub(crate) const PREFETCH_AHEAD_BYTES: usize = 8 << 10;

/// Batch micro-kernels: queries x rows per tile step. Each pair holds one accumulator
/// register and each row and query one more, within the register file: AVX2 has 16 (3 x 3 =
/// 9 accumulators + 3 rows + 1 query), AVX-512 and NEON 32 (4 x 4 = 16 + 4 + 1).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_TILE: (usize, usize) = (3, 3);
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_TILE: (usize, usize) = (4, 4);
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_TILE: (usize, usize) = (4, 4);

/// Rows scored per kernel call in a single-query scan: the f32 result buffer (1 KiB) and the
/// row references stay in L1 between the kernel and the top-k update.
pub(crate) const BLOCK_ROWS: usize = 256;

/// Bytes of queries per batch pass over a tile: small enough that a pass's queries and the few
/// rows a micro-kernel holds stay in L1 (32-48 KiB), so the FMA units are not starved by L2.
pub(crate) const QUERY_GROUP_BYTES: usize = 24 << 10;

/// Bytes of rows per batch tile: read from memory once, they stay in L2 (1-2 MiB per core on
/// these hosts) while every query group passes over them.
pub(crate) const TILE_BYTES: usize = 128 << 10;

/// Below this many f32 values (rows x dims, 16 MiB: about 10k rows of 384 dimensions) one
/// thread is faster than handing parts to the worker pool when `threads` is automatic.
pub(crate) const PARALLEL_MIN_VALUES: usize = 4 << 20;
