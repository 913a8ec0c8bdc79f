//! A restricted reader and a writer for the one pickle numpy produces for a 1-D object array
//! of integers: `numpy._core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')` rebuilt
//! with the state `(1, (n,), dtype('O8'), False, [item, ...])`, where an item is a Python int
//! or a numpy integer scalar (`numpy._core.multiarray.scalar(dtype('i8'), b'...')`, what
//! metadata taken from a numpy array, such as `np.arange(n)`, pickles as).
//!
//! The reader is a stack machine over plain values. It knows the opcodes pickle protocols 2-5
//! use for that object (plus the obvious neighbours), resolves only the handful of globals
//! numpy names (`_reconstruct`, `ndarray`, `dtype`, `scalar`, and `_codecs.encode` for
//! protocol 2 bytes) into inert markers, decodes integer scalars from their bytes itself, and
//! never calls or imports anything. Containers are at most a
//! few levels deep (lists hold scalars only, tuples have a depth limit), so dropping them
//! cannot recurse deeply, and every opcode consumes input, so work and memory stay linear in
//! the payload size.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Deepest tuple nesting accepted (numpy's pickle nests 2 deep).
const MAX_TUPLE_DEPTH: usize = 8;
/// Items per APPENDS batch when writing (what Python's pickler does).
const BATCH: usize = 1000;

/// Why a payload was not accepted. The text says what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PickleError(pub(crate) String);

/// What a well-formed integer array did not satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The payload is not an object array of integers only (a dict, a string, an unknown
    /// global, a malformed pickle, ...). The text says what was found.
    NotIntegers(String),
    /// Every item is an integer, but the one at `row` lies outside 0..=u64::MAX.
    OutOfRange { row: usize, value: String },
}

type PResult<T> = Result<T, PickleError>;

