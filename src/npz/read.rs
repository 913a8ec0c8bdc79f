//! Reading and validating an archive. Nothing from the file is trusted: every size is checked
//! against what the zip container can physically hold before memory is reserved, every member
//! is read to its end (so the zip layer verifies its CRC), and a member never yields more or
//! fewer bytes than its `.npy` header's shape needs.
//!
//! The rows take one pass: each chunk of `vectors.npy` is read from the file into a small
//! buffer (the zip layer checksums it there), decoded into the buffer the store keeps, and its
//! whole rows go to a [`RowSink`] while they are still in cache (the store checks and
//! normalizes them there), so no pass over the rows ever runs from main memory again.

use std::io::{self, Read, Seek};

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::npy::{self, Dtype, Header, HeaderError, Order};
use super::pickle::{self, Refusal};
use super::{Archive, InPlace, ReadOptions, FIELDS};
use crate::error::{Error, ErrorKind, Result};
use crate::memory;

/// Deflate cannot expand data by more than about 1032:1; anything claiming more is a lie.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Read granularity (a multiple of every element size).
const CHUNK: usize = 64 * 1024;
/// Read granularity of the rows: large enough that the per-read costs vanish (and reads bypass
/// the file's buffer), small enough that a chunk, decoded, is still in L2 when the sink visits it.
const ROWS_CHUNK: usize = 256 * 1024;
/// Below this, a member's data buffer is reserved whole; above it, a compressed member's
/// buffer grows with the bytes actually decompressed, so a lying size costs nothing.
const EAGER_RESERVE: u64 = 64 * 1024 * 1024;
/// A compressed `vectors` member expanding at most this much is reserved whole up front:
/// float rows deflate by a few percent, so real archives decode straight into one buffer of
/// the final size, while a member claiming more grows with the bytes really decompressed.
const PLAUSIBLE_FLOAT_RATIO: u64 = 4;
/// Unexpected member names listed in a message.
const MAX_LISTED: usize = 5;

fn format_error(message: String) -> Error {
    Error::new(ErrorKind::Format, message)
}

/// Where decoded rows go while they are hot: the store checks and normalizes them there.
pub(crate) trait RowSink {
    /// Called once the archive's `dimensions` and `normalize` are known and `vectors.npy`'s
    /// shape is checked, before any row; `rows` is the row count worth reserving room for (0
    /// when the member's size is not yet trusted).
    fn start(&mut self, dimensions: usize, normalize: bool, rows: usize);
    /// The next whole rows, in the buffer the archive will return (C order, native floats);
    /// a sink may change them in place. Every row is handed over once, in order (those of a
    /// Fortran-ordered member after the transposition), as it is decoded: before the member's
    /// CRC and the rest of the archive are checked, so a sink keeps its verdict for the end
    /// and the rows count for nothing if reading fails.
    fn rows(&mut self, rows: &mut [f32]);
}

/// Reading only: nothing to do with the rows.
impl RowSink for () {
    fn start(&mut self, _: usize, _: bool, _: usize) {}
    fn rows(&mut self, _: &mut [f32]) {}
}

/// The archive being read: the zip directory plus what messages need.
struct Reader<R> {
    zip: ZipArchive<R>,
    total_len: u64,
    /// "archive /path/to/file.npz" or "archive" for bytes.
    ctx: String,
    index: [Option<usize>; 5],
}

/// An open member with its parsed header.
struct Member<'a, R: Read> {
    file: ZipFile<'a, R>,
    name: String,
    ctx: &'a str,
    header: Header,
    declared: u64,
    compressed: u64,
    stored: bool,
}

