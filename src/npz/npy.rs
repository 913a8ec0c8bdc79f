//! The `.npy` array header: magic, version 1.0/2.0/3.0, and the Python-literal dict with
//! `descr`, `fortran_order` and `shape` (see numpy's `lib/_format_impl.py`).
//!
//! The header is parsed by a small literal reader (strings, integers, booleans, None, tuples,
//! lists, dicts) with a depth limit; nothing in it is ever evaluated.

use std::fmt;
use std::io::Read;

/// `\x93NUMPY`.
pub(crate) const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Headers larger than this are refused before they are read (numpy itself refuses more than
/// 10000 characters without `allow_pickle`). Our own headers are under 128 bytes.
pub(crate) const MAX_HEADER_LEN: u32 = 16 * 1024;
/// numpy pads the header so the data starts on a multiple of this.
const ARRAY_ALIGN: usize = 64;
/// numpy leaves room for the growth axis to reach this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
const MAX_DEPTH: usize = 16;

/// Byte order of a multi-byte element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Little,
    Big,
}

impl Order {
    const fn native() -> Order {
        if cfg!(target_endian = "big") {
            Order::Big
        } else {
            Order::Little
        }
    }
}

/// The element types the codec understands; anything else is kept as its description so
/// messages can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dtype {
    Bool,
    Int {
        signed: bool,
        size: usize,
        order: Order,
    },
    F32(Order),
    /// IEEE float16 (`<f2`): the rows of a float16 store.
    F16(Order),
    Object,
    Other(String),
}

impl Dtype {
    /// Bytes per element, `None` for object arrays (a pickle) and unknown types.
    pub(crate) fn item_size(&self) -> Option<usize> {
        match self {
            Dtype::Bool => Some(1),
            Dtype::Int { size, .. } => Some(*size),
            Dtype::F32(_) => Some(4),
            Dtype::F16(_) => Some(2),
            Dtype::Object | Dtype::Other(_) => None,
        }
    }

    pub(crate) fn is_int(&self) -> bool {
        matches!(self, Dtype::Int { .. })
    }

    /// Decode one integer element (`bytes.len()` equals the size).
    pub(crate) fn decode_int(&self, bytes: &[u8]) -> Option<i128> {
        let Dtype::Int { signed, size, order } = *self else { return None };
        let mut buf = [0u8; 16];
        match order {
            Order::Little => buf[..size].copy_from_slice(&bytes[..size]),
            Order::Big => {
                for (i, b) in bytes[..size].iter().rev().enumerate() {
                    buf[i] = *b;
                }
            }
        }
        if signed && buf[size - 1] & 0x80 != 0 {
            for b in &mut buf[size..] {
                *b = 0xff;
            }
        }
        Some(i128::from_le_bytes(buf))
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = |o: &Order| if *o == Order::Little { '<' } else { '>' };
        match self {
            Dtype::Bool => f.write_str("|b1"),
            Dtype::Int { signed, size, order: o } => {
                let kind = if *signed { 'i' } else { 'u' };
                if *size == 1 {
                    write!(f, "|{kind}1")
                } else {
                    write!(f, "{}{kind}{size}", order(o))
                }
            }
            Dtype::F32(o) => write!(f, "{}f4", order(o)),
            Dtype::F16(o) => write!(f, "{}f2", order(o)),
            Dtype::Object => f.write_str("|O"),
            Dtype::Other(s) => f.write_str(s),
        }
    }
}