macro_rules! bail {
    ($($arg:tt)*) => { return Err(PickleError(format!($($arg)*))) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Reconstruct,
    Ndarray,
    Dtype,
    Scalar,
    CodecsEncode,
}

/// A `numpy.dtype` object: its type code (`'i8'`, `'O8'`, ...) and, once its state is set,
/// its byte order character (`'<'`, `'>'`, `'|'`). Shared, as BUILD sets the state in place.
#[derive(Debug)]
struct DtypeState {
    code: Rc<str>,
    order: Option<char>,
}

#[derive(Debug, Default)]
struct ArrayState {
    object_dtype: bool,
    shape: Option<Vec<u64>>,
    items: Option<Rc<RefCell<Vec<Value>>>>,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    /// An integer; `Err` holds the decimal text of one outside 0..=u64::MAX.
    Int(std::result::Result<u64, Rc<str>>),
    Float,
    /// A numpy scalar that is not an integer (its dtype code).
    OtherScalar(Rc<str>),
    Bytes(Rc<[u8]>),
    Str(Rc<str>),
    Tuple(Rc<[Value]>, usize),
    List(Rc<RefCell<Vec<Value>>>),
    Global(Global),
    Dtype(Rc<RefCell<DtypeState>>),
    Array(Rc<RefCell<ArrayState>>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(Ok(_)) => "an int",
            Value::Int(Err(_)) => "an int outside the uint64 range",
            Value::Float => "a float",
            Value::OtherScalar(_) => "a numpy scalar that is not an integer",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "a string",
            Value::Tuple(..) => "a tuple",
            Value::List(_) => "a list",
            Value::Global(_) => "a numpy callable",
            Value::Dtype(_) => "a dtype",
            Value::Array(_) => "an array",
        }
    }

    fn depth(&self) -> usize {
        match self {
            Value::Tuple(_, d) => *d,
            Value::List(_) | Value::Array(_) => 1,
            _ => 0,
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(
            self,
            Value::None
                | Value::Bool
                | Value::Int(_)
                | Value::Float
                | Value::OtherScalar(_)
                | Value::Bytes(_)
                | Value::Str(_)
        )
    }
}

fn tuple(items: Vec<Value>) -> PResult<Value> {
    let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
    if depth > MAX_TUPLE_DEPTH {
        bail!("tuples nested more than {MAX_TUPLE_DEPTH} deep");
    }
    Ok(Value::Tuple(items.into(), depth))
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => bail!("the pickle is truncated"),
        }
    }

    fn byte(&mut self) -> PResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> PResult<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap_or_default()))
    }

    fn u32(&mut self) -> PResult<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    fn u64(&mut self) -> PResult<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }

    fn len8(&mut self) -> PResult<usize> {
        usize::try_from(self.u64()?).map_err(|_| PickleError("the pickle is truncated".into()))
    }

    fn line(&mut self) -> PResult<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else { bail!("the pickle is truncated") };
        let line = std::str::from_utf8(&rest[..end])
            .map_err(|_| PickleError("a global name is not UTF-8".into()))?;
        self.pos += end + 1;
        Ok(line)
    }

    fn pop(&mut self) -> PResult<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            bail!("the pickle pops past a mark");
        }
        self.stack.pop().ok_or_else(|| PickleError("the pickle pops an empty stack".into()))
    }

    fn pop_mark(&mut self) -> PResult<Vec<Value>> {
        let Some(mark) = self.marks.pop() else { bail!("the pickle has no mark to pop") };
        Ok(self.stack.split_off(mark))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn str(&mut self, n: usize) -> PResult<Value> {
        let s =
            std::str::from_utf8(self.take(n)?).map_err(|_| PickleError("a string is not UTF-8".into()))?;
        Ok(Value::Str(s.into()))
    }

    fn bytes(&mut self, n: usize) -> PResult<Value> {
        Ok(Value::Bytes(self.take(n)?.into()))
    }

    /// Little-endian two's complement, as LONG1/LONG4 store it.
    fn long(&mut self, n: usize) -> PResult<Value> {
        Ok(Value::Int(int_from_le(self.take(n)?, true)))
    }

    fn global(&self, module: &str, name: &str) -> PResult<Value> {
        Ok(Value::Global(match (module, name) {
            ("numpy._core.multiarray" | "numpy.core.multiarray", "_reconstruct") => Global::Reconstruct,
            ("numpy", "ndarray") => Global::Ndarray,
            ("numpy", "dtype") => Global::Dtype,
            ("numpy._core.multiarray" | "numpy.core.multiarray", "scalar") => Global::Scalar,
            ("_codecs", "encode") => Global::CodecsEncode,
            _ => bail!("the pickle refers to {module}.{name}"),
        }))
    }

    fn reduce(&mut self, callable: Value, args: Value) -> PResult<Value> {
        let (Value::Global(g), Value::Tuple(args, _)) = (&callable, &args) else {
            bail!("the pickle calls {} with {}", callable.kind(), args.kind());
        };
        match (g, &args[..]) {
            (Global::Reconstruct, [Value::Global(Global::Ndarray), ..]) => {
                Ok(Value::Array(Rc::new(RefCell::new(ArrayState::default()))))
            }
            (Global::Dtype, [Value::Str(code), ..]) => {
                Ok(Value::Dtype(Rc::new(RefCell::new(DtypeState { code: Rc::clone(code), order: None }))))
            }
            (Global::Scalar, [Value::Dtype(dtype), Value::Bytes(data)]) => scalar(&dtype.borrow(), data),
            // Protocol 2 spells bytes as _codecs.encode(text, 'latin1').
            (Global::CodecsEncode, [Value::Str(text), Value::Str(enc)]) if &**enc == "latin1" => {
                let mut bytes = Vec::with_capacity(text.len());
                for c in text.chars() {
                    match u8::try_from(c as u32) {
                        Ok(b) => bytes.push(b),
                        Err(_) => bail!("the pickle encodes non-latin1 text"),
                    }
                }
                Ok(Value::Bytes(bytes.into()))
            }
            _ => bail!("the pickle makes an unexpected call"),
        }
    }

    fn build(&mut self, state: Value) -> PResult<()> {
        let target = self.stack.last().cloned();
        match target {
            Some(Value::Dtype(dtype)) => {
                // (version, byte order, subarray, names, fields, itemsize, alignment, flags)
                let Value::Tuple(state, _) = state else { bail!("the dtype state is {}", state.kind()) };
                if let Some(Value::Str(order)) = state.get(1) {
                    let mut chars = order.chars();
                    if let (Some(c), None) = (chars.next(), chars.next()) {
                        dtype.borrow_mut().order = Some(c);
                    }
                }
                Ok(())
            }
            Some(Value::Array(array)) => {
                let Value::Tuple(state, _) = state else { bail!("the array state is {}", state.kind()) };
                let [_version, Value::Tuple(shape, _), dtype, _fortran, data] = &state[..] else {
                    bail!("the array state has an unexpected layout");
                };
                let Value::Dtype(dtype) = dtype else { bail!("the array dtype is {}", dtype.kind()) };
                let object = matches!(&*dtype.borrow().code, "O8" | "O");
                let mut dims = Vec::with_capacity(shape.len());
                for d in shape.iter() {
                    let Value::Int(Ok(d)) = d else { bail!("the array shape holds {}", d.kind()) };
                    dims.push(*d);
                }
                let Value::List(items) = data else { bail!("the array data is {}", data.kind()) };
                let mut a = array.borrow_mut();
                a.object_dtype = object;
                a.shape = Some(dims);
                a.items = Some(Rc::clone(items));
                Ok(())
            }
            Some(other) => bail!("the pickle sets the state of {}", other.kind()),
            None => bail!("the pickle pops an empty stack"),
        }
    }

    fn run(&mut self) -> PResult<Value> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    // PROTO
                    let p = self.byte()?;
                    if !(2..=5).contains(&p) {
                        bail!("pickle protocol {p} is not supported");
                    }
                }
                0x95 => {
                    // FRAME: only a buffering hint.
                    self.u64()?;
                }
                b'.' => {
                    let v = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        bail!("the pickle leaves values on its stack");
                    }
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool),
                0x89 => self.push(Value::Bool),
                b'K' => {
                    let v = self.byte()? as u64;
                    self.push(Value::Int(Ok(v)));
                }
                b'M' => {
                    let v = self.u16()? as u64;
                    self.push(Value::Int(Ok(v)));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(u64::try_from(v).map_err(|_| v.to_string().into())));
                }
                0x8a => {
                    let n = self.byte()? as usize;
                    let v = self.long(n)?;
                    self.push(v);
                }
                0x8b => {
                    let n = self.u32()? as usize;
                    let v = self.long(n)?;
                    self.push(v);
                }
                b'G' => {
                    self.take(8)?;
                    self.push(Value::Float);
                }
                0x8c => {
                    let n = self.byte()? as usize;
                    let v = self.str(n)?;
                    self.push(v);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.str(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.len8()?;
                    let v = self.str(n)?;
                    self.push(v);
                }
                b'C' => {
                    let n = self.byte()? as usize;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                0x8e => {
                    let n = self.len8()?;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                b')' => self.push(Value::Tuple(Rc::from(Vec::new()), 1)),
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = tuple(items)?;
                    self.push(t);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = tuple(items)?;
                    self.push(t);
                }
                b']' => self.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
                b'l' => {
                    let items = self.pop_mark()?;
                    if let Some(bad) = items.iter().find(|v| !v.is_scalar()) {
                        bail!("a list holds {}", bad.kind());
                    }
                    self.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'a' | b'e' => {
                    let items = if op == b'a' { vec![self.pop()?] } else { self.pop_mark()? };
                    let Some(Value::List(list)) = self.stack.last() else {
                        bail!("the pickle appends to something that is not a list");
                    };
                    if let Some(bad) = items.iter().find(|v| !v.is_scalar()) {
                        bail!("a list holds {}", bad.kind());
                    }
                    list.borrow_mut().extend(items);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = self.global(module, name)?;
                    self.push(g);
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        bail!("the pickle names a global with non-strings");
                    };
                    let g = self.global(&module, &name)?;
                    self.push(g);
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    self.build(state)?;
                }
                0x94 => {
                    let Some(top) = self.stack.last().cloned() else {
                        bail!("the pickle memoizes an empty stack")
                    };
                    let index = self.memo.len() as u32;
                    self.memo.insert(index, top);
                }
                b'q' | b'r' => {
                    let index = if op == b'q' { self.byte()? as u32 } else { self.u32()? };
                    let Some(top) = self.stack.last().cloned() else {
                        bail!("the pickle memoizes an empty stack")
                    };
                    self.memo.insert(index, top);
                }
                b'h' | b'j' => {
                    let index = if op == b'h' { self.byte()? as u32 } else { self.u32()? };
                    let Some(v) = self.memo.get(&index).cloned() else {
                        bail!("the pickle reads memo {index} before writing it")
                    };
                    self.push(v);
                }
                b'}' | 0x8f => bail!("the pickle builds a dict or set"),
                _ => bail!("the pickle uses opcode {op:#04x}, which numpy does not emit for integer arrays"),
            }
        }
    }
}

