//! Writing an archive: five `.npy` members in a zip, streamed (no second copy of the rows),
//! without ever printing (see [`Sink`]).

use std::cell::Cell;
use std::io::{self, Seek, SeekFrom, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::npy::{self, Dtype, Order};
use super::pickle;
use super::WriteOptions;

/// zlib level for compressed archives. Float data barely compresses at any level: for 100k x
/// 384 random rows level 1 gives 142.3 MB in 1.4 s where numpy's level 6 gives 142.4 MB in
/// 4.2 s (docs/persistence.md), so the fast level is the better trade.
pub(crate) const DEFLATE_LEVEL: i64 = 1;
/// Floats converted per write call.
const CHUNK: usize = 16 * 1024;

fn zip_io(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// Shared between [`write_archive`] and the [`Sink`] that the zip writer owns.
#[derive(Default)]
struct SinkState {
    /// Set by the first I/O error, or by `write_archive` giving up for another reason.
    broken: Cell<bool>,
    /// The first I/O error, as the operating system reported it.
    first_error: Cell<Option<io::Error>>,
}

impl SinkState {
    /// Fails once the output has failed, so the writing loops stop early.
    fn check(&self) -> io::Result<()> {
        if self.broken.get() {
            return Err(io::Error::other("the output failed"));
        }
        Ok(())
    }
}

/// The zip writer's output, in front of the real one.
///
/// `ZipWriter` finishes an unfinished archive when it is dropped and prints a failure to
/// stderr, and a library must never print. So the sink never returns an error: the first
/// failing operation (and everything after it) is reported to it as a success, the error is
/// kept for [`write_archive`], and from then on the real output is not touched again. The sink
/// then stands in for a file of unlimited size: writes and seeks move a position and a length
/// tracked since the start, so the zip writer's offset arithmetic stays consistent and its
/// drop-time finish has nothing that can fail.
struct Sink<'a, W> {
    out: &'a mut W,
    state: &'a SinkState,
    pos: u64,
    len: u64,
}

impl<W> Sink<'_, W> {
    fn fail(&self, e: io::Error) {
        if !self.state.broken.replace(true) {
            self.state.first_error.set(Some(e));
        }
    }
}

impl<W: Write> Write for Sink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.state.broken.get() {
            if let Err(e) = self.out.write_all(buf) {
                self.fail(e);
            }
        }
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.state.broken.get() {
            if let Err(e) = self.out.flush() {
                self.fail(e);
            }
        }
        Ok(())
    }
}

impl<W: Seek> Seek for Sink<'_, W> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let Some(target) = target else {
            // The zip writer never does this; like any failure it breaks the sink.
            self.fail(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the archive"));
            self.pos = 0;
            return Ok(0);
        };
        if !self.state.broken.get() {
            match self.out.seek(SeekFrom::Start(target)) {
                Ok(p) if p == target => {}
                Ok(p) => self.fail(io::Error::other(format!("seek to {target} went to {p}"))),
                Err(e) => self.fail(e),
            }
        }
        self.pos = target;
        Ok(target)
    }
}

struct Members<'z, W: Write + Seek> {
    zip: &'z mut ZipWriter<W>,
    options: SimpleFileOptions,
}

impl<W: Write + Seek> Members<'_, W> {
    /// Start member `name` whose header + data will be `size` bytes.
    fn start(&mut self, name: &str, size: u64) -> io::Result<()> {
        // Zip64 records only where the classic 32-bit fields cannot hold the sizes.
        let options = self.options.large_file(size >= u32::MAX as u64 / 2);
        self.zip.start_file(name, options).map_err(zip_io)
    }

    fn array(&mut self, name: &str, dtype: &Dtype, shape: &[u64], data: &[u8]) -> io::Result<()> {
        let header = npy::write_header(dtype, shape);
        self.start(name, (header.len() + data.len()) as u64)?;
        self.zip.write_all(&header)?;
        self.zip.write_all(data)
    }
}

/// Write the archive to `out`, which must be empty and at position 0. On failure the first I/O
/// error is returned and nothing is printed (see [`Sink`]); `out` then holds a partial archive
/// and may still hold buffered bytes.
pub(crate) fn write_archive<W: Write + Seek>(
    out: &mut W,
    dimensions: usize,
    normalize: bool,
    vectors: &[f32],
    ids: &[u64],
    options: WriteOptions,
) -> io::Result<()> {
    let state = SinkState::default();
    let mut zip = ZipWriter::new(Sink { out, state: &state, pos: 0, len: 0 });
    let result = match write_members(&mut zip, &state, dimensions, normalize, vectors, ids, options) {
        Ok(()) => zip.finish().map(drop).map_err(zip_io),
        Err(e) => {
            // Stop writing for real: the zip writer's drop-time finish then only moves the
            // sink's position, which cannot fail (and so prints nothing).
            state.broken.set(true);
            drop(zip);
            Err(e)
        }
    };
    match state.first_error.take() {
        Some(e) => Err(e),
        None => result,
    }
}

fn write_members<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    state: &SinkState,
    dimensions: usize,
    normalize: bool,
    vectors: &[f32],
    ids: &[u64],
    options: WriteOptions,
) -> io::Result<()> {
    let base = if options.uncompressed {
        SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
    } else {
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
    };
    let mut m = Members { zip, options: base };
    let i8 = Dtype::Int { signed: true, size: 8, order: Order::Little };
    m.array("format_version.npy", &i8, &[], &1i64.to_le_bytes())?;
    m.array("dimensions.npy", &i8, &[], &(dimensions as i64).to_le_bytes())?;
    m.array("normalize.npy", &Dtype::Bool, &[], &[normalize as u8])?;
    state.check()?;

    let rows = ids.len() as u64;
    let header = npy::write_header(&Dtype::F32(Order::Little), &[rows, dimensions as u64]);
    m.start("vectors.npy", header.len() as u64 + vectors.len() as u64 * 4)?;
    m.zip.write_all(&header)?;
    let mut buf = Vec::with_capacity(CHUNK * 4);
    for chunk in vectors.chunks(CHUNK) {
        buf.clear();
        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        m.zip.write_all(&buf)?;
        state.check()?;
    }

    if options.pickled_metadata {
        m.array("metadata.npy", &Dtype::Object, &[rows], &pickle::write_int_array(ids))?;
    } else {
        let u8le = Dtype::Int { signed: false, size: 8, order: Order::Little };
        let header = npy::write_header(&u8le, &[rows]);
        m.start("metadata.npy", header.len() as u64 + rows * 8)?;
        m.zip.write_all(&header)?;
        for chunk in ids.chunks(CHUNK) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            m.zip.write_all(&buf)?;
            state.check()?;
        }
    }
    Ok(())
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
            write_archive(&mut full, 3, false, &vectors, &ids, options).unwrap();
            let size = full.written;
            let calls = usize::MAX - full.ops;
            let archive = super::super::read_bytes(full.data.get_ref(), Default::default()).unwrap();
            assert_eq!((archive.vectors, archive.ids), (vectors.clone(), ids.clone()));
            let cases = (0..size).map(|b| (b, usize::MAX)).chain((0..calls).map(|c| (u64::MAX, c)));
            for (bytes, ops) in cases {
                let mut out = Failing::new(bytes, ops);
                let e = write_archive(&mut out, 3, false, &vectors, &ids, options).unwrap_err();
                assert_eq!(e.to_string(), "injected failure", "bytes {bytes}, ops {ops}");
                assert_eq!(out.calls_after_failure, 0, "bytes {bytes}, ops {ops}");
            }
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