/// Map a numpy type string (`'<f4'`, `'|b1'`, `'|O'`, ...) to a [`Dtype`].
pub(crate) fn parse_descr(descr: &str) -> Dtype {
    let other = || Dtype::Other(descr.to_string());
    let (order, rest) = match descr.as_bytes().first() {
        Some(b'<') => (Some(Order::Little), &descr[1..]),
        Some(b'>') => (Some(Order::Big), &descr[1..]),
        Some(b'=') | Some(b'|') => (None, &descr[1..]),
        _ => (None, descr),
    };
    let order = order.unwrap_or(Order::native());
    let mut chars = rest.chars();
    let Some(kind) = chars.next() else { return other() };
    let size_str = chars.as_str();
    let size: Option<usize> = if size_str.is_empty() {
        None
    } else if size_str.bytes().all(|b| b.is_ascii_digit()) && size_str.len() <= 3 {
        size_str.parse().ok()
    } else {
        return other();
    };
    match (kind, size) {
        ('b', Some(1)) | ('?', None) | ('?', Some(1)) => Dtype::Bool,
        ('i', Some(s @ (1 | 2 | 4 | 8))) => Dtype::Int { signed: true, size: s, order },
        ('u', Some(s @ (1 | 2 | 4 | 8))) => Dtype::Int { signed: false, size: s, order },
        ('f', Some(4)) => Dtype::F32(order),
        ('f', Some(2)) => Dtype::F16(order),
        ('O', None) | ('O', Some(8)) => Dtype::Object,
        _ => other(),
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) dtype: Dtype,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<u64>,
    /// Bytes from the start of the member to the first data byte.
    pub(crate) len: u64,
}