/// An integer from `bytes` (little-endian; two's complement when `signed`), or the decimal
/// text of one outside 0..=u64::MAX.
fn int_from_le(bytes: &[u8], signed: bool) -> std::result::Result<u64, Rc<str>> {
    let negative = signed && bytes.last().is_some_and(|&last| last & 0x80 != 0);
    let fill = if negative { 0xff } else { 0 };
    let significant = bytes.iter().rposition(|&x| x != fill).map_or(0, |p| p + 1);
    if significant > 16 {
        let sign = if negative { "-" } else { "" };
        return Err(format!("{sign}(an integer of {} bytes)", bytes.len()).into());
    }
    let mut buf = [fill; 16];
    buf[..significant].copy_from_slice(&bytes[..significant]);
    let wide = i128::from_le_bytes(buf);
    if negative {
        return Err(wide.to_string().into());
    }
    let wide = u128::from_le_bytes(buf);
    u64::try_from(wide).map_err(|_| wide.to_string().into())
}

/// `numpy._core.multiarray.scalar(dtype, data)`: decode an integer scalar from its bytes;
/// any other scalar stays an opaque non-integer.
fn scalar(dtype: &DtypeState, data: &[u8]) -> PResult<Value> {
    let code = &*dtype.code;
    let (signed, size) = match code.as_bytes() {
        [k @ (b'i' | b'u'), n @ (b'1' | b'2' | b'4' | b'8')] => (*k == b'i', (n - b'0') as usize),
        _ => return Ok(Value::OtherScalar(Rc::clone(&dtype.code))),
    };
    if data.len() != size {
        bail!("a numpy {code} scalar holds {} bytes", data.len());
    }
    let little = match dtype.order {
        Some('<') => true,
        Some('>') => false,
        Some('|') if size == 1 => true,
        other => bail!("a numpy {code} scalar has byte order {other:?}"),
    };
    let mut le = data.to_vec();
    if !little {
        le.reverse();
    }
    Ok(Value::Int(int_from_le(&le, signed)))
}

