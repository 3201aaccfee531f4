//! Avro binary encoding primitives: a reading cursor, writers, and the
//! encoding of a field's JSON default value.

use serde_json::Value;

use crate::schema::{Kind, NodeId, SchemaSet};

/// Array and map items any datum may hold, however small.
pub const ITEMS_BASE: usize = 65_536;
/// Further array and map items a datum may hold per byte of its size. An
/// item of most types takes at least a byte; `null`s and empty records take
/// none, so without this bound a few bytes could claim 2^62 of them.
pub const ITEMS_PER_BYTE: usize = 8;

/// A read position in one datum.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Array and map items this datum may still hold.
    items_left: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            items_left: Self::item_limit(buf.len()),
        }
    }

    /// Array and map items a datum of `len` bytes may hold.
    pub fn item_limit(len: usize) -> usize {
        ITEMS_BASE.saturating_add(len.saturating_mul(ITEMS_PER_BYTE))
    }

    /// Counts `n` more array or map items (a block's count, read at byte
    /// `at`) against the datum's limit, so items that take no bytes cannot
    /// make a few bytes loop or allocate without bound.
    #[inline]
    pub fn charge_items(&mut self, n: usize, at: usize) -> Result<(), String> {
        match self.items_left.checked_sub(n) {
            Some(left) => {
                self.items_left = left;
                Ok(())
            }
            None => Err(format!(
                "invalid datum: a block of {n} items at byte {at} passes the limit of {} array and map items for a datum of {} bytes",
                Self::item_limit(self.buf.len()),
                self.buf.len()
            )),
        }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The current offset.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[cold]
    fn truncated(&self, what: &str, need: usize) -> String {
        format!(
            "truncated datum: {what} needs {need} bytes at byte {}, {} left",
            self.pos,
            self.remaining()
        )
    }

    /// A zigzag varint `long`.
    #[inline]
    pub fn long(&mut self) -> Result<i64, String> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.truncated("a varint", 1));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
            shift += 7;
            if shift > 63 {
                return Err(format!(
                    "invalid datum: varint longer than 10 bytes at byte {}",
                    self.pos
                ));
            }
        }
    }

    /// A zigzag varint `int`.
    #[inline]
    pub fn int(&mut self) -> Result<i32, String> {
        let at = self.pos;
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("invalid datum: int out of range ({v}) at byte {at}"))
    }

    /// `n` raw bytes.
    #[inline]
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(self.truncated(what, n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A length-prefixed byte string.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let at = self.pos;
        let len = self.long()?;
        if len < 0 {
            return Err(format!("invalid datum: negative length {len} at byte {at}"));
        }
        self.take(len as usize, "a byte string")
    }

    /// A `float`.
    #[inline]
    pub fn float(&mut self) -> Result<f32, String> {
        let b = self.take(4, "a float")?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `double`.
    #[inline]
    pub fn double(&mut self) -> Result<f64, String> {
        let b = self.take(8, "a double")?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A `boolean`.
    #[inline]
    pub fn boolean(&mut self) -> Result<bool, String> {
        let at = self.pos;
        match self.take(1, "a boolean")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("invalid datum: boolean byte {b} at byte {at}")),
        }
    }

    /// The item count of the next array or map block (the byte size of a
    /// negative-count block is read and dropped), charged against the
    /// datum's item limit ([`Self::charge_items`]).
    #[inline]
    pub fn block_count(&mut self) -> Result<usize, String> {
        let at = self.pos;
        let n = self.long()?;
        let n = if n >= 0 {
            n as usize
        } else {
            self.long()?;
            n.checked_neg()
                .map(|n| n as usize)
                .ok_or_else(|| format!("invalid datum: block count {n} at byte {at}"))?
        };
        self.charge_items(n, at)?;
        Ok(n)
    }
}

/// Appends a zigzag varint `long`.
#[inline]
pub fn write_long(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Appends a length-prefixed byte string.
#[inline]
pub fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    write_long(b.len() as i64, out);
    out.extend_from_slice(b);
}

/// Encodes a field default (JSON, as the Avro spec writes it) as a datum of `node`.
pub fn encode_default(
    set: &SchemaSet,
    node: NodeId,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let bad = || {
        format!(
            "default {value} does not fit type {}",
            crate::plan::type_name(set, node)
        )
    };
    match (&set.node(node).kind, value) {
        (Kind::Null, Value::Null) => {}
        (Kind::Boolean, Value::Bool(b)) => out.push(u8::from(*b)),
        (Kind::Int | Kind::Long, Value::Number(n)) => write_long(n.as_i64().ok_or_else(bad)?, out),
        (Kind::Float, Value::Number(n)) => {
            out.extend_from_slice(&(n.as_f64().ok_or_else(bad)? as f32).to_le_bytes())
        }
        (Kind::Double, Value::Number(n)) => {
            out.extend_from_slice(&n.as_f64().ok_or_else(bad)?.to_le_bytes())
        }
        (Kind::String, Value::String(s)) => write_bytes(s.as_bytes(), out),
        // Bytes and fixed defaults are strings of code points 0-255.
        (Kind::Bytes, Value::String(s)) => {
            let b = latin1(s).ok_or_else(bad)?;
            write_bytes(&b, out)
        }
        (Kind::Fixed { size, .. }, Value::String(s)) => {
            let b = latin1(s).filter(|b| b.len() == *size).ok_or_else(bad)?;
            out.extend_from_slice(&b)
        }
        (Kind::Enum { symbols, .. }, Value::String(s)) => {
            let i = symbols.iter().position(|x| x == s).ok_or_else(bad)?;
            write_long(i as i64, out)
        }
        (Kind::Array(item), Value::Array(items)) => {
            if !items.is_empty() {
                write_long(items.len() as i64, out);
                for v in items {
                    encode_default(set, *item, v, out)?;
                }
            }
            out.push(0);
        }
        (Kind::Map(values), Value::Object(map)) => {
            if !map.is_empty() {
                write_long(map.len() as i64, out);
                for (k, v) in map {
                    write_bytes(k.as_bytes(), out);
                    encode_default(set, *values, v, out)?;
                }
            }
            out.push(0);
        }
        (Kind::Record { fields, .. }, Value::Object(map)) => {
            for f in fields {
                let v = map.get(&f.name).or(f.default.as_ref()).ok_or_else(|| {
                    format!("default {value} has no value for field `{}`", f.name)
                })?;
                encode_default(set, f.ty, v, out)?;
            }
        }
        // A union's default is a value of its first branch.
        (Kind::Union(branches), v) => {
            let first = *branches.first().ok_or_else(bad)?;
            out.push(0);
            encode_default(set, first, v, out)?;
        }
        _ => return Err(bad()),
    }
    Ok(())
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
