//! Every parameter whose best value depends on the CPU (cache sizes, registers, the memory
//! system), in one place, each with the reason for its value and how it was chosen. None of
//! them changes a result: a (query, row) value is the same bits whatever the grouping, tile or
//! thread split (`simd.rs`), so these can be tuned per microarchitecture freely.
//!
//! Measured on the project's 2-core x86-64 VMs (Intel Xeon with AVX-512; AMD EPYC Zen 3 with
//! AVX2+FMA, figures from issue 13), with `bench` run side by side against one-line variants.

/// Single-query scans, per instruction set and vendor: (rows read side by side, each with its
/// own accumulator chain; whether long rows are also prefetched ahead within the group).
/// - Intel (AVX-512 or AVX2): 8 rows hide the FMA latency (4 cycles, 2 per cycle) and keep
///   enough loads in flight to stream rows at memory speed. Without the long-row prefetch the
///   AVX2 kernel was up to 10% slower at 100k x 1536 on the Intel host (alternating runs).
/// - AMD (Zen 3, AVX2): measured there (issue 13), 4 rows were 6-30% faster than 8 with rows
///   in cache, and no long-row prefetch 11% faster at 100k x 1536.
/// - NEON: unmeasured on Apple silicon so far; the Intel choice.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_SCAN: (usize, bool) = (8, true);
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_SCAN_AMD: (usize, bool) = (4, false);
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

/// Batch screens (`simd::screen`): the panel shapes, widest first, as (rows per step, query
/// registers per row); a batch fills the widest panels it can, then the narrower ones. Each
/// pair of a step holds one accumulator register; the step also holds its query registers
/// and one broadcast row value, within the register file (AVX2 16, AVX-512 and NEON 32).
/// - AVX-512: 6 x 4 (24 + 4 + 1: panels of 64 queries) streamed rows from memory 5-15%
///   faster than 12 x 2 on the Intel host (micro-benchmark, alternated; a batch of 128
///   queries 4.5% faster, of 100 2-3%). 12 x 2 had been 74-76% of the FMA peak with rows in
///   L2, where 8 x 3 was within 4% and 4 x 4 20% slower. 12 x 2 (32 queries) and 12 x 1 (16)
///   take the queries left after the 64s.
/// - AVX2: 6 x 2 (12 + 2 + 1), then 6 x 1.
/// - NEON: 6 x 4 (24 + 4 + 1), then 6 x 1; unmeasured.
///
/// Every shape's rows divide 12, of which batch tiles are a multiple (`Plan::tile_rows`), so
/// only a store's last tile has rows left over.
///
/// AMX (`amx.rs`) has one shape, set by its eight tile registers rather than by measurement:
/// four sum tiles of 16 rows x 16 queries, two row tiles and two query tiles, so 32 rows x 32
/// queries per step and panels of `Kernel::AMX_PANEL` = 32 queries.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2_SCREEN: [(usize, usize); 2] = [(6, 2), (6, 1)];
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX512_SCREEN: [(usize, usize); 3] = [(6, 4), (12, 2), (12, 1)];
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_SCREEN: [(usize, usize); 2] = [(6, 4), (6, 1)];

/// The fewest queries of a batch over a normalized store that take the AMX screen (one panel,
/// padded with zero queries): on the Intel host 12 queries over 100k rows were 12-20% faster
/// than the register-blocked tile at 384, 1536 and 3072 dims, 8 within 5% either way (both
/// are bound by reading the rows there).
pub(crate) const AMX_MIN_QUERIES: usize = 12;

/// Rows scored per kernel call in a single-query scan: the f32 result buffer (1 KiB) and the
/// row references stay in L1 between the kernel and the top-k update.
pub(crate) const BLOCK_ROWS: usize = 256;

/// Bytes of queries per batch pass over a tile: small enough that a pass's queries and the few
/// rows a micro-kernel holds stay in L1 (32-48 KiB), so the FMA units are not starved by L2.
pub(crate) const QUERY_GROUP_BYTES: usize = 24 << 10;

/// Values per span of a batch tile: each pair's accumulator is kept in memory between spans,
/// so with long rows a query group's spans (`QUERY_GROUP_BYTES` of them) stay in L1 while the
/// tile's rows pass. A multiple of every register width (16, 8 and 4 lanes).
pub(crate) const BATCH_SPAN: usize = 384;

/// Bytes of a batch tile's sums kept between spans (64 bytes per pair on AVX-512): the tile
/// takes its rows a part at a time so that they stay in L1 beside the queries' spans.
pub(crate) const SUMS_BYTES: usize = 16 << 10;

/// Bytes of rows per batch tile: read from memory once, they stay in L2 (1-2 MiB per core on
/// these hosts) while every query group passes over them.
pub(crate) const TILE_BYTES: usize = 128 << 10;

/// Below this many f32 values (rows x dims, 16 MiB: about 10k rows of 384 dimensions) one
/// thread is faster than handing parts to the worker pool when `threads` is automatic. Large
/// `add` batches are prepared on the pool from the same size (1.7x the rows per second at
/// 100k x 384 on the 2-core hosts: page faults, copy and norms all split).
pub(crate) const PARALLEL_MIN_VALUES: usize = 4 << 20;

/// Whether this is an AMD (or Hygon, the same cores) CPU: the vendor picks the scan profile.
#[cfg(target_arch = "x86_64")]
pub(crate) fn amd() -> bool {
    static AMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AMD.get_or_init(|| {
        // SAFETY: CPUID leaf 0 exists on every x86-64 CPU (the intrinsic is safe in newer
        // Rust, unsafe in the oldest we support).
        #[allow(unused_unsafe)]
        let id = unsafe { core::arch::x86_64::__cpuid(0) };
        let vendor = [id.ebx.to_le_bytes(), id.edx.to_le_bytes(), id.ecx.to_le_bytes()].concat();
        vendor == b"AuthenticAMD" || vendor == b"HygonGenuine"
    })
}
