//! Writing an archive: five `.npy` members in a zip, streamed (no second copy of the rows).
//!
//! The zip container is written here rather than by the zip library: its records are few and
//! fixed (local header, data, central directory, end record, ZIP64 records where sizes need
//! them), and writing them ourselves lets the rows go through our own deflate encoder
//! (`deflate.rs`), which a zip library only accepts as its own compressor's output. It also
//! never prints: the zip library's writer reports to stderr when finishing an archive fails in
//! its drop. Every record follows the zip specification (APPNOTE 6.3); the reader side stays
//! the zip library, which checks every file it opens.

use std::collections::VecDeque;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::deflate::{self, Encoder};
use super::npy::{self, Dtype, Order};
use super::pickle;
use super::{RowParts, WriteOptions};
use crate::pool::WORKER_NAME_PREFIX;

/// Floats converted per write call.
const CHUNK: usize = 16 * 1024;
/// Sizes and offsets from this value up need ZIP64 records.
const ZIP64_FROM: u64 = u32::MAX as u64;
/// Fixed member timestamp (1980-01-01 00:00, the earliest DOS date), so that saving the same
/// store twice gives the same bytes.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Regular file, rw-r--r--, in the high half of the external attributes (Unix "made by").
const UNIX_FILE: u32 = 0o100644 << 16;
const MADE_BY_UNIX: u16 = 3 << 8;
/// Where the rows of an uncompressed archive start: a multiple of this in the file (a cache
/// line, and any SIMD load's alignment).
pub(crate) const ALIGN: u64 = 64;
/// The extra field id Android's zipalign uses for its padding (any zip reader skips it).
const ALIGNMENT_FIELD: u16 = 0xd935;

/// One member as the central directory records it.
struct Entry {
    name: &'static str,
    offset: u64,
    crc: u32,
    size: u64,
    compressed: u64,
    deflated: bool,
    /// The local header carries ZIP64 sizes (decided before the data was written).
    zip64: bool,
    /// Version needed to extract: 1.0 (stored), 2.0 (deflate) or 4.5 (ZIP64 records).
    version: u16,
}

/// The archive being written to `out`, which must start empty at position 0.
struct Zip<'a, W> {
    out: &'a mut W,
    pos: u64,
    entries: Vec<Entry>,
    /// Sizes and offsets from this value up get ZIP64 records ([`ZIP64_FROM`]; lower in tests).
    zip64_from: u64,
}

/// A member being written: its data goes through [`Member::write`].
struct Member<'z, 'a, W> {
    zip: &'z mut Zip<'a, W>,
    entry: Entry,
    /// Where the local header's CRC field is, to fill it in at the end.
    crc_at: u64,
    hasher: crc32fast::Hasher,
    written: u64,
    /// Deflated members: the encoder, input waiting for a whole block, and the output.
    encoder: Option<Encoder>,
    pending: Vec<u8>,
    packed: Vec<u8>,
}