/// Parse a numpy object-array pickle whose items are all integers in the uint64 range (Python
/// ints or numpy integer scalars of any width).
pub(crate) fn read_int_array(data: &[u8]) -> Result<Vec<u64>, Refusal> {
    let items = read_object_array(data).map_err(|e| Refusal::NotIntegers(e.0))?;
    let mut out = Vec::new();
    out.try_reserve_exact(items.len()).map_err(|_| Refusal::NotIntegers("out of memory".into()))?;
    let mut out_of_range = None;
    for (row, v) in items.iter().enumerate() {
        match v {
            Value::Int(Ok(x)) => out.push(*x),
            Value::Int(Err(text)) => {
                out_of_range.get_or_insert((row, text));
            }
            Value::OtherScalar(code) => {
                return Err(Refusal::NotIntegers(format!("item {row} is a numpy {code} scalar")));
            }
            other => return Err(Refusal::NotIntegers(format!("item {row} is {}", other.kind()))),
        }
    }
    match out_of_range {
        None => Ok(out),
        Some((row, value)) => Err(Refusal::OutOfRange { row, value: value.to_string() }),
    }
}

/// The items of a 1-D object array pickle.
fn read_object_array(data: &[u8]) -> PResult<Vec<Value>> {
    let mut m = Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    let result = m.run()?;
    if m.pos != data.len() {
        bail!("the pickle is followed by {} extra bytes", data.len() - m.pos);
    }
    let Value::Array(array) = result else { bail!("the pickle holds {}, not an array", result.kind()) };
    let array = array.borrow();
    let (Some(shape), Some(items)) = (&array.shape, &array.items) else { bail!("the array has no data") };
    if !array.object_dtype {
        bail!("the array is not an object array");
    }
    let items = std::mem::take(&mut *items.borrow_mut());
    if shape.len() != 1 || shape[0] != items.len() as u64 {
        bail!("the array shape does not match its {} items", items.len());
    }
    Ok(items)
}