/// Turn an I/O error from a member or the container into an error of the right kind: only a
/// genuine operating-system failure is `Io`; truncation, bad checksums and corrupt deflate
/// streams are properties of the file.
fn io_error(ctx: &str, name: Option<&str>, e: io::Error) -> Error {
    let place = match name {
        Some(n) => format!("{ctx}: member {n}"),
        None => ctx.to_string(),
    };
    if e.raw_os_error().is_some() {
        return Error::new(ErrorKind::Io, format!("{place}: cannot read: {e}"));
    }
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        format_error(format!("{place} is truncated"))
    } else if text.contains("checksum") {
        format_error(format!("{place} fails its CRC check (the file is corrupt)"))
    } else {
        format_error(format!("{place} has corrupt data ({text})"))
    }
}

fn zip_error(ctx: &str, name: Option<&str>, e: ZipError) -> Error {
    match e {
        ZipError::Io(e) => io_error(ctx, name, e),
        other => match name {
            Some(n) => format_error(format!("{ctx}: member {n} cannot be read: {other}")),
            None => format_error(format!("{ctx} is not a valid .npz (zip) file: {other}")),
        },
    }
}

/// Fill `buf` completely unless the reader ends first; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl<R: Read> Member<'_, R> {
    fn fail(&self, problem: impl std::fmt::Display) -> Error {
        format_error(format!("{}: member {} {problem}", self.ctx, self.name))
    }

    fn io(&self, e: io::Error) -> Error {
        io_error(self.ctx, Some(&self.name), e)
    }

    /// Where this member's array data lies in the file, if it can be used in place by a
    /// mapped read: stored, and aligned for values of `size` bytes. The caller checks dtype,
    /// byte order and layout.
    fn in_place(&self, size: u64) -> Option<InPlace> {
        let member_start = self.file.data_start()?;
        let data = member_start.checked_add(self.header.len)?;
        (self.stored && cfg!(target_endian = "little") && data.is_multiple_of(size)).then_some(InPlace {
            data,
            member_start,
            member_len: self.declared,
            crc: self.file.crc32(),
        })
    }

    /// The data length of a fixed-size array, checked against the member's declared size.
    fn data_len(&self) -> Result<u64> {
        let shape = npy::shape_repr(&self.header.shape);
        let Some(len) = self.header.data_len() else {
            return Err(self.fail(format_args!("has shape {shape}, which is too large")));
        };
        if self.header.len.checked_add(len) != Some(self.declared) {
            return Err(self.fail(format_args!(
                "has shape {shape} ({len} data bytes) but its size says {} data bytes",
                self.declared.saturating_sub(self.header.len)
            )));
        }
        Ok(len)
    }

    /// Stream exactly `len` data bytes to `sink` in chunks of at most `chunk` bytes that are
    /// whole elements.
    fn read_data(&mut self, len: u64, chunk: usize, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let mut buf = vec![0u8; chunk.min(len as usize)];
        let mut remaining = len;
        while remaining > 0 {
            let want = (remaining as usize).min(chunk);
            let got = fill(&mut self.file, &mut buf[..want]).map_err(|e| self.io(e))?;
            if got < want {
                return Err(self.fail(format_args!(
                    "is truncated: it ends {} bytes short of its shape",
                    remaining - got as u64
                )));
            }
            sink(&buf[..got])?;
            remaining -= got as u64;
        }
        self.finish()
    }

    /// Read to the end: the member must hold nothing more, and reaching the end makes the
    /// zip layer verify the CRC.
    fn finish(&mut self) -> Result<()> {
        let mut extra = [0u8; 1];
        match fill(&mut self.file, &mut extra).map_err(|e| self.io(e))? {
            0 => Ok(()),
            _ => Err(self.fail(format_args!(
                "holds more data than its shape {} needs",
                npy::shape_repr(&self.header.shape)
            ))),
        }
    }

    /// Everything after the header (for pickles, whose length the shape does not give).
    fn read_rest(&mut self) -> Result<Vec<u8>> {
        let limit = self.declared - self.header.len;
        let mut out = Vec::new();
        if self.stored || limit <= EAGER_RESERVE {
            out.try_reserve_exact(limit as usize)?;
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let got = fill(&mut self.file, &mut buf).map_err(|e| self.io(e))?;
            if got == 0 {
                break;
            }
            if out.len() as u64 + got as u64 > limit {
                return Err(self.fail("holds more data than its size says"));
            }
            out.try_reserve(got)?;
            out.extend_from_slice(&buf[..got]);
        }
        if (out.len() as u64) < limit {
            return Err(self.fail(format_args!(
                "is truncated: it ends {} bytes short of its size",
                limit - out.len() as u64
            )));
        }
        Ok(out)
    }

    /// Skip the data (of a type we do not decode), still reading to the end for the CRC.
    fn drain(&mut self) -> Result<()> {
        let limit = self.declared - self.header.len;
        let copied = io::copy(&mut (&mut self.file).take(limit), &mut io::sink()).map_err(|e| self.io(e))?;
        if copied < limit {
            return Err(self.fail("is truncated"));
        }
        self.finish()
    }

    /// The header must describe a 0-d array of one of `ok` dtypes; returns its one element.
    fn scalar_bytes(&mut self, field: &str, expected: &str, ok: impl Fn(&Dtype) -> bool) -> Result<Vec<u8>> {
        if !self.header.shape.is_empty() || !ok(&self.header.dtype) {
            return Err(format_error(format!(
                "{}: {field} must be a scalar {expected}, but member {} holds dtype {} with shape {}",
                self.ctx,
                self.name,
                self.header.dtype,
                npy::shape_repr(&self.header.shape)
            )));
        }
        let len = self.data_len()?;
        let mut out = Vec::with_capacity(len as usize);
        self.read_data(len, CHUNK, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Open member `field` (known to exist) and read its `.npy` header, after checking that
    /// its sizes are physically possible.
    fn member(&mut self, field: usize) -> Result<Member<'_, R>> {
        let name = format!("{}.npy", FIELDS[field]);
        let index = self.index[field].expect("member presence is checked before it is opened");
        let ctx = self.ctx.as_str();
        let total_len = self.total_len;
        let mut file = self.zip.by_index(index).map_err(|e| zip_error(ctx, Some(&name), e))?;
        let declared = file.size();
        let compressed = file.compressed_size();
        let within =
            file.data_start().and_then(|s| s.checked_add(compressed)).is_some_and(|end| end <= total_len);
        if !within {
            return Err(format_error(format!(
                "{ctx}: member {name} claims {compressed} bytes of data beyond the end of the file"
            )));
        }
        let stored = match file.compression() {
            CompressionMethod::Stored => {
                if declared != compressed {
                    return Err(format_error(format!(
                        "{ctx}: member {name} is stored uncompressed but declares {declared} bytes in {compressed}"
                    )));
                }
                true
            }
            CompressionMethod::Deflated => {
                if declared > compressed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(CHUNK as u64) {
                    return Err(format_error(format!(
                        "{ctx}: member {name} declares {declared} bytes, more than its {compressed} compressed bytes can hold"
                    )));
                }
                false
            }
            other => {
                return Err(format_error(format!(
                    "{ctx}: member {name} uses unsupported compression {other}"
                )));
            }
        };
        let header = match npy::read_header(&mut file, declared) {
            Ok(h) => h,
            Err(HeaderError::Io(e)) => return Err(io_error(ctx, Some(&name), e)),
            Err(HeaderError::Invalid(problem)) => {
                return Err(format_error(format!("{ctx}: member {name} {problem}")));
            }
        };
        Ok(Member { file, name, ctx, header, declared, compressed, stored })
    }

    fn int_scalar(&mut self, field: usize) -> Result<i128> {
        let mut m = self.member(field)?;
        let bytes = m.scalar_bytes(FIELDS[field], "integer", Dtype::is_int)?;
        Ok(m.header.dtype.decode_int(&bytes).unwrap_or_default())
    }

    fn bool_scalar(&mut self, field: usize) -> Result<bool> {
        let mut m = self.member(field)?;
        let bytes = m.scalar_bytes(FIELDS[field], "boolean", |d| *d == Dtype::Bool)?;
        // numpy reads any non-zero byte as True.
        Ok(bytes[0] != 0)
    }

    /// `vectors.npy`: a 2-D float32 array `dimensions` wide, returned in C order; its rows
    /// go to `sink` as they are decoded.
    fn vectors(
        &mut self,
        dimensions: usize,
        normalize: bool,
        map: bool,
        sink: &mut impl RowSink,
    ) -> Result<Vectors> {
        let mut m = self.member(FIELD_VECTORS)?;
        let ctx = m.ctx;
        let shape = npy::shape_repr(&m.header.shape);
        let order = match m.header.dtype {
            Dtype::F32(order) => order,
            Dtype::F16(order) => return Self::vectors_f16(m, order, dimensions, map),
            _ => {
                return Err(format_error(format!(
                    "{ctx}: vectors must be float32 ('<f4') or float16 ('<f2'), but member vectors.npy holds dtype {}",
                    m.header.dtype
                )))
            }
        };
        let &[rows, width] = &m.header.shape[..] else {
            return Err(format_error(format!(
                "{ctx}: vectors must be a 2-D array, but member vectors.npy has shape {shape}"
            )));
        };
        if width != dimensions as u64 {
            return Err(format_error(format!(
                "{ctx}: vectors are {width} wide (shape {shape}) but the archive's dimensions are {dimensions}"
            )));
        }
        let len = m.data_len()?;
        let (Ok(rows), Ok(count)) = (usize::try_from(rows), usize::try_from(len / 4)) else {
            return Err(m.fail(format_args!("has shape {shape}, which is too large for this machine")));
        };
        let whole_rows = !m.header.fortran_order || rows <= 1 || dimensions <= 1;
        if let (true, Order::Little, true) = (map, order, whole_rows) {
            if let Some(place) = m.in_place(4) {
                return Ok(Vectors { rows, in_place: Some(place), ..Default::default() });
            }
        }
        // The rows are decoded straight into the buffer the store keeps: open needs no second
        // copy of them.
        let mut out: Vec<f32> = Vec::new();
        let trusted = m.stored
            || len <= EAGER_RESERVE
            || m.declared <= m.compressed.saturating_mul(PLAUSIBLE_FLOAT_RATIO);
        if trusted {
            out.try_reserve_exact(count)?;
            memory::advise_huge_pages(&mut out);
        }
        sink.start(dimensions, normalize, if trusted { rows } else { 0 });
        // Fortran-ordered rows are whole only after the transposition.
        let transposed = m.header.fortran_order && rows > 1 && dimensions > 1;
        let mut visited = 0;
        m.read_data(len, ROWS_CHUNK, |chunk| {
            out.try_reserve(chunk.len() / 4)?;
            match order {
                Order::Little => {
                    out.extend(chunk.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                }
                Order::Big => {
                    out.extend(chunk.chunks_exact(4).map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]])))
                }
            }
            if !transposed {
                let whole = out.len() - out.len() % dimensions;
                sink.rows(&mut out[visited..whole]);
                visited = whole;
            }
            Ok(())
        })?;
        if transposed {
            out = transpose(&out, rows, dimensions)?;
            sink.rows(&mut out);
        }
        Ok(Vectors { rows, f32: out, ..Default::default() })
    }

    /// `vectors.npy` holding float16: the bit patterns, in C order (or left in place).
    fn vectors_f16(mut m: Member<'_, R>, order: Order, dimensions: usize, map: bool) -> Result<Vectors> {
        let shape = npy::shape_repr(&m.header.shape);
        let &[rows, width] = &m.header.shape[..] else {
            return Err(format_error(format!(
                "{}: vectors must be a 2-D array, but member vectors.npy has shape {shape}",
                m.ctx
            )));
        };
        if width != dimensions as u64 {
            return Err(format_error(format!(
                "{}: vectors are {width} wide (shape {shape}) but the archive's dimensions are {dimensions}",
                m.ctx
            )));
        }
        let len = m.data_len()?;
        let (Ok(rows), Ok(count)) = (usize::try_from(rows), usize::try_from(len / 2)) else {
            return Err(m.fail(format_args!("has shape {shape}, which is too large for this machine")));
        };
        let transposed = m.header.fortran_order && rows > 1 && dimensions > 1;
        if let (true, Order::Little, false) = (map, order, transposed) {
            if let Some(place) = m.in_place(2) {
                return Ok(Vectors { rows, in_place: Some(place), float16: true, ..Default::default() });
            }
        }
        let mut out: Vec<u16> = Vec::new();
        if m.stored || len <= EAGER_RESERVE {
            out.try_reserve_exact(count)?;
        }
        m.read_data(len, ROWS_CHUNK, |chunk| {
            out.try_reserve(chunk.len() / 2)?;
            match order {
                Order::Little => out.extend(chunk.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]))),
                Order::Big => out.extend(chunk.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]]))),
            }
            Ok(())
        })?;
        if transposed {
            out = transpose(&out, rows, dimensions)?;
        }
        Ok(Vectors { rows, f16: Some(out), float16: true, ..Default::default() })
    }

    /// `metadata.npy`: ids, one per row.
    fn metadata(&mut self, rows: usize, options: ReadOptions) -> Result<(Vec<u64>, Option<InPlace>)> {
        let mut m = self.member(FIELD_METADATA)?;
        let ctx = m.ctx;
        let shape = npy::shape_repr(&m.header.shape);
        let &[n] = &m.header.shape[..] else {
            return Err(format_error(format!(
                "{ctx}: metadata must be a 1-D array, but member metadata.npy has shape {shape}"
            )));
        };
        if n != rows as u64 {
            return Err(format_error(format!(
                "{ctx}: metadata has {n} entries but vectors have {rows} rows"
            )));
        }
        // Integers outside the uint64 range are refused whatever the options say: replacing
        // real ids by row indexes would lose data silently. Only payloads that are not
        // integers at all may become row indexes, and only when the caller asks.
        let out_of_range = |row: usize, value: &str| {
            format_error(format!(
                "{ctx}: metadata must be integers in the uint64 range, but row {row} holds the integer {value}"
            ))
        };
        let uint64 = Dtype::Int { signed: false, size: 8, order: Order::Little };
        if options.map && m.header.dtype == uint64 {
            m.data_len()?;
            if let Some(place) = m.in_place(8) {
                return Ok((Vec::new(), Some(place)));
            }
        }
        let found: String = match m.header.dtype.clone() {
            dtype @ Dtype::Int { size, .. } => {
                let len = m.data_len()?;
                let mut ids = Vec::new();
                ids.try_reserve_exact(rows)?;
                let mut negative = None;
                m.read_data(len, CHUNK, |chunk| {
                    for b in chunk.chunks_exact(size) {
                        let v = dtype.decode_int(b).unwrap_or_default();
                        if v < 0 && negative.is_none() {
                            negative = Some((ids.len(), v));
                        }
                        ids.push(v as u64);
                    }
                    Ok(())
                })?;
                match negative {
                    None => return Ok((ids, None)),
                    Some((row, v)) => return Err(out_of_range(row, &v.to_string())),
                }
            }
            Dtype::Object => {
                let payload = m.read_rest()?;
                match pickle::read_int_array(&payload) {
                    Ok(ids) if ids.len() == rows => return Ok((ids, None)),
                    Ok(ids) => format!("a pickled array of {} integers", ids.len()),
                    Err(Refusal::OutOfRange { row, value }) => return Err(out_of_range(row, &value)),
                    Err(Refusal::NotIntegers(e)) => {
                        format!("a pickled object array that is not plain integers: {e}")
                    }
                }
            }
            other => {
                m.drain()?;
                format!("dtype {other}")
            }
        };
        if options.row_index_metadata {
            return Ok(((0..rows as u64).collect(), None));
        }
        Err(format_error(format!(
            "{ctx}: metadata must be integers in the uint64 range; open with row-index metadata to ignore it (member metadata.npy holds {found})"
        )))
    }
}