impl<'a, W: Write + Seek> Zip<'a, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Start member `name` whose header + data will be `size` bytes. A stored member with
    /// `align_after: Some(n)` is placed so that its data from byte `n` on (the array after
    /// its .npy header) starts at a multiple of [`ALIGN`] in the file, padded through an extra
    /// field of the local header as Android's zipalign does: a mapped open can then use the
    /// rows in place.
    fn member<'z>(
        &'z mut self,
        name: &'static str,
        size: u64,
        deflated: bool,
        align_after: Option<usize>,
    ) -> io::Result<Member<'z, 'a, W>> {
        // A deflated member can come out a little larger than its data (stored blocks of
        // incompressible data); the bound decides up front whether the local header needs
        // ZIP64 sizes.
        let largest = if deflated { size + size / 4096 + 1024 } else { size };
        let zip64 = largest >= self.zip64_from;
        let version = match (zip64 || self.pos >= self.zip64_from, deflated) {
            (true, _) => 45,
            (false, true) => 20,
            (false, false) => 10,
        };
        let entry = Entry { name, offset: self.pos, crc: 0, size, compressed: 0, deflated, zip64, version };
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // flags
        h.extend_from_slice(&(if deflated { 8u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        let crc_at = self.pos + h.len() as u64;
        h.extend_from_slice(&0u32.to_le_bytes()); // CRC, filled in at the end
                                                  // Sizes: filled in at the end, or 0xFFFFFFFF with the real ones in the ZIP64 field.
        let sizes = if zip64 { [u32::MAX, u32::MAX] } else { [0, size as u32] };
        h.extend_from_slice(&sizes[0].to_le_bytes());
        h.extend_from_slice(&sizes[1].to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        let zip64_len = if zip64 { 20 } else { 0 };
        // The alignment field: its id, its size, the alignment, then zeros up to the boundary.
        let padding = match align_after {
            Some(n) if !deflated => {
                let unpadded = self.pos + 30 + name.len() as u64 + zip64_len + 6 + n as u64;
                Some((ALIGN - unpadded % ALIGN) % ALIGN)
            }
            _ => None,
        };
        let extra_len = zip64_len + padding.map_or(0, |p| 6 + p);
        h.extend_from_slice(&(extra_len as u16).to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes()); // compressed size, filled in at the end
        }
        if let Some(p) = padding {
            h.extend_from_slice(&ALIGNMENT_FIELD.to_le_bytes());
            h.extend_from_slice(&(2 + p as u16).to_le_bytes());
            h.extend_from_slice(&(ALIGN as u16).to_le_bytes());
            h.resize(h.len() + p as usize, 0);
        }
        self.put(&h)?;
        let encoder = deflated.then(Encoder::new);
        let block = if deflated { deflate::BLOCK } else { 0 };
        Ok(Member {
            zip: self,
            entry,
            crc_at,
            hasher: crc32fast::Hasher::new(),
            written: 0,
            encoder,
            pending: Vec::with_capacity(block.min(size as usize)),
            packed: Vec::new(),
        })
    }

    /// A member with all its bytes at hand.
    fn array(
        &mut self,
        name: &'static str,
        dtype: &Dtype,
        shape: &[u64],
        data: &[u8],
        deflated: bool,
    ) -> io::Result<()> {
        let header = npy::write_header(dtype, shape);
        let mut m = self.member(name, (header.len() + data.len()) as u64, deflated, None)?;
        m.write(&header)?;
        m.write(data)?;
        m.finish()
    }

    /// The central directory and the end records.
    fn finish(mut self) -> io::Result<()> {
        let start = self.pos;
        let mut cd = Vec::new();
        for e in &self.entries {
            let mut extra = Vec::new();
            let mut field = |value: u64, forced: bool| -> u32 {
                if forced || value >= self.zip64_from {
                    extra.extend_from_slice(&value.to_le_bytes());
                    u32::MAX
                } else {
                    value as u32
                }
            };
            // The ZIP64 field holds exactly the values whose 32-bit fields are 0xFFFFFFFF, in
            // this order (numpy's zipfile reads it that way).
            let size = field(e.size, e.zip64);
            let compressed = field(e.compressed, e.zip64);
            let offset = field(e.offset, false);
            cd.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            cd.extend_from_slice(&(MADE_BY_UNIX | e.version).to_le_bytes());
            cd.extend_from_slice(&e.version.to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes()); // flags
            cd.extend_from_slice(&(if e.deflated { 8u16 } else { 0 }).to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes()); // time
            cd.extend_from_slice(&DOS_DATE.to_le_bytes());
            cd.extend_from_slice(&e.crc.to_le_bytes());
            cd.extend_from_slice(&compressed.to_le_bytes());
            cd.extend_from_slice(&size.to_le_bytes());
            cd.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() as u16 };
            cd.extend_from_slice(&extra_len.to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes()); // comment length
            cd.extend_from_slice(&0u16.to_le_bytes()); // disk
            cd.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            cd.extend_from_slice(&UNIX_FILE.to_le_bytes());
            cd.extend_from_slice(&offset.to_le_bytes());
            cd.extend_from_slice(e.name.as_bytes());
            if !extra.is_empty() {
                cd.extend_from_slice(&1u16.to_le_bytes());
                cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                cd.extend_from_slice(&extra);
            }
        }
        let (count, len) = (self.entries.len() as u64, cd.len() as u64);
        let end = start + len;
        if start >= self.zip64_from || len >= self.zip64_from {
            // ZIP64 end of central directory record, then its locator.
            cd.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            cd.extend_from_slice(&44u64.to_le_bytes());
            cd.extend_from_slice(&(MADE_BY_UNIX | 45).to_le_bytes());
            cd.extend_from_slice(&45u16.to_le_bytes());
            cd.extend_from_slice(&0u32.to_le_bytes()); // this disk
            cd.extend_from_slice(&0u32.to_le_bytes()); // disk of the central directory
            cd.extend_from_slice(&count.to_le_bytes());
            cd.extend_from_slice(&count.to_le_bytes());
            cd.extend_from_slice(&len.to_le_bytes());
            cd.extend_from_slice(&start.to_le_bytes());
            cd.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            cd.extend_from_slice(&0u32.to_le_bytes());
            cd.extend_from_slice(&end.to_le_bytes());
            cd.extend_from_slice(&1u32.to_le_bytes()); // disks
        }
        let clamp = |v: u64| if v >= self.zip64_from { u32::MAX } else { v as u32 };
        cd.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        cd.extend_from_slice(&(count as u16).to_le_bytes());
        cd.extend_from_slice(&(count as u16).to_le_bytes());
        cd.extend_from_slice(&clamp(len).to_le_bytes());
        cd.extend_from_slice(&clamp(start).to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.put(&cd)?;
        self.out.flush()
    }
}

impl<W: Write + Seek> Member<'_, '_, W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.hasher.update(data);
        self.written += data.len() as u64;
        let Some(encoder) = &mut self.encoder else {
            return self.zip.put(data);
        };
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= deflate::BLOCK {
                // A whole block at hand: encode it where it is.
                let (block, rest) = data.split_at(deflate::BLOCK);
                encoder.block(block, &mut self.packed);
                data = rest;
            } else {
                let take = (deflate::BLOCK - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() == deflate::BLOCK {
                    encoder.block(&self.pending, &mut self.packed);
                    self.pending.clear();
                }
            }
            if !self.packed.is_empty() {
                self.zip.put(&self.packed)?;
                self.entry.compressed += self.packed.len() as u64;
                self.packed.clear();
            }
        }
        Ok(())
    }

    /// The rows, as little-endian float32 bytes. Deflating them takes most of a compressed
    /// save, so where there are enough of them and a second core, they are deflated in
    /// block-sized segments by a helper thread and by this one, whichever is free, and written
    /// by this one in order (segments end at a byte boundary, so they simply concatenate, and
    /// their CRCs combine). Work is taken, not dealt: a helper on a busy core does less.
    fn write_rows(&mut self, vectors: &[f32]) -> io::Result<()> {
        let parallel = self.encoder.is_some()
            && vectors.len() >= 4 * SEGMENT
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        if !parallel {
            let mut buf = Vec::with_capacity(CHUNK * 4);
            for chunk in vectors.chunks(CHUNK) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                self.write(&buf)?;
            }
            return Ok(());
        }
        // What is pending (the .npy header) becomes its own block; then a byte boundary.
        let encoder = self.encoder.as_mut().expect("a deflated member");
        encoder.block(&self.pending, &mut self.packed);
        encoder.sync(&mut self.packed);
        self.pending.clear();
        self.zip.put(&self.packed)?;
        self.entry.compressed += self.packed.len() as u64;
        self.packed.clear();
        let work = Work::new(vectors);
        std::thread::scope(|s| {
            // Named as a library worker: the C boundary's panic hook keeps it quiet.
            let helper = std::thread::Builder::new()
                .name(format!("{WORKER_NAME_PREFIX}save"))
                .spawn_scoped(s, || work.help());
            if helper.is_err() {
                work.lock().helper_gone = true;
            }
            // Stops the helper however this ends (an error, a panic), so the scope can join it.
            let _stop = StopOnDrop(&work);
            let mut bytes = Vec::new();
            for i in 0..work.count {
                let segment = work.next_in_order(i, &mut bytes);
                self.put_segment(&segment)?;
                work.written(segment);
            }
            Ok(())
        })
    }

    fn put_segment(&mut self, segment: &Segment) -> io::Result<()> {
        self.hasher.combine(&segment.crc);
        self.written += segment.len;
        self.zip.put(&segment.packed)?;
        self.entry.compressed += segment.packed.len() as u64;
        Ok(())
    }

    /// Write the pending bytes (the whole member) stored, and make the local header say so.
    fn store_instead(&mut self) -> io::Result<()> {
        let version: u16 = if self.entry.version == 45 { 45 } else { 10 };
        let out = &mut *self.zip.out;
        // The local header starts with the signature, the version needed and the flags; the
        // method follows.
        out.seek(SeekFrom::Start(self.entry.offset + 4))?;
        out.write_all(&version.to_le_bytes())?;
        out.seek(SeekFrom::Start(self.entry.offset + 8))?;
        out.write_all(&0u16.to_le_bytes())?;
        out.seek(SeekFrom::Start(self.zip.pos))?;
        self.zip.put(&self.pending)?;
        self.entry.deflated = false;
        self.entry.version = version;
        self.entry.compressed = self.written;
        Ok(())
    }

    /// End the member: flush the encoder, then fill in the local header's CRC and sizes.
    fn finish(mut self) -> io::Result<()> {
        debug_assert_eq!(self.written, self.entry.size, "{}", self.entry.name);
        match &mut self.encoder {
            // The whole member is still at hand (smaller than a block) and deflate would not
            // shrink it: store it as it is, so a compressed archive is never the larger one.
            Some(_) if self.entry.compressed == 0 && self.pending.len() as u64 == self.written => {
                self.packed = deflate::whole(&self.pending);
                if self.packed.len() >= self.pending.len() {
                    self.store_instead()?;
                } else {
                    self.zip.put(&self.packed)?;
                    self.entry.compressed = self.packed.len() as u64;
                }
            }
            Some(encoder) => {
                encoder.block(&self.pending, &mut self.packed);
                encoder.finish(&mut self.packed);
                self.zip.put(&self.packed)?;
                self.entry.compressed += self.packed.len() as u64;
            }
            None => self.entry.compressed = self.written,
        }
        self.entry.crc = self.hasher.clone().finalize();
        let e = &self.entry;
        let end = self.zip.pos;
        let out = &mut *self.zip.out;
        out.seek(SeekFrom::Start(self.crc_at))?;
        out.write_all(&e.crc.to_le_bytes())?;
        if e.zip64 {
            // Past the two 0xFFFFFFFF sizes, name length, extra length, name, field header
            // and uncompressed size: the compressed size.
            let at = self.crc_at + 4 + 8 + 4 + e.name.len() as u64 + 4 + 8;
            out.seek(SeekFrom::Start(at))?;
            out.write_all(&e.compressed.to_le_bytes())?;
        } else {
            out.write_all(&(e.compressed as u32).to_le_bytes())?;
        }
        out.seek(SeekFrom::Start(end))?;
        self.zip.entries.push(self.entry);
        Ok(())
    }
}