/// Write the protocol-4 pickle numpy writes for a 1-D object array of Python ints.
pub(crate) fn write_int_array(ids: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + ids.len() * 10);
    let text = |out: &mut Vec<u8>, s: &str| {
        out.push(0x8c);
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    };
    let int = |out: &mut Vec<u8>, v: u64| {
        if v < 0x100 {
            out.extend_from_slice(&[b'K', v as u8]);
        } else if v < 0x1_0000 {
            out.push(b'M');
            out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if v < 0x8000_0000 {
            out.push(b'J');
            out.extend_from_slice(&(v as u32).to_le_bytes());
        } else {
            // LONG1: minimal little-endian two's complement (a 0 byte keeps the sign positive).
            let bytes = v.to_le_bytes();
            let mut n = 8 - (v.leading_zeros() as usize / 8);
            let mut buf = bytes.to_vec();
            buf.truncate(n);
            if buf[n - 1] & 0x80 != 0 {
                buf.push(0);
                n += 1;
            }
            out.extend_from_slice(&[0x8a, n as u8]);
            out.extend_from_slice(&buf);
        }
    };
    out.extend_from_slice(&[0x80, 4]);
    // _reconstruct(ndarray, (0,), b'b')
    text(&mut out, "numpy._core.multiarray");
    text(&mut out, "_reconstruct");
    out.push(0x93);
    text(&mut out, "numpy");
    text(&mut out, "ndarray");
    out.push(0x93);
    out.extend_from_slice(&[b'K', 0, 0x85, b'C', 1, b'b', 0x87, b'R']);
    // state: (1, (n,), dtype('O8', False, True) with its own state, False, [ids])
    out.push(b'(');
    int(&mut out, 1);
    int(&mut out, ids.len() as u64);
    out.push(0x85);
    text(&mut out, "numpy");
    text(&mut out, "dtype");
    out.push(0x93);
    text(&mut out, "O8");
    out.extend_from_slice(&[0x89, 0x88, 0x87, b'R']);
    out.push(b'(');
    int(&mut out, 3);
    text(&mut out, "|");
    out.extend_from_slice(b"NNN");
    out.extend_from_slice(&[b'J', 0xff, 0xff, 0xff, 0xff, b'J', 0xff, 0xff, 0xff, 0xff]);
    int(&mut out, 63);
    out.extend_from_slice(b"tb");
    out.push(0x89);
    out.push(b']');
    for chunk in ids.chunks(BATCH) {
        out.push(b'(');
        for &id in chunk {
            int(&mut out, id);
        }
        out.push(b'e');
    }
    out.extend_from_slice(b"tb.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // `pickle.dumps(a, protocol=P)` for `a = np.array([0, 255, 2**64 - 1], dtype=object)`
    // (numpy 2.4); protocol 4 is what `np.save` writes.
    const P2: &str = "8002636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b0385710a636e756d70790a64747970650a710b58020000004f38710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b3f74711062895d7111284b004bff8a09ffffffffffffffff0065747112622e";
    const P3: &str = "8003636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b008571024301627103877104527105284b014b03857106636e756d70790a64747970650a710758020000004f387108898887710952710a284b0358010000007c710b4e4e4e4affffffff4affffffff4b3f74710c62895d710d284b004bff8a09ffffffffffffffff006574710e622e";
    const P4: &str = "80049599000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b03859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94284b004bff8a09ffffffffffffffff00657494622e";
    // The same array with a dict and a string: `[{'a': 1}, 'x']`.
    const DICT: &str = "80049597000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b02859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94287d948c0161944b01738c017894657494622e";

    // `pickle.dumps(a, protocol=P)` of object arrays holding numpy integer scalars (numpy 2.4):
    // ARANGE: `np.arange(10, 13)` items; MIXED: u64::MAX as np.uint64, 5, np.int8(7),
    // np.uint16(65535), np.int32(2**31 - 1), np.uint8(200); NEGATIVE: np.int64 4, -1;
    // FLOAT: np.int64(4), np.float64(1.5).
    const ARANGE_P4: &str = "800495f2000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b03859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d942868008c067363616c6172949394680c8c02693894898887945294284b038c013c944e4e4e4affffffff4affffffff4b0074946243080a0000000000000094869452946814681743080b0000000000000094869452946814681743080c000000000000009486945294657494622e";
    const MIXED_P2: &str = "8002636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b0685710a636e756d70790a64747970650a710b58020000004f38710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b3f74711062895d711128636e756d70792e5f636f72652e6d756c746961727261790a7363616c61720a7112680b5802000000753871138988877114527115284b0358010000003c71164e4e4e4affffffff4affffffff4b007471176268035810000000c3bfc3bfc3bfc3bfc3bfc3bfc3bfc3bf7118680586711952711a86711b52711c4b056812680b58020000006931711d898887711e52711f284b03680f4e4e4e4affffffff4affffffff4b00747120626803580100000007712168058671225271238671245271256812680b5802000000753271268988877127527128284b0368164e4e4e4affffffff4affffffff4b007471296268035804000000c3bfc3bf712a680586712b52712c86712d52712e6812680b58020000006934712f8988877130527131284b0368164e4e4e4affffffff4affffffff4b007471326268035807000000c3bfc3bfc3bf7f713368058671345271358671365271376812680b580200000075317138898887713952713a284b03680f4e4e4e4affffffff4affffffff4b0074713b6268035802000000c388713c680586713d52713e86713f52714065747141622e";
    const MIXED_P5: &str = "8005958a010000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b06859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d942868008c067363616c6172949394680c8c02753894898887945294284b038c013c944e4e4e4affffffff4affffffff4b007494624308ffffffffffffffff94869452944b056814680c8c02693194898887945294284b0368104e4e4e4affffffff4affffffff4b0074946243010794869452946814680c8c02753294898887945294284b0368184e4e4e4affffffff4affffffff4b007494624302ffff94869452946814680c8c02693494898887945294284b0368184e4e4e4affffffff4affffffff4b007494624304ffffff7f94869452946814680c8c02753194898887945294284b0368104e4e4e4affffffff4affffffff4b007494624301c89486945294657494622e";
    const NEGATIVE_P4: &str = "800495df000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b02859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d942868008c067363616c6172949394680c8c02693894898887945294284b038c013c944e4e4e4affffffff4affffffff4b00749462430804000000000000009486945294681468174308ffffffffffffffff9486945294657494622e";
    const FLOAT_P4: &str = "80049501010000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b02859468038c0564747970659493948c024f3894898887945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d942868008c067363616c6172949394680c8c02693894898887945294284b038c013c944e4e4e4affffffff4affffffff4b007494624308040000000000000094869452946814680c8c02663894898887945294284b0368184e4e4e4affffffff4affffffff4b007494624308000000000000f83f9486945294657494622e";

    #[test]
    fn reads_numpy_pickles_of_every_protocol() {
        for p in [P2, P3, P4] {
            assert_eq!(read_int_array(&hex(p)).unwrap(), vec![0, 255, u64::MAX]);
        }
    }

    #[test]
    fn rejects_other_payloads() {
        let not_ints = |data: &[u8]| match read_int_array(data) {
            Err(Refusal::NotIntegers(e)) => e,
            other => panic!("{other:?}"),
        };
        assert!(not_ints(&hex(DICT)).contains("dict"));
        // -1 in place of the first item (BININT -1 for BININT1 0).
        let mut negative = hex(P4);
        let at = negative.windows(4).position(|w| w == [b'(', b'K', 0, b'K']).unwrap();
        negative.splice(at + 1..at + 3, [b'J', 0xff, 0xff, 0xff, 0xff]);
        let e = read_int_array(&negative).unwrap_err();
        assert_eq!(e, Refusal::OutOfRange { row: 0, value: "-1".into() });
        // A global outside the allow list is refused by name, never resolved.
        let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.";
        assert!(not_ints(evil).contains("os.system"));
        for bad in [
            &b""[..],
            b"\x80\x04",
            b"\x80\x04K\x01",
            b"\x80\x04]K\x01a.",
            b"\x80\x04(((((((((((((((((((((((((tttttttttttttttttttt.",
            b"0",
        ] {
            assert!(read_int_array(bad).is_err());
        }
    }

    #[test]
    fn reads_numpy_integer_scalars() {
        assert_eq!(read_int_array(&hex(ARANGE_P4)).unwrap(), vec![10, 11, 12]);
        let mixed = vec![u64::MAX, 5, 7, 65535, (1 << 31) - 1, 200];
        assert_eq!(read_int_array(&hex(MIXED_P2)).unwrap(), mixed);
        assert_eq!(read_int_array(&hex(MIXED_P5)).unwrap(), mixed);
        assert_eq!(
            read_int_array(&hex(NEGATIVE_P4)).unwrap_err(),
            Refusal::OutOfRange { row: 1, value: "-1".into() }
        );
        let Refusal::NotIntegers(e) = read_int_array(&hex(FLOAT_P4)).unwrap_err() else { panic!() };
        assert!(e.contains("item 1 is a numpy f8 scalar"), "{e}");
    }

    #[test]
    fn decodes_scalars_of_every_width_and_order() {
        let dtype = |code: &str, order| DtypeState { code: code.into(), order: Some(order) };
        let int = |d: &DtypeState, b: &[u8]| match scalar(d, b).unwrap() {
            Value::Int(v) => v.map_err(|e| e.to_string()),
            other => panic!("{other:?}"),
        };
        assert_eq!(int(&dtype("i2", '>'), &[0x01, 0x02]), Ok(0x0102));
        assert_eq!(int(&dtype("i2", '<'), &[0x01, 0x02]), Ok(0x0201));
        assert_eq!(int(&dtype("i1", '|'), &[0x80]), Err("-128".into()));
        assert_eq!(int(&dtype("u1", '|'), &[0x80]), Ok(128));
        assert_eq!(int(&dtype("u8", '>'), &[0xff; 8]), Ok(u64::MAX));
        assert_eq!(int(&dtype("i8", '<'), &(i64::MIN).to_le_bytes()), Err(i64::MIN.to_string()));
        assert_eq!(int(&dtype("u4", '<'), &u32::MAX.to_le_bytes()), Ok(u32::MAX as u64));
        // A scalar whose bytes do not match its dtype, or with no byte order, is refused.
        assert!(scalar(&dtype("i8", '<'), &[0; 4]).is_err());
        assert!(scalar(&DtypeState { code: "i8".into(), order: None }, &[0; 8]).is_err());
        assert!(matches!(scalar(&dtype("f8", '<'), &[0; 8]).unwrap(), Value::OtherScalar(_)));
    }

    #[test]
    fn python_ints_outside_the_range_are_reported_with_their_value() {
        assert_eq!(int_from_le(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00], true), Ok(u64::MAX));
        assert_eq!(int_from_le(&[0, 0, 0, 0, 0, 0, 0, 0, 1], true), Err("18446744073709551616".into()));
        assert_eq!(int_from_le(&[0xfe], true), Err("-2".into()));
        assert_eq!(int_from_le(&[], true), Ok(0));
        assert!(int_from_le(&[1; 40], true).unwrap_err().contains("40 bytes"));
    }

    #[test]
    fn deep_tuples_are_refused() {
        let mut p = vec![0x80, 4, b')'];
        p.extend(std::iter::repeat_n(0x85, 100));
        p.push(b'.');
        assert!(matches!(read_int_array(&p), Err(Refusal::NotIntegers(e)) if e.contains("nested")));
    }

    #[test]
    fn writes_what_it_reads() {
        let ids = [
            0u64,
            1,
            255,
            256,
            65535,
            65536,
            0x7fff_ffff,
            0x8000_0000,
            1 << 40,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX,
        ];
        assert_eq!(read_int_array(&write_int_array(&ids)).unwrap(), ids);
        assert_eq!(read_int_array(&write_int_array(&[])).unwrap(), Vec::<u64>::new());
        let many: Vec<u64> = (0..2500).map(|i| i * 1_000_003).collect();
        assert_eq!(read_int_array(&write_int_array(&many)).unwrap(), many);
    }
}
