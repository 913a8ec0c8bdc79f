//! Partial top-k selection with the reference's deterministic order: by value (descending for
//! similarities, ascending for distances), equal values by ascending row index.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A scored row. `value` is never NaN (inputs are validated finite and overflow is recomputed
/// in f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub value: f64,
    pub index: usize,
}

/// `Ordering::Less` means `a` ranks before `b`.
#[inline]
fn rank(a: &Scored, b: &Scored, descending: bool) -> Ordering {
    // partial_cmp, not total_cmp: -0.0 and 0.0 are the same value and must tie (a kernel may
    // produce either sign for an exact zero).
    let by_value = if descending { b.value.partial_cmp(&a.value) } else { a.value.partial_cmp(&b.value) };
    let by_value = by_value.unwrap_or(Ordering::Equal);
    by_value.then(a.index.cmp(&b.index))
}

/// Heap entry ordered so that the *worst* kept hit is at the top of the max-heap.
struct Entry {
    s: Scored,
    descending: bool,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        rank(&self.s, &other.s, self.descending)
    }
}

/// Keeps the best `k` of a stream of scored rows in O(n log k).
pub struct TopK {
    k: usize,
    descending: bool,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize, descending: bool) -> Self {
        // The heap never holds more than k entries; cap the up-front allocation so a huge
        // top_k on a small store does not reserve memory it will never use.
        TopK { k, descending, heap: BinaryHeap::with_capacity(k.min(1024)) }
    }

    /// Would a row with this value and index be kept right now? Cheap pre-check that lets the
    /// scan skip most rows without touching the heap.
    #[inline]
    pub fn admits(&self, value: f64, index: usize) -> bool {
        if self.heap.len() < self.k {
            return true;
        }
        match self.heap.peek() {
            Some(worst) => rank(&Scored { value, index }, &worst.s, self.descending) == Ordering::Less,
            None => false,
        }
    }

    /// The value of the worst kept row once `k` rows are kept: a row whose value ranks
    /// strictly below it can never enter, whatever its index.
    #[inline]
    pub fn worst(&self) -> Option<f64> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|e| e.s.value)
    }

    /// Whether `value` ranks strictly below `bar` (a cheap reject before [`TopK::admits`]).
    #[inline]
    pub fn strictly_worse(&self, value: f64, bar: f64) -> bool {
        if self.descending {
            value < bar
        } else {
            value > bar
        }
    }

    #[inline]
    pub fn push(&mut self, value: f64, index: usize) {
        if self.k == 0 {
            return;
        }
        let s = Scored { value, index };
        if self.heap.len() < self.k {
            self.heap.push(Entry { s, descending: self.descending });
        } else if self.admits(value, index) {
            if let Some(mut top) = self.heap.peek_mut() {
                top.s = s;
            }
        }
    }

    /// Merge another selection (from a parallel worker over other rows) into this one.
    pub fn merge(&mut self, other: TopK) {
        for e in other.heap {
            self.push(e.s.value, e.s.index);
        }
    }

    /// The kept rows, best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        let descending = self.descending;
        let mut v: Vec<Scored> = self.heap.into_iter().map(|e| e.s).collect();
        v.sort_unstable_by(|a, b| rank(a, b, descending));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(values: &[f64], k: usize, descending: bool) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..values.len()).collect();
        idx.sort_by(|&a, &b| {
            rank(&Scored { value: values[a], index: a }, &Scored { value: values[b], index: b }, descending)
        });
        idx.truncate(k);
        idx
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let mut t = TopK::new(2, true);
        t.push(0.0, 5);
        t.push(-0.0, 3);
        t.push(-1.0, 0);
        let got: Vec<usize> = t.into_sorted().iter().map(|s| s.index).collect();
        assert_eq!(got, vec![3, 5]);
    }

    #[test]
    fn ties_at_the_boundary_keep_lowest_indexes() {
        let values = [1.0, 2.0, 2.0, 2.0, 0.5, 2.0];
        for descending in [true, false] {
            for k in 1..=values.len() + 1 {
                let mut t = TopK::new(k, descending);
                for (i, &v) in values.iter().enumerate().rev() {
                    t.push(v, i);
                }
                let got: Vec<usize> = t.into_sorted().iter().map(|s| s.index).collect();
                assert_eq!(got, brute(&values, k, descending), "k={k} desc={descending}");
            }
        }
    }

    #[test]
    fn matches_full_sort_on_pseudo_random_values() {
        let mut x: u64 = 42;
        let values: Vec<f64> = (0..500)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((x >> 40) % 17) as f64 // many ties
            })
            .collect();
        for k in [1, 3, 10, 100, 499, 500, 600] {
            for descending in [true, false] {
                let mut a = TopK::new(k, descending);
                let mut b = TopK::new(k, descending);
                for (i, &v) in values.iter().enumerate() {
                    if i % 2 == 0 {
                        a.push(v, i)
                    } else {
                        b.push(v, i)
                    }
                }
                a.merge(b);
                let got: Vec<usize> = a.into_sorted().iter().map(|s| s.index).collect();
                assert_eq!(got, brute(&values, k, descending));
            }
        }
    }
}