/// Floats per segment of rows deflated on its own: one deflate block.
const SEGMENT: usize = deflate::BLOCK / 4;
/// Segments that may be taken beyond the next one to write (and so be held in memory).
const AHEAD: usize = 4;

/// The segments of one member's rows, shared by the writing thread and its helper.
struct Work<'v> {
    rows: &'v [f32],
    count: usize,
    queue: Mutex<Queue>,
    /// Signalled when a segment is finished or written, and when a thread stops.
    changed: Condvar,
}

#[derive(Default)]
struct Queue {
    /// The next segment nobody has taken.
    next: usize,
    /// The next segment to write; `done[k]` is segment `written + k`, once finished.
    written: usize,
    done: VecDeque<Option<Segment>>,
    /// Buffers of written segments, for reuse.
    spare: Vec<Segment>,
    /// The writer stopped (done, failed or panicking): the helper stops too.
    stop: bool,
    /// The helper stopped (or never started): what it took and did not finish is redone.
    helper_gone: bool,
}

impl<'v> Work<'v> {
    fn new(rows: &'v [f32]) -> Self {
        Work { rows, count: rows.len().div_ceil(SEGMENT), queue: Mutex::default(), changed: Condvar::new() }
    }

    /// The lock, whatever a panic on the other thread left behind (a panic there is
    /// re-raised when the scope ends; the queue itself is consistent between statements).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn segment_rows(&self, i: usize) -> &'v [f32] {
        &self.rows[i * SEGMENT..((i + 1) * SEGMENT).min(self.rows.len())]
    }

    /// Take the next segment if the window allows.
    fn take(&self, q: &mut Queue) -> Option<(usize, Segment)> {
        (q.next < self.count && q.next < q.written + AHEAD).then(|| {
            q.next += 1;
            (q.next - 1, q.spare.pop().unwrap_or_default())
        })
    }

    fn finished(&self, q: &mut Queue, i: usize, segment: Segment) {
        let slot = i - q.written;
        if q.done.len() <= slot {
            q.done.resize_with(slot + 1, || None);
        }
        q.done[slot] = Some(segment);
        self.changed.notify_all();
    }

    /// The helper thread: deflate segments until none is left or the writer stops.
    fn help(&self) {
        let _gone = GoneOnDrop(self);
        let mut bytes = Vec::new();
        loop {
            let (i, mut segment) = {
                let mut q = self.lock();
                loop {
                    if q.stop || q.next >= self.count {
                        return;
                    }
                    if let Some(taken) = self.take(&mut q) {
                        break taken;
                    }
                    q = self.changed.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            };
            segment.deflate(self.segment_rows(i), &mut bytes);
            self.finished(&mut self.lock(), i, segment);
        }
    }

    /// Segment `i` (the next to write), deflated: by the helper, or here, where this thread
    /// also deflates later segments while it waits.
    fn next_in_order(&self, i: usize, bytes: &mut Vec<u8>) -> Segment {
        let mut q = self.lock();
        loop {
            debug_assert_eq!(q.written, i);
            // Its slot stays (empty) until `written` moves the window.
            if let Some(segment) = q.done.front_mut().and_then(Option::take) {
                return segment;
            }
            let lost = q.helper_gone && i < q.next;
            if lost || q.next == i {
                // Segment i is this thread's to do: not taken yet, or taken by a helper that is
                // gone.
                if q.next == i {
                    q.next += 1;
                }
                let mut segment = q.spare.pop().unwrap_or_default();
                drop(q);
                segment.deflate(self.segment_rows(i), bytes);
                return segment;
            }
            if let Some((j, mut segment)) = self.take(&mut q) {
                drop(q);
                segment.deflate(self.segment_rows(j), bytes);
                q = self.lock();
                self.finished(&mut q, j, segment);
                continue;
            }
            q = self.changed.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Segment `written` is written: its buffer goes back for reuse, the window moves on.
    fn written(&self, segment: Segment) {
        let mut q = self.lock();
        q.written += 1;
        if !q.done.is_empty() {
            q.done.pop_front();
        }
        q.spare.push(segment);
        self.changed.notify_all();
    }
}

struct StopOnDrop<'a, 'v>(&'a Work<'v>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.changed.notify_all();
    }
}

struct GoneOnDrop<'a, 'v>(&'a Work<'v>);

impl Drop for GoneOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().helper_gone = true;
        self.0.changed.notify_all();
    }
}

