//! A column of values (the row values, the ids) kept in two parts: a prefix that may live in
//! place in a mapped archive (`NVS_OPEN_MAP`), then the values added after, in private memory.
//! Without a mapping the prefix is empty and a column is a plain `Vec`.

use std::fmt;
use std::sync::Arc;

use crate::memory::{MappedFile, Plain};

pub(crate) struct Column<T: Plain> {
    /// The mapped prefix: `len` values at byte `offset` of `file`.
    mapped: Option<(Arc<MappedFile>, usize, usize)>,
    /// Every value after the mapped ones.
    owned: Vec<T>,
}

impl<T: Plain> Column<T> {
    pub(crate) fn new(owned: Vec<T>) -> Self {
        Column { mapped: None, owned }
    }

    /// `len` values in place at byte `offset` of `file`; `None` if they are not inside it or
    /// not aligned for `T`.
    pub(crate) fn mapped(file: Arc<MappedFile>, offset: usize, len: usize) -> Option<Self> {
        file.values::<T>(offset, len)?;
        Some(Column { mapped: Some((file, offset, len)), owned: Vec::new() })
    }

    /// The mapped prefix (empty without a mapping).
    pub(crate) fn mapped_part(&self) -> &[T] {
        match &self.mapped {
            // Checked in `mapped`, and neither the file nor the range changes after.
            Some((file, offset, len)) => file.values(*offset, *len).unwrap_or(&[]),
            None => &[],
        }
    }

    pub(crate) fn is_mapped(&self) -> bool {
        self.mapped.is_some()
    }

    /// The values added after the mapped ones (all of them without a mapping): appends go
    /// here, and so does cutting a failed append back.
    pub(crate) fn owned_mut(&mut self) -> &mut Vec<T> {
        &mut self.owned
    }

    /// Both parts, in order.
    pub(crate) fn parts(&self) -> [&[T]; 2] {
        [self.mapped_part(), &self.owned]
    }

    pub(crate) fn len(&self) -> usize {
        self.mapped.as_ref().map_or(0, |m| m.2) + self.owned.len()
    }

    /// Values `start..end` if they lie in one part (always, unless the range spans the end of
    /// the mapping).
    #[inline]
    pub(crate) fn range(&self, start: usize, end: usize) -> Option<&[T]> {
        let mapped = self.mapped.as_ref().map_or(0, |m| m.2);
        if end <= mapped {
            self.mapped_part().get(start..end)
        } else if start >= mapped {
            self.owned.get(start - mapped..end - mapped)
        } else {
            None
        }
    }

    /// Values `start..end`, which must lie in one part (a row never spans the mapping's end:
    /// it holds whole rows).
    #[inline]
    pub(crate) fn chunk(&self, start: usize, end: usize) -> &[T] {
        self.range(start, end).expect("a range within the column and within one part")
    }

    pub(crate) fn get(&self, i: usize) -> T {
        self.chunk(i, i + 1)[0]
    }

    /// Copy values `start..start + out.len()` into `out`, across both parts.
    pub(crate) fn copy_to(&self, start: usize, out: &mut [T]) {
        let mut at = start;
        let mut done = 0;
        for part in self.parts() {
            if done == out.len() {
                break;
            }
            if at >= part.len() {
                at -= part.len();
                continue;
            }
            let n = (part.len() - at).min(out.len() - done);
            out[done..done + n].copy_from_slice(&part[at..at + n]);
            done += n;
            at = 0;
        }
        assert_eq!(done, out.len(), "a range within the column");
    }
}

impl<T: Plain> Default for Column<T> {
    fn default() -> Self {
        Column::new(Vec::new())
    }
}

impl<T: Plain> Clone for Column<T> {
    fn clone(&self) -> Self {
        Column { mapped: self.mapped.clone(), owned: self.owned.clone() }
    }
}

impl<T: Plain> fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Column")
            .field("mapped", &self.mapped.as_ref().map_or(0, |m| m.2))
            .field("owned", &self.owned.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_as_one_column() {
        let mut c = Column::new(vec![1u64, 2, 3]);
        assert_eq!((c.len(), c.get(2), c.range(1, 3)), (3, 3, Some(&[2u64, 3][..])));
        c.owned_mut().push(4);
        let mut out = [0u64; 3];
        c.copy_to(1, &mut out);
        assert_eq!(out, [2, 3, 4]);
        assert!(!c.is_mapped() && c.mapped_part().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_mapped_prefix_then_owned_values() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("nvs-column-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("values.bin");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&[0u8; 8]).unwrap();
        for v in [10u64, 11, 12] {
            f.write_all(&v.to_le_bytes()).unwrap();
        }
        drop(f);
        let f = std::fs::File::open(&path).unwrap();
        let file = Arc::new(MappedFile::map(&f, 32).unwrap());
        assert!(Column::<u64>::mapped(file.clone(), 4, 3).is_none(), "misaligned");
        assert!(Column::<u64>::mapped(file.clone(), 8, 4).is_none(), "past the end");
        let mut c = Column::<u64>::mapped(file, 8, 3).unwrap();
        c.owned_mut().extend([13, 14]);
        assert_eq!((c.len(), c.get(0), c.get(3)), (5, 10, 13));
        assert_eq!(c.range(2, 4), None, "spans the mapping's end");
        let mut out = [0u64; 4];
        c.copy_to(1, &mut out);
        assert_eq!(out, [11, 12, 13, 14]);
        assert_eq!(c.parts(), [&[10u64, 11, 12][..], &[13, 14][..]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