impl Header {
    /// Number of elements, `None` on overflow.
    pub(crate) fn element_count(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Data bytes the shape needs (fixed-size types only), `None` on overflow.
    pub(crate) fn data_len(&self) -> Option<u64> {
        let size = self.dtype.item_size()? as u64;
        self.element_count()?.checked_mul(size)
    }
}

/// Format a shape the way Python prints a tuple: `()`, `(3,)`, `(2, 3)`.
pub(crate) fn shape_repr(shape: &[u64]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// Read and parse a header from `r`. `available` is the member's declared size, which bounds
/// the header length. Errors are plain strings; the caller adds the member name.
pub(crate) fn read_header(r: &mut impl Read, available: u64) -> Result<Header, HeaderError> {
    let mut prefix = [0u8; 8];
    read_exact(r, &mut prefix)?;
    if &prefix[..6] != MAGIC {
        return Err(HeaderError::Invalid("is not a .npy array (bad magic bytes)".into()));
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (len_size, utf8) = match (major, minor) {
        (1, 0) => (2usize, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => {
            return Err(HeaderError::Invalid(format!("has unsupported .npy format version {major}.{minor}")))
        }
    };
    let mut len_bytes = [0u8; 4];
    read_exact(r, &mut len_bytes[..len_size])?;
    let header_len = u32::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_LEN {
        return Err(HeaderError::Invalid(format!(
            "has a {header_len}-byte .npy header (more than the {MAX_HEADER_LEN} allowed)"
        )));
    }
    let total = 8 + len_size as u64 + header_len as u64;
    if total > available {
        return Err(HeaderError::Invalid(format!(
            "has a {header_len}-byte .npy header but holds only {available} bytes"
        )));
    }
    let mut text = vec![0u8; header_len as usize];
    read_exact(r, &mut text)?;
    let text: String = if utf8 {
        String::from_utf8(text)
            .map_err(|_| HeaderError::Invalid("has a .npy header that is not UTF-8".into()))?
    } else {
        text.iter().map(|&b| b as char).collect()
    };
    let mut header = parse_header_text(&text).map_err(HeaderError::Invalid)?;
    header.len = total;
    Ok(header)
}

/// Why a header could not be read.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The reader failed (truncation, CRC, OS error).
    Io(std::io::Error),
    /// The header is malformed; the text completes "member X ...".
    Invalid(String),
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), HeaderError> {
    r.read_exact(buf).map_err(HeaderError::Io)
}

fn parse_header_text(text: &str) -> Result<Header, String> {
    let value = Parser { s: text.as_bytes(), pos: 0 }
        .parse_all()
        .map_err(|e| format!("has an unreadable .npy header ({e})"))?;
    let Literal::Dict(entries) = value else {
        return Err("has a .npy header that is not a dict".into());
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    let keys: Vec<String> = entries.iter().map(|(k, _)| format!("{k}")).collect();
    let bad_keys =
        || format!("has .npy header keys [{}], expected descr, fortran_order, shape", keys.join(", "));
    for (k, v) in &entries {
        let Literal::Str(k) = k else { return Err(bad_keys()) };
        let slot = match k.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => return Err(bad_keys()),
        };
        if slot.replace(v).is_some() {
            return Err(bad_keys());
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(bad_keys());
    };
    let dtype = match descr {
        Literal::Str(s) => parse_descr(s),
        other => Dtype::Other(format!("{other}")),
    };
    let Literal::Bool(fortran_order) = *fortran else {
        return Err(format!("has fortran_order {fortran} in its .npy header, expected True or False"));
    };
    let Literal::Tuple(dims) = shape else {
        return Err(format!("has shape {shape} in its .npy header, expected a tuple of integers"));
    };
    let mut out = Vec::with_capacity(dims.len());
    for d in dims {
        match d {
            Literal::Int(n) if *n >= 0 && *n <= u64::MAX as i128 => out.push(*n as u64),
            _ => {
                return Err(format!(
                    "has shape {shape} in its .npy header, expected non-negative 64-bit integers"
                ))
            }
        }
    }
    Ok(Header { dtype, fortran_order, shape: out, len: 0 })
}

/// A Python literal as it appears in a `.npy` header.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, items: &[Literal]) -> fmt::Result {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{it}")?;
            }
            Ok(())
        }
        match self {
            Literal::Str(s) => write!(f, "{s:?}"),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Literal::None => f.write_str("None"),
            Literal::Tuple(items) => {
                f.write_str("(")?;
                seq(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Literal::List(items) => {
                f.write_str("[")?;
                seq(f, items)?;
                f.write_str("]")
            }
            Literal::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn parse_all(mut self) -> Result<Literal, String> {
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos != self.s.len() {
            return Err(format!("unexpected text at offset {}", self.pos));
        }
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at offset {}", c as char, self.pos))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Literal::Dict(entries));
                    }
                    let k = self.value(depth + 1)?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    } else {
                        self.expect(b'}')?;
                        return Ok(Literal::Dict(entries));
                    }
                }
            }
            Some(open @ (b'(' | b'[')) => {
                self.pos += 1;
                let close = if open == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                let mut trailing_comma = false;
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                        trailing_comma = true;
                    } else {
                        self.expect(close)?;
                        trailing_comma = false;
                        break;
                    }
                }
                if open == b'[' {
                    Ok(Literal::List(items))
                } else if items.len() == 1 && !trailing_comma {
                    // `(3)` is the integer 3, not a tuple.
                    Ok(items.pop().unwrap_or(Literal::None))
                } else {
                    Ok(Literal::Tuple(items))
                }
            }
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'u' | b'b') if matches!(self.s.get(self.pos + 1), Some(b'\'' | b'"')) => {
                self.pos += 1;
                let q = self.s[self.pos];
                self.string(q)
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.pos < self.s.len()
                    && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_')
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Literal::Bool(true)),
                    b"False" => Ok(Literal::Bool(false)),
                    b"None" => Ok(Literal::None),
                    _ => Err(format!("unexpected name at offset {start}")),
                }
            }
            Some(_) => Err(format!("unexpected character at offset {}", self.pos)),
            None => Err("unexpected end of header".into()),
        }
    }

    fn string(&mut self, quote: u8) -> Result<Literal, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.pos) {
                None => return Err(format!("unterminated string at offset {start}")),
                Some(&c) if c == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let Some(&next) = self.s.get(self.pos + 1) else {
                        return Err(format!("unterminated string at offset {start}"));
                    };
                    out.push(next);
                    self.pos += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(Literal::Str(String::from_utf8_lossy(&out).into_owned()))
    }

    fn int(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        let negative = match self.s[self.pos] {
            b'-' => {
                self.pos += 1;
                true
            }
            b'+' => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let digits_start = self.pos;
        let mut n: i128 = 0;
        while let Some(&c) = self.s.get(self.pos) {
            if !c.is_ascii_digit() {
                break;
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add((c - b'0') as i128))
                .ok_or_else(|| format!("integer too large at offset {start}"))?;
            self.pos += 1;
        }
        if self.pos == digits_start {
            return Err(format!("expected a number at offset {start}"));
        }
        // Python 2 wrote long integers with an `L` suffix (numpy still reads them).
        if self.s.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        Ok(Literal::Int(if negative { -n } else { n }))
    }
}