/// Rows deflated apart from the rest of their member (see [`Member::write_rows`]).
#[derive(Default)]
struct Segment {
    packed: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl Segment {
    /// Deflate `rows` (as little-endian bytes, converted in `bytes`) into this segment.
    fn deflate(&mut self, rows: &[f32], bytes: &mut Vec<u8>) {
        bytes.clear();
        bytes.extend(rows.iter().flat_map(|v| v.to_le_bytes()));
        self.crc = crc32fast::Hasher::new();
        self.crc.update(bytes);
        self.packed.clear();
        deflate::segment(bytes, &mut self.packed);
        self.len = bytes.len() as u64;
    }
}

/// Write the archive to `out`, which must be empty and at position 0. On failure the first I/O
/// error is returned at once (nothing more is written); `out` then holds a partial archive and
/// may still hold buffered bytes.
/// `vectors` and `ids` may come in parts (the rows of a mapped archive, then the rows added
/// since): the archive holds them in order.
pub(crate) fn write_archive<W: Write + Seek>(
    out: &mut W,
    dimensions: usize,
    normalize: bool,
    vectors: RowParts<'_>,
    ids: &[&[u64]],
    options: WriteOptions,
) -> io::Result<()> {
    write_archive_with(out, dimensions, normalize, vectors, ids, options, ZIP64_FROM)
}

fn write_archive_with<W: Write + Seek>(
    out: &mut W,
    dimensions: usize,
    normalize: bool,
    vectors: RowParts<'_>,
    ids: &[&[u64]],
    options: WriteOptions,
    zip64_from: u64,
) -> io::Result<()> {
    let mut zip = Zip { out, pos: 0, entries: Vec::with_capacity(5), zip64_from };
    let deflated = !options.uncompressed;
    let i8 = Dtype::Int { signed: true, size: 8, order: Order::Little };
    zip.array("format_version.npy", &i8, &[], &1i64.to_le_bytes(), deflated)?;
    zip.array("dimensions.npy", &i8, &[], &(dimensions as i64).to_le_bytes(), deflated)?;
    zip.array("normalize.npy", &Dtype::Bool, &[], &[normalize as u8], deflated)?;

    let rows = ids.iter().map(|p| p.len() as u64).sum::<u64>();
    let values = vectors.len() as u64;
    let (dtype, size) = match vectors {
        RowParts::F32(_) => (Dtype::F32(Order::Little), 4),
        RowParts::F16(_) => (Dtype::F16(Order::Little), 2),
    };
    let header = npy::write_header(&dtype, &[rows, dimensions as u64]);
    let mut m =
        zip.member("vectors.npy", header.len() as u64 + values * size, deflated, Some(header.len()))?;
    m.write(&header)?;
    match vectors {
        RowParts::F32(parts) => {
            for part in parts {
                m.write_rows(part)?;
            }
        }
        // Half the bytes of float32 rows: deflated on this thread.
        RowParts::F16(parts) => {
            let mut buf = Vec::with_capacity(CHUNK * 2);
            for chunk in parts.iter().flat_map(|p| p.chunks(CHUNK)) {
                buf.clear();
                buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                m.write(&buf)?;
            }
        }
    }
    m.finish()?;

    if options.pickled_metadata {
        let all: Vec<u64> = ids.concat();
        zip.array("metadata.npy", &Dtype::Object, &[rows], &pickle::write_int_array(&all), deflated)?;
    } else {
        let u8le = Dtype::Int { signed: false, size: 8, order: Order::Little };
        let header = npy::write_header(&u8le, &[rows]);
        let mut m =
            zip.member("metadata.npy", header.len() as u64 + rows * 8, deflated, Some(header.len()))?;
        m.write(&header)?;
        let mut buf = Vec::with_capacity(CHUNK * 8);
        for chunk in ids.iter().flat_map(|p| p.chunks(CHUNK)) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            m.write(&buf)?;
        }
        m.finish()?;
    }
    zip.finish()
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// An output that fails every call from the `ops`-th one on, and every write that would go
    /// past `bytes` bytes in total (after writing what fits). Counts calls made after a failure.
    struct Failing {
        data: Cursor<Vec<u8>>,
        bytes: u64,
        ops: usize,
        written: u64,
        failed: bool,
        calls_after_failure: usize,
    }

