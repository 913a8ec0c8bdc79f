//! A restricted reader and a writer for the one pickle numpy produces for a 1-D object array
//! of Python ints: `numpy._core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')` rebuilt
//! with the state `(1, (n,), dtype('O8'), False, [int, ...])`.
//!
//! The reader is a stack machine over plain values. It knows the opcodes pickle protocols 2-5
//! use for that object (plus the obvious neighbours), resolves only the handful of globals
//! numpy names (`_reconstruct`, `ndarray`, `dtype`, and `_codecs.encode` for protocol 2
//! bytes) into inert markers, and never calls or imports anything. Containers are at most a
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

type PResult<T> = Result<T, PickleError>;

macro_rules! bail {
    ($($arg:tt)*) => { return Err(PickleError(format!($($arg)*))) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Reconstruct,
    Ndarray,
    Dtype,
    CodecsEncode,
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
    /// An integer; `None` when it lies outside 0..=u64::MAX.
    Int(Option<u64>),
    Float,
    Bytes,
    Str(Rc<str>),
    Tuple(Rc<[Value]>, usize),
    List(Rc<RefCell<Vec<Value>>>),
    Global(Global),
    Dtype {
        object: bool,
    },
    Array(Rc<RefCell<ArrayState>>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(Some(_)) => "an int",
            Value::Int(None) => "an int outside the uint64 range",
            Value::Float => "a float",
            Value::Bytes => "bytes",
            Value::Str(_) => "a string",
            Value::Tuple(..) => "a tuple",
            Value::List(_) => "a list",
            Value::Global(_) => "a numpy callable",
            Value::Dtype { .. } => "a dtype",
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
            Value::None | Value::Bool | Value::Int(_) | Value::Float | Value::Bytes | Value::Str(_)
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
        self.take(n)?;
        Ok(Value::Bytes)
    }

    /// Little-endian two's complement, as LONG1/LONG4 store it.
    fn long(&mut self, n: usize) -> PResult<Value> {
        let b = self.take(n)?;
        if b.last().is_some_and(|&last| last & 0x80 != 0) {
            return Ok(Value::Int(None));
        }
        let significant = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
        if significant > 8 {
            return Ok(Value::Int(None));
        }
        let mut buf = [0u8; 8];
        buf[..significant].copy_from_slice(&b[..significant]);
        Ok(Value::Int(Some(u64::from_le_bytes(buf))))
    }

    fn global(&self, module: &str, name: &str) -> PResult<Value> {
        Ok(Value::Global(match (module, name) {
            ("numpy._core.multiarray" | "numpy.core.multiarray", "_reconstruct") => Global::Reconstruct,
            ("numpy", "ndarray") => Global::Ndarray,
            ("numpy", "dtype") => Global::Dtype,
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
                Ok(Value::Dtype { object: matches!(&**code, "O8" | "O") })
            }
            // Protocol 2 spells bytes as _codecs.encode(text, 'latin1').
            (Global::CodecsEncode, [Value::Str(text), Value::Str(enc)]) if &**enc == "latin1" => {
                if text.chars().any(|c| c as u32 > 0xff) {
                    bail!("the pickle encodes non-latin1 text");
                }
                Ok(Value::Bytes)
            }
            _ => bail!("the pickle makes an unexpected call"),
        }
    }

    fn build(&mut self, state: Value) -> PResult<()> {
        let target = self.stack.last().cloned();
        match target {
            Some(Value::Dtype { .. }) => Ok(()),
            Some(Value::Array(array)) => {
                let Value::Tuple(state, _) = state else { bail!("the array state is {}", state.kind()) };
                let [_version, Value::Tuple(shape, _), dtype, _fortran, data] = &state[..] else {
                    bail!("the array state has an unexpected layout");
                };
                let Value::Dtype { object } = dtype else { bail!("the array dtype is {}", dtype.kind()) };
                let mut dims = Vec::with_capacity(shape.len());
                for d in shape.iter() {
                    let Value::Int(Some(d)) = d else { bail!("the array shape holds {}", d.kind()) };
                    dims.push(*d);
                }
                let Value::List(items) = data else { bail!("the array data is {}", data.kind()) };
                let mut a = array.borrow_mut();
                a.object_dtype = *object;
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
                    self.push(Value::Int(Some(v)));
                }
                b'M' => {
                    let v = self.u16()? as u64;
                    self.push(Value::Int(Some(v)));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(u64::try_from(v).ok()));
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

/// Parse a numpy object-array pickle whose items are all integers in the uint64 range.
pub(crate) fn read_int_array(data: &[u8]) -> PResult<Vec<u64>> {
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
    let items = items.borrow();
    if shape.len() != 1 || shape[0] != items.len() as u64 {
        bail!("the array shape does not match its {} items", items.len());
    }
    let mut out = Vec::new();
    out.try_reserve_exact(items.len()).map_err(|_| PickleError("out of memory".into()))?;
    for (i, v) in items.iter().enumerate() {
        match v {
            Value::Int(Some(x)) => out.push(*x),
            other => bail!("item {i} is {}", other.kind()),
        }
    }
    Ok(out)
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

    #[test]
    fn reads_numpy_pickles_of_every_protocol() {
        for p in [P2, P3, P4] {
            assert_eq!(read_int_array(&hex(p)).unwrap(), vec![0, 255, u64::MAX]);
        }
    }

    #[test]
    fn rejects_other_payloads() {
        assert!(read_int_array(&hex(DICT)).unwrap_err().0.contains("dict"));
        // -1 in place of the first item (BININT -1 for BININT1 0).
        let mut negative = hex(P4);
        let at = negative.windows(4).position(|w| w == [b'(', b'K', 0, b'K']).unwrap();
        negative.splice(at + 1..at + 3, [b'J', 0xff, 0xff, 0xff, 0xff]);
        let e = read_int_array(&negative).unwrap_err();
        assert!(e.0.contains("item 0"), "{e:?}");
        // A global outside the allow list is refused by name, never resolved.
        let evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.";
        assert!(read_int_array(evil).unwrap_err().0.contains("os.system"));
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
    fn deep_tuples_are_refused() {
        let mut p = vec![0x80, 4, b')'];
        p.extend(std::iter::repeat_n(0x85, 100));
        p.push(b'.');
        assert!(read_int_array(&p).unwrap_err().0.contains("nested"));
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
