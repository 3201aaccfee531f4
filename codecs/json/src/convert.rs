//! One JSON value's text into one column cell, by the column's type.
//!
//! The value arrives as its raw JSON text (already checked to be valid JSON),
//! so numbers are parsed exactly from their digits and an error can quote
//! what the message really held.

use std::borrow::Cow;

use topictable_columns::BytesBuf;

use crate::JsonType;
use crate::columns::ColumnBuf;

/// Added to a strict mismatch whose string would have passed with `lenient`.
const LENIENT_HINT: &str = " (a number in a string; `lenient: true` accepts it)";

/// How many characters of a wrong value an error message quotes.
const FOUND_CHARS: usize = 40;

/// Appends the value `raw` to `buf`, or says what was expected and what was found.
///
/// `plain` promises that a string value has no escapes (the fast path knows).
#[inline]
pub(crate) fn store(
    buf: &mut ColumnBuf,
    kind: JsonType,
    raw: &str,
    lenient: bool,
    plain: bool,
) -> Result<(), String> {
    let first = raw.as_bytes().first().copied().unwrap_or(b'n');
    if first == b'n' {
        buf.push_null();
        return Ok(());
    }
    let is_number = first == b'-' || first.is_ascii_digit();
    let is_string = first == b'"';
    match (buf, kind) {
        (ColumnBuf::Text(b), JsonType::Json) => push_text(b, raw),
        (ColumnBuf::Text(b), _) => {
            if is_string && plain {
                push_text(b, &raw[1..raw.len() - 1]);
            } else if is_string {
                push_text(b, &unquote(raw));
            } else if lenient && (is_number || first == b't' || first == b'f') {
                push_text(b, raw);
            } else {
                return Err(mismatch("a string", raw));
            }
        }
        (ColumnBuf::Bool(b), _) => {
            let text = if lenient && is_string {
                unquote(raw)
            } else {
                Cow::Borrowed(raw)
            };
            match text.as_ref() {
                "true" => b.push(true),
                "false" => b.push(false),
                _ => return Err(mismatch("true or false", raw)),
            }
        }
        (ColumnBuf::Int32(b), _) => {
            let v = integer(raw, is_number, is_string, lenient, "an integer")?;
            let v = i32::try_from(v).map_err(|_| mismatch("an integer in int32 range", raw))?;
            b.push(v);
        }
        (ColumnBuf::Int64(b), JsonType::Timestamp) => {
            if is_number || (lenient && is_string && looks_integer(&unquote(raw))) {
                b.push(integer(
                    raw,
                    is_number,
                    is_string,
                    lenient,
                    "an RFC 3339 string or epoch milliseconds",
                )?);
            } else if is_string {
                let text = unquote(raw);
                if looks_integer(text.trim()) {
                    let expected = "an RFC 3339 string or epoch milliseconds";
                    return Err(format!("{}{LENIENT_HINT}", mismatch(expected, raw)));
                }
                let t = chrono::DateTime::parse_from_rfc3339(text.as_ref()).map_err(|e| {
                    format!(
                        "{} ({e})",
                        mismatch("an RFC 3339 string or epoch milliseconds", raw)
                    )
                })?;
                b.push(t.timestamp_millis());
            } else {
                return Err(mismatch("an RFC 3339 string or epoch milliseconds", raw));
            }
        }
        (ColumnBuf::Int64(b), _) => {
            b.push(integer(raw, is_number, is_string, lenient, "an integer")?)
        }
        (ColumnBuf::Float32(b), _) => {
            let v: f32 = number(raw, is_number, is_string, lenient)?;
            if !v.is_finite() {
                return Err(mismatch("a number in float32 range", raw));
            }
            b.push(v);
        }
        (ColumnBuf::Float64(b), _) => {
            let v: f64 = number(raw, is_number, is_string, lenient)?;
            if !v.is_finite() {
                return Err(mismatch("a number in float64 range", raw));
            }
            b.push(v);
        }
    }
    Ok(())
}

/// Appends text. A value that would take the column past 2 GiB is refused
/// and fails the whole batch when the column is finished, so the row goes on.
#[inline]
fn push_text(b: &mut BytesBuf, text: &str) {
    let _ = b.push_str(text);
}

