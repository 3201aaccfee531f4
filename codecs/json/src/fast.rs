//! The fast path for flat documents: a hand-written scanner that reads the
//! top-level fields of one object and skips everything else.
//!
//! It only ever says "done" for input that is valid JSON and whose values all
//! fit their columns. Anything else (escaped field names, escapes that could
//! be lone surrogates, deep nesting, duplicate fields, a value that does not
//! fit) makes it give up, and the row is decoded again by the serde_json path
//! in `decode.rs`, which gives the exact same result or the error message.

use crate::JsonType;
use crate::columns::ColumnBuf;
use crate::convert::store;
use crate::plan::Plan;

/// Deeper nesting is left to serde_json (and its recursion limit).
const MAX_DEPTH: usize = 64;

/// Gave up: decode this row on the slow path.
pub(crate) struct Bail;

/// Decodes `text` into row `row` of `cols` when the plan has no pointer
/// paths and at most 64 columns; returns the set of columns written (bit per
/// column), or `Err(Bail)` when the slow path must decide.
#[inline]
pub(crate) fn decode_flat(
    plan: &Plan,
    lenient: bool,
    text: &str,
    cols: &mut [ColumnBuf],
) -> Result<u64, Bail> {
    let node = &plan.nodes[0];
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        escaped: false,
    };
    let mut seen = 0u64;
    s.ws();
    s.expect(b'{')?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        let mut guess = 0;
        loop {
            // Documents tend to repeat one field order: try the expected name
            // in place before scanning the key and searching for it.
            let entry = match node.name(guess) {
                Some(name) if s.at_key(name.as_bytes()) => Some(guess),
                _ => {
                    let (start, end) = s.key()?;
                    // Every byte outside strings is ASCII, so these are char boundaries.
                    node.find(text.get(start..end).ok_or(Bail)?, guess)
                }
            };
            s.ws();
            s.expect(b':')?;
            s.ws();
            let Some(entry) = entry else {
                s.skip_value(0)?;
                s.ws();
                match s.next()? {
                    b',' => {
                        s.ws();
                        continue;
                    }
                    b'}' => break,
                    _ => return Err(Bail),
                }
            };
            guess = entry + 1;
            let col = node.targets[entry].column.ok_or(Bail)?;
            let bit = 1u64 << col;
            if seen & bit != 0 {
                return Err(Bail);
            }
            seen |= bit;
            let value_start = s.i;
            if !s.simple_number_into(&mut cols[col], plan.columns[col].kind) {
                s.escaped = false;
                s.skip_value(0)?;
                let raw = text.get(value_start..s.i).ok_or(Bail)?;
                store(
                    &mut cols[col],
                    plan.columns[col].kind,
                    raw,
                    lenient,
                    !s.escaped,
                )
                .map_err(|_| Bail)?;
            }
            s.ws();
            match s.next()? {
                b',' => s.ws(),
                b'}' => break,
                _ => return Err(Bail),
            }
        }
    }
    s.ws();
    if s.i == s.b.len() {
        Ok(seen)
    } else {
        Err(Bail)
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether a string skipped since this was last cleared had an escape.
    escaped: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of 8 bytes is `"`, `\` or a control character (exact test).
#[inline]
fn has_special(x: u64) -> bool {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero(x ^ (ONES * u64::from(b'"')));
    let backslash = zero(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
    quote | backslash | control != 0
}

/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Scanner<'_> {
    /// Reads a plain number (`-?digits(.digits)?`, at most 18 digits, no
    /// exponent) straight into an integer or float64 column; false (cursor
    /// unmoved) when the value is anything else, for the general path.
    #[inline]
    fn simple_number_into(&mut self, buf: &mut ColumnBuf, kind: JsonType) -> bool {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        let mut i = start + usize::from(negative);
        let mut mantissa: u64 = 0;
        let mut digits = 0u32;
        let mut fraction = 0u32;
        let leading_zero = self.b.get(i) == Some(&b'0');
        while let Some(d @ b'0'..=b'9') = self.b.get(i) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            digits += 1;
            i += 1;
        }
        if digits == 0 || (leading_zero && digits > 1) {
            return false;
        }
        if self.b.get(i) == Some(&b'.') {
            i += 1;
            while let Some(d @ b'0'..=b'9') = self.b.get(i) {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                fraction += 1;
                i += 1;
            }
            if fraction == 0 {
                return false;
            }
        }
        if digits + fraction > 18 || matches!(self.b.get(i), Some(b'e' | b'E')) {
            return false;
        }
        // At most 18 digits: below 10^18, so the i64 conversions are exact.
        let signed = if negative {
            -(mantissa as i64)
        } else {
            mantissa as i64
        };
        match (buf, kind) {
            (ColumnBuf::Int64(b), JsonType::Int64 | JsonType::Timestamp) if fraction == 0 => {
                b.push(signed)
            }
            (ColumnBuf::Int32(b), JsonType::Int32) if fraction == 0 => {
                match i32::try_from(signed) {
                    Ok(v) => b.push(v),
                    Err(_) => return false,
                }
            }
            // Clinger's fast path: both operands are exact and IEEE division
            // rounds correctly, so this equals `str::parse::<f64>`.
            (ColumnBuf::Float64(b), JsonType::Float64) if mantissa < (1 << 53) => {
                let v = mantissa as f64 / POW10[fraction as usize];
                b.push(if negative { -v } else { v });
            }
            _ => return false,
        }
        self.i = i;
        true
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Result<u8, Bail> {
        let c = self.peek().ok_or(Bail)?;
        self.i += 1;
        Ok(c)
    }

    #[inline]
    fn expect(&mut self, c: u8) -> Result<(), Bail> {
        if self.next()? == c { Ok(()) } else { Err(Bail) }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Consumes the field name `"name"` when it comes next.
    #[inline]
    fn at_key(&mut self, name: &[u8]) -> bool {
        let end = self.i + name.len() + 2;
        match self.b.get(self.i..end) {
            Some([b'"', middle @ .., b'"']) if middle == name => {
                self.i = end;
                true
            }
            _ => false,
        }
    }

    /// A field name without escapes; returns the span of its text.
    #[inline]
    fn key(&mut self) -> Result<(usize, usize), Bail> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            match self.next()? {
                b'"' => return Ok((start, self.i - 1)),
                b'\\' | 0x00..=0x1f => return Err(Bail),
                _ => {}
            }
        }
    }

    /// Skips a string after its opening quote, checking its escapes.
    #[inline]
    fn string_body(&mut self) -> Result<(), Bail> {
        loop {
            // Plain bytes are the common case: skip 8 at a time, then one by one.
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                if has_special(word) {
                    break;
                }
                self.i += 8;
            }
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.escaped = true,
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4).ok_or(Bail)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(Bail);
                        }
                        // Surrogates need pairing rules: leave them to serde_json.
                        if matches!(hex[0], b'd' | b'D') && !matches!(hex[1], b'0'..=b'7') {
                            return Err(Bail);
                        }
                        self.i += 4;
                        self.escaped = true;
                    }
                    _ => return Err(Bail),
                },
                _ => return Err(Bail),
            }
        }
    }

    #[inline]
    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    /// Skips a number, checking JSON's grammar.
    #[inline]
    fn number(&mut self) -> Result<(), Bail> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Bail),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Bail);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Bail);
            }
        }
        Ok(())
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Result<(), Bail> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Skips one value of any kind, checking that it is valid JSON.
    fn skip_value(&mut self, depth: usize) -> Result<(), Bail> {
        match self.peek().ok_or(Bail)? {
            b'"' => {
                self.i += 1;
                self.string_body()
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'{' if depth < MAX_DEPTH => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.expect(b'"')?;
                    self.string_body()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Ok(()),
                        _ => return Err(Bail),
                    }
                }
            }
            b'[' if depth < MAX_DEPTH => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Ok(()),
                        _ => return Err(Bail),
                    }
                }
            }
            _ => Err(Bail),
        }
    }
}