    impl Failing {
        fn new(bytes: u64, ops: usize) -> Self {
            Failing {
                data: Cursor::new(Vec::new()),
                bytes,
                ops,
                written: 0,
                failed: false,
                calls_after_failure: 0,
            }
        }

        /// Count a call; the error if it must fail.
        fn call(&mut self) -> io::Result<()> {
            if self.failed {
                self.calls_after_failure += 1;
            }
            if self.failed || self.ops == 0 {
                self.failed = true;
                return Err(io::Error::other("injected failure"));
            }
            self.ops -= 1;
            Ok(())
        }
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.call()?;
            let room = (self.bytes - self.written).min(buf.len() as u64) as usize;
            if room == 0 && !buf.is_empty() {
                self.failed = true;
                return Err(io::Error::other("injected failure"));
            }
            self.written += room as u64;
            self.data.write(&buf[..room])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.call()
        }
    }

    impl Seek for Failing {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            self.call()?;
            self.data.seek(to)
        }
    }

    fn rows() -> (Vec<f32>, Vec<u64>) {
        ((0..60).map(|i| i as f32 * 0.25 - 3.0).collect(), (0..20).map(|i| i * 3 + 1).collect())
    }

    const MODES: [WriteOptions; 3] = [
        WriteOptions { uncompressed: false, pickled_metadata: false },
        WriteOptions { uncompressed: true, pickled_metadata: false },
        WriteOptions { uncompressed: false, pickled_metadata: true },
    ];

    /// Every failure point, by byte and by call: the first error comes back, the output is not
    /// touched after it, and a failure-free run still gives a readable archive.
    fn fail_everywhere() {
        let (vectors, ids) = rows();
        for options in MODES {
            let mut full = Failing::new(u64::MAX, usize::MAX);
            write_archive(&mut full, 3, false, RowParts::F32(&[&vectors]), &[&ids], options).unwrap();
            let size = full.written;
            let calls = usize::MAX - full.ops;
            let archive = super::super::read_bytes(full.data.get_ref(), Default::default()).unwrap();
            assert_eq!((archive.vectors, archive.ids), (vectors.clone(), ids.clone()));
            let cases = (0..size).map(|b| (b, usize::MAX)).chain((0..calls).map(|c| (u64::MAX, c)));
            for (bytes, ops) in cases {
                let mut out = Failing::new(bytes, ops);
                let e = write_archive(&mut out, 3, false, RowParts::F32(&[&vectors]), &[&ids], options)
                    .unwrap_err();
                assert_eq!(e.to_string(), "injected failure", "bytes {bytes}, ops {ops}");
                assert_eq!(out.calls_after_failure, 0, "bytes {bytes}, ops {ops}");
            }
        }
    }

    /// A member that deflate would not shrink is stored (header and central directory say so),
    /// so a compressed archive is never larger than the uncompressed one; one that shrinks is
    /// still deflated.
    #[test]
    fn members_deflate_cannot_shrink_are_stored() {
        let size = |vectors: &[f32], options| {
            let mut out = Cursor::new(Vec::new());
            let ids: Vec<u64> = (0..vectors.len() as u64 / 3).map(|i| i << 40).collect();
            write_archive(&mut out, 3, false, RowParts::F32(&[vectors]), &[&ids], options).unwrap();
            let archive = super::super::read_bytes(out.get_ref(), Default::default()).unwrap();
            assert_eq!(archive.vectors, vectors);
            let bytes = out.into_inner();
            // The compression method of every local header (the word after version and flags).
            let methods: Vec<u16> = bytes
                .windows(10)
                .filter(|w| w[..4] == 0x0403_4b50u32.to_le_bytes())
                .map(|w| u16::from_le_bytes([w[8], w[9]]))
                .collect();
            (bytes.len(), methods)
        };
        let [compressed, uncompressed, _] = MODES;
        // Rows of random bits (of finite floats: every byte value about as likely), more
        // than the general encoder is tried on: the block encoder can only store them.
        let mut x = 7u32;
        let noise: Vec<f32> = (0..3 * 30_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                f32::from_bits(x & 0xbfff_ffff)
            })
            .collect();
        let (small, methods) = size(&noise, compressed);
        assert!(small <= size(&noise, uncompressed).0, "{small} bytes");
        assert_eq!(methods[3], 0, "{methods:?}");
        assert_eq!(size(&rows().0, compressed).1, [8; 5], "small members shrink");
        let zeros = vec![0.0f32; 3 * 5000];
        let (_, methods) = size(&zeros, compressed);
        assert_eq!(methods[3..], [8, 8], "rows of zeros and ids of zero bytes deflate: {methods:?}");
    }

    /// ZIP64 records, which only archives of 4 GiB and more need, forced on every member and
    /// on the end of the archive: the reader takes them, in every mode.
    #[test]
    fn zip64_records_are_read_back() {
        let (vectors, ids) = rows();
        for options in MODES {
            for zip64_from in [0, 1, 200] {
                let mut out = Cursor::new(Vec::new());
                write_archive_with(
                    &mut out,
                    3,
                    true,
                    RowParts::F32(&[&vectors]),
                    &[&ids],
                    options,
                    zip64_from,
                )
                .unwrap();
                let archive = super::super::read_bytes(out.get_ref(), Default::default()).unwrap();
                assert_eq!((archive.vectors, archive.ids), (vectors.clone(), ids.clone()));
                let bytes = out.into_inner();
                let has = |sig: u32| bytes.windows(4).any(|w| w == sig.to_le_bytes());
                assert!(has(0x0606_4b50) && has(0x0706_4b50), "ZIP64 end records from {zip64_from}");
            }
        }
    }

    /// Rows large enough to be deflated on two threads (the segments of a helper thread
    /// interleaved with this thread's): read back exactly, and a failing output still gets no
    /// call after its first failure.
    #[test]
    fn rows_deflated_on_two_threads() {
        let n = 5 * deflate::BLOCK / 4 + 12_345;
        let mut x = 1u32;
        let vectors: Vec<f32> = (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                // Rows that compress a little, then a stretch of zeros (the general encoder).
                if (2_000_000..2_600_000).contains(&i) {
                    0.0
                } else {
                    (x >> 8) as f32 / (1 << 24) as f32 - 0.5
                }
            })
            .collect();
        let ids: Vec<u64> = (0..n as u64 / 5).collect();
        let mut full = Failing::new(u64::MAX, usize::MAX);
        write_archive(&mut full, 5, false, RowParts::F32(&[&vectors]), &[&ids], WriteOptions::default())
            .unwrap();
        let archive = super::super::read_bytes(full.data.get_ref(), Default::default()).unwrap();
        assert!(archive.vectors.iter().zip(&vectors).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!((archive.vectors.len(), archive.ids), (vectors.len(), ids.clone()));
        let size = full.written;
        assert!(size < (n * 4) as u64, "{size} bytes");
        for bytes in [size / 3, size / 2 + 7, size - 100] {
            let mut out = Failing::new(bytes, usize::MAX);
            let e = write_archive(
                &mut out,
                5,
                false,
                RowParts::F32(&[&vectors]),
                &[&ids],
                WriteOptions::default(),
            )
            .unwrap_err();
            assert_eq!(e.to_string(), "injected failure");
            assert_eq!(out.calls_after_failure, 0);
        }
    }

    /// A helper that took segments and stopped (a panic, say) without finishing one: the
    /// writer redoes it and still gets every segment, in order.
    #[test]
    fn segments_lost_by_the_helper_are_redone() {
        let rows: Vec<f32> = (0..5 * SEGMENT + 7).map(|i| (i % 1000) as f32 * 0.001 - 0.5).collect();
        let work = Work::new(&rows);
        let mut q = work.lock();
        let (lost, _) = work.take(&mut q).unwrap();
        let (kept, mut segment) = work.take(&mut q).unwrap();
        drop(q);
        segment.deflate(work.segment_rows(kept), &mut Vec::new());
        work.finished(&mut work.lock(), kept, segment);
        work.lock().helper_gone = true;
        assert_eq!((lost, kept, work.count), (0, 1, 6));
        for i in 0..work.count {
            let got = work.next_in_order(i, &mut Vec::new());
            let mut want = Segment::default();
            want.deflate(work.segment_rows(i), &mut Vec::new());
            assert!(got.packed == want.packed && got.len == want.len, "segment {i}");
            work.written(got);
        }
    }

    #[test]
    #[ignore = "run by failed_writes_print_nothing in a child process"]
    fn failed_writes_child() {
        let printed = crate::test_support::captured(fail_everywhere);
        assert!(printed.is_empty(), "the library printed: {}", String::from_utf8_lossy(&printed));
    }

    /// The zip writer prints when finishing fails in its drop; ours never lets it. The check
    /// runs in a child process whose fds 1 and 2 are captured, so nothing else writes to them.
    #[test]
    fn failed_writes_print_nothing() {
        crate::test_support::run_child_test("npz::write::tests::failed_writes_child", &[]);
    }
}