/// An integer literal (or, when lenient, a string holding one), exactly.
#[inline]
fn integer(
    raw: &str,
    is_number: bool,
    is_string: bool,
    lenient: bool,
    expected: &str,
) -> Result<i64, String> {
    if is_number {
        // A JSON number: either an exact integer or a fraction/exponent.
        return match parse_i64(raw.as_bytes()) {
            Ok(v) => Ok(v),
            Err(IntError::Syntax) => Err(mismatch(expected, raw)),
            Err(IntError::Overflow) => Err(mismatch("an integer in int64 range", raw)),
        };
    }
    let text = if lenient && is_string {
        unquote(raw)
    } else if is_string && looks_integer(unquote(raw).trim()) {
        return Err(format!("{}{LENIENT_HINT}", mismatch(expected, raw)));
    } else {
        return Err(mismatch(expected, raw));
    };
    match parse_i64(text.trim().as_bytes()) {
        Ok(v) => Ok(v),
        Err(IntError::Syntax) => Err(mismatch(expected, raw)),
        Err(IntError::Overflow) => Err(mismatch("an integer in int64 range", raw)),
    }
}

/// Why text is not an i64.
#[derive(Debug, PartialEq, Eq)]
enum IntError {
    /// Not `-?[0-9]+`.
    Syntax,
    /// Digits, but out of range.
    Overflow,
}

/// Whether `text` is `-?[0-9]+`.
fn looks_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `-?[0-9]+` to i64, exactly, in one pass.
#[inline]
fn parse_i64(text: &[u8]) -> Result<i64, IntError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(IntError::Syntax);
    }
    // Accumulate negatively so that i64::MIN fits.
    let mut v: i64 = 0;
    let mut overflow = false;
    for &d in digits {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return Err(IntError::Syntax);
        }
        match v.checked_mul(10).and_then(|v| v.checked_sub(i64::from(d))) {
            Some(next) => v = next,
            None => overflow = true,
        }
    }
    match (overflow, negative) {
        (true, _) => Err(IntError::Overflow),
        (false, true) => Ok(v),
        (false, false) => v.checked_neg().ok_or(IntError::Overflow),
    }
}

/// A number (or, when lenient, a string holding one), correctly rounded.
#[inline]
fn number<F: std::str::FromStr>(
    raw: &str,
    is_number: bool,
    is_string: bool,
    lenient: bool,
) -> Result<F, String> {
    if is_number {
        // JSON's number syntax is a subset of Rust's float syntax.
        return raw.parse().map_err(|_| mismatch("a number", raw));
    }
    if is_string {
        let text = unquote(raw);
        let text = text.trim();
        let numeric = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
        if numeric && let Ok(v) = text.parse() {
            if lenient {
                return Ok(v);
            }
            return Err(format!("{}{LENIENT_HINT}", mismatch("a number", raw)));
        }
    }
    Err(mismatch("a number", raw))
}

/// The text of a JSON string literal, unescaped only when it has escapes.
#[inline]
pub(crate) fn unquote(raw: &str) -> Cow<'_, str> {
    let inner = &raw[1..raw.len() - 1];
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    // The literal was already checked by serde_json, so this cannot fail.
    serde_json::from_str::<String>(raw)
        .map(Cow::Owned)
        .unwrap_or(Cow::Borrowed(inner))
}

/// `expected {expected}, found {raw}`, the raw value cut to a readable length.
pub(crate) fn mismatch(expected: &str, raw: &str) -> String {
    format!("expected {expected}, found {}", found(raw))
}

/// A value's text for an error message, cut after [`FOUND_CHARS`] characters.
pub(crate) fn found(raw: &str) -> Cow<'_, str> {
    match raw.char_indices().nth(FOUND_CHARS) {
        None => Cow::Borrowed(raw),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &raw[..cut], raw.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_exact_and_range_checked() {
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(IntError::Overflow));
        assert_eq!(parse_i64(b"-99999999999999999999"), Err(IntError::Overflow));
        assert_eq!(parse_i64(b"99999999999999999999.5"), Err(IntError::Syntax));
        assert_eq!(parse_i64(b"1.5"), Err(IntError::Syntax));
        assert_eq!(parse_i64(b"-"), Err(IntError::Syntax));
        assert_eq!(parse_i64(b"-0"), Ok(0));
        assert_eq!(parse_i64(b"9007199254740993"), Ok(9_007_199_254_740_993));
    }

    #[test]
    fn found_cuts_long_values() {
        let long = format!("\"{}\"", "x".repeat(100));
        assert_eq!(found(&long), format!("\"{}… (102 bytes)", "x".repeat(39)));
        assert_eq!(found("1.5"), "1.5");
    }
}
