//! The `within_rows` prefilter check: unique row indexes inside the store, with the
//! reference's order of verdicts.

use crate::error::{fail, Result};

/// `within_rows` must be unique and inside the store. Duplicates are reported before range
/// errors, as the reference does. The cost follows the selection, not the store: a small
/// selection of a big store is checked by sorting a copy instead of marking a bitmap of rows.
pub(super) fn check_within_rows(within: &[usize], len: usize) -> Result<()> {
    if within.len().saturating_mul(64) < len {
        check_within_rows_sorted(within, len)
    } else {
        check_within_rows_bitmap(within, len)
    }
}

fn check_within_rows_bitmap(within: &[usize], len: usize) -> Result<()> {
    let mut seen = vec![0u64; len.div_ceil(64)];
    let mut outside = Vec::new();
    for &r in within {
        if r < len {
            let (word, bit) = (r / 64, 1u64 << (r % 64));
            if seen[word] & bit != 0 {
                fail!(InvalidArgument, "within_rows must contain unique row indexes (row {r} repeats)");
            }
            seen[word] |= bit;
        } else {
            outside.push(r);
        }
    }
    if let Some(&first) = outside.first() {
        outside.sort_unstable();
        if let Some(w) = outside.windows(2).find(|w| w[0] == w[1]) {
            fail!(InvalidArgument, "within_rows must contain unique row indexes (row {} repeats)", w[0]);
        }
        fail!(OutOfRange, "within_rows contains row index {first} outside the store ({len} rows)");
    }
    Ok(())
}

/// Same verdicts and messages as the bitmap check: the in-range repeat reported is the one
/// whose second occurrence comes first; then the smallest repeated out-of-range index; then
/// the first out-of-range index.
fn check_within_rows_sorted(within: &[usize], len: usize) -> Result<()> {
    let mut sorted: Vec<(usize, usize)> = within.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    let mut repeat: Option<(usize, usize)> = None; // (second position, row)
    let mut outside_repeat = None;
    let mut first_outside: Option<(usize, usize)> = None; // (position, row)
    for (i, &(row, pos)) in sorted.iter().enumerate() {
        let again = i > 0 && sorted[i - 1].0 == row;
        if row < len {
            let second = again && (i < 2 || sorted[i - 2].0 != row);
            if second && repeat.is_none_or(|(p, _)| pos < p) {
                repeat = Some((pos, row));
            }
        } else {
            if again && outside_repeat.is_none() {
                outside_repeat = Some(row);
            }
            if first_outside.is_none_or(|(p, _)| pos < p) {
                first_outside = Some((pos, row));
            }
        }
    }
    if let Some(r) = repeat.map(|(_, r)| r).or(outside_repeat) {
        fail!(InvalidArgument, "within_rows must contain unique row indexes (row {r} repeats)");
    }
    if let Some((_, first)) = first_outside {
        fail!(OutOfRange, "within_rows contains row index {first} outside the store ({len} rows)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_bitmap_prefilter_checks_agree() {
        let mut x: u64 = 12345;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 33) % m) as usize
        };
        for _ in 0..20000 {
            let len = next(12);
            let k = next(8);
            let within: Vec<usize> = (0..k).map(|_| next(16)).collect();
            let a = check_within_rows_sorted(&within, len).map_err(|e| (e.kind, e.message));
            let b = check_within_rows_bitmap(&within, len).map_err(|e| (e.kind, e.message));
            assert_eq!(a, b, "within {within:?} len {len}");
        }
    }
}