/// Build a version 1.0 header exactly as numpy writes it: sorted keys, growth-axis room,
/// space padding to a multiple of 64 bytes, a final newline.
pub(crate) fn write_header(dtype: &Dtype, shape: &[u64]) -> Vec<u8> {
    let mut dict =
        format!("{{'descr': '{dtype}', 'fortran_order': False, 'shape': {}, }}", shape_repr(shape));
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    // Like numpy: an already aligned header still gets a full block of padding.
    let pad = ARRAY_ALIGN - unpadded % ARRAY_ALIGN;
    let header_len = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + header_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Our dicts are short; a header this small always fits version 1.0's u16 length.
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Header, String> {
        let len = bytes.len() as u64;
        read_header(&mut &bytes[..], len).map_err(|e| match e {
            HeaderError::Io(e) => format!("io: {e}"),
            HeaderError::Invalid(s) => s,
        })
    }

    #[test]
    fn writes_numpy_identical_headers() {
        // Produced by numpy 2.4 `np.save` for an int64 scalar and a (2, 3) float32 array.
        let scalar = write_header(&parse_descr("<i8"), &[]);
        let mut want =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_order': False, 'shape': (), }".to_vec();
        want.resize(127, b' ');
        want.push(b'\n');
        assert_eq!(scalar, want);
        let matrix = write_header(&parse_descr("<f4"), &[2, 3]);
        let mut want =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_vec();
        want.resize(127, b' ');
        want.push(b'\n');
        assert_eq!(matrix, want);
        assert_eq!(matrix.len() % 64, 0);
    }

    #[test]
    fn round_trips_headers() {
        for (descr, shape) in [("<f4", vec![0, 384]), ("<u8", vec![7]), ("|b1", vec![]), ("|O", vec![3])] {
            let dtype = parse_descr(descr);
            let h = parse(&write_header(&dtype, &shape)).unwrap();
            assert_eq!(h.dtype, dtype);
            assert_eq!(h.shape, shape);
            assert!(!h.fortran_order);
            assert_eq!(h.len % 64, 0);
        }
    }

    fn raw(version: u8, text: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn reads_other_versions_and_spellings() {
        let h = parse(&raw(2, "{\"shape\": (3L, 4L), 'fortran_order': True, 'descr': '>f4'}\n")).unwrap();
        assert_eq!(h.dtype, Dtype::F32(Order::Big));
        assert_eq!(h.shape, vec![3, 4]);
        assert!(h.fortran_order);
        let h = parse(&raw(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,)}")).unwrap();
        assert_eq!(h.dtype, Dtype::Int { signed: false, size: 1, order: Order::native() });
        let h = parse(&raw(1, "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (5,)}")).unwrap();
        assert!(matches!(h.dtype, Dtype::Other(_)));
    }

    #[test]
    fn rejects_bad_headers() {
        for text in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
            "{'descr': '<f4', 'fortran_order': False, 'shape': __import__('os')}",
            "[1, 2]",
            "((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))",
        ] {
            assert!(parse(&raw(1, text)).is_err(), "{text}");
        }
        assert!(parse(b"\x93NUMPX\x01\x00\x00\x00").is_err());
        assert!(parse(&raw(4, "{}")).is_err());
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&[2, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(parse(&huge).unwrap_err().contains("allowed"));
    }

    #[test]
    fn decodes_integers() {
        assert_eq!(parse_descr(">i2").decode_int(&[0xff, 0xfe]), Some(-2));
        assert_eq!(parse_descr("<i8").decode_int(&(-5i64).to_le_bytes()), Some(-5));
        assert_eq!(parse_descr("<u8").decode_int(&u64::MAX.to_le_bytes()), Some(u64::MAX as i128));
        assert_eq!(parse_descr("|i1").decode_int(&[0x80]), Some(-128));
    }
}