/// What `vectors.npy` held: its row count and its values (float32, or float16 bit
/// patterns), or where they lie when left in place.
#[derive(Default)]
struct Vectors {
    rows: usize,
    f32: Vec<f32>,
    f16: Option<Vec<u16>>,
    float16: bool,
    in_place: Option<InPlace>,
}

const FIELD_VERSION: usize = 0;
const FIELD_DIMENSIONS: usize = 1;
const FIELD_NORMALIZE: usize = 2;
const FIELD_VECTORS: usize = 3;
const FIELD_METADATA: usize = 4;

fn transpose<T: Copy>(data: &[T], rows: usize, cols: usize) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(data.len())?;
    for r in 0..rows {
        out.extend((0..cols).map(|c| data[c * rows + r]));
    }
    Ok(out)
}

fn list(names: &[String]) -> String {
    let mut shown: Vec<&str> = names.iter().take(MAX_LISTED).map(String::as_str).collect();
    let more = names.len().saturating_sub(MAX_LISTED);
    let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
    shown.sort_unstable();
    format!("{}{tail}", shown.join(", "))
}

/// Read and validate a whole archive from `reader` (`total_len` bytes long), handing its rows
/// to `sink` as they are decoded.
pub(crate) fn read_archive<R: Read + Seek>(
    reader: R,
    total_len: u64,
    ctx: String,
    options: ReadOptions,
    sink: &mut impl RowSink,
) -> Result<Archive> {
    let zip = ZipArchive::new(reader).map_err(|e| zip_error(&ctx, None, e))?;
    if zip.has_duplicate_names() {
        return Err(format_error(format!("{ctx} has duplicate member names")));
    }
    let mut index = [None; 5];
    let mut unexpected = Vec::new();
    for (i, raw) in zip.file_names_raw().enumerate() {
        match FIELDS.iter().position(|f| raw.strip_suffix(b".npy") == Some(f.as_bytes())) {
            Some(k) => index[k] = Some(i),
            None => unexpected.push(format!("{:?}", String::from_utf8_lossy(raw))),
        }
    }
    let mut reader = Reader { zip, total_len, ctx, index };
    let ctx = reader.ctx.clone();
    if index[FIELD_VERSION].is_none() {
        return Err(format_error(format!(
            "{ctx} is missing member format_version.npy (is it a vector store archive?)"
        )));
    }
    let version = reader.int_scalar(FIELD_VERSION)?;
    if version != 1 {
        return Err(format_error(format!(
            "{ctx} has unsupported format version {version} (this library reads version 1)"
        )));
    }
    let missing: Vec<String> =
        FIELDS.iter().zip(index).filter(|(_, i)| i.is_none()).map(|(f, _)| format!("{f}.npy")).collect();
    if !missing.is_empty() {
        return Err(format_error(format!("{ctx} is missing members: {}", missing.join(", "))));
    }
    if !unexpected.is_empty() {
        return Err(format_error(format!("{ctx} has unexpected members: {}", list(&unexpected))));
    }
    let dimensions = reader.int_scalar(FIELD_DIMENSIONS)?;
    let normalize = reader.bool_scalar(FIELD_NORMALIZE)?;
    if dimensions <= 0 {
        return Err(format_error(format!("{ctx}: dimensions must be greater than 0, got {dimensions}")));
    }
    let Ok(dimensions) = usize::try_from(dimensions) else {
        return Err(format_error(format!("{ctx}: dimensions {dimensions} is too large")));
    };
    let v = reader.vectors(dimensions, normalize, options.map, sink)?;
    let (ids, ids_in_place) = reader.metadata(v.rows, options)?;
    Ok(Archive {
        dimensions,
        normalize,
        vectors: v.f32,
        ids,
        vectors_f16: v.f16,
        float16: v.float16,
        vectors_in_place: v.in_place,
        ids_in_place,
    })
}
