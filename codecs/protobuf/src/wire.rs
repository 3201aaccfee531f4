//! The protobuf wire format, read straight into columns by a [`Plan`].

use crate::columns::Columns;
use crate::plan::{Action, Context, FieldOp, Fill, FillKind, MsgPlan, Plan, ValueKind};

/// Why a message could not be read; `path` is the field being read, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The field's path, e.g. `/addr/city`.
    pub path: Option<String>,
    /// What was wrong.
    pub what: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "field {p}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

fn err(what: impl Into<String>) -> WireError {
    WireError {
        path: None,
        what: what.into(),
    }
}

fn at(op: &FieldOp, e: WireError) -> WireError {
    if e.path.is_some() {
        e
    } else {
        WireError {
            path: Some(op.path.to_string()),
            what: e.what,
        }
    }
}

const WIRE_NAMES: [&str; 8] = [
    "varint",
    "64-bit",
    "length-delimited",
    "start-group",
    "end-group",
    "32-bit",
    "invalid wire type 6",
    "invalid wire type 7",
];

#[inline(always)]
fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // The common one-byte case first.
    if let Some(&b) = buf.get(*pos)
        && b < 0x80
    {
        *pos += 1;
        return Ok(u64::from(b));
    }
    let start = *pos;
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(err(format!(
                "truncated message: varint at byte {start} runs past the end ({} bytes)",
                buf.len()
            )));
        };
        *pos += 1;
        if shift == 63 && b > 1 {
            return Err(err(format!(
                "varint overflow at byte {start} (more than 64 bits)"
            )));
        }
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(value);
        }
    }
    Err(err(format!(
        "varint overflow at byte {start} (more than 10 bytes)"
    )))
}

#[inline]
fn fixed<const N: usize>(buf: &[u8], pos: &mut usize) -> Result<[u8; N], WireError> {
    match buf.get(*pos..*pos + N) {
        Some(b) => {
            *pos += N;
            Ok(b.try_into().expect("N bytes"))
        }
        None => Err(err(format!(
            "truncated message: a {N}-byte value at byte {} runs past the end ({} bytes)",
            *pos,
            buf.len()
        ))),
    }
}

#[inline]
fn delimited<'b>(buf: &'b [u8], pos: &mut usize) -> Result<&'b [u8], WireError> {
    let start = *pos;
    let len = varint(buf, pos)?;
    let end = (*pos as u64).saturating_add(len);
    if end > buf.len() as u64 {
        return Err(err(format!(
            "truncated message: a length-delimited value at byte {start} needs {len} bytes, {} left",
            buf.len() - *pos
        )));
    }
    let s = &buf[*pos..end as usize];
    *pos = end as usize;
    Ok(s)
}

fn skip(buf: &[u8], pos: &mut usize, wire: u8, number: u32, depth: usize) -> Result<(), WireError> {
    match wire {
        0 => varint(buf, pos).map(drop),
        1 => fixed::<8>(buf, pos).map(drop),
        2 => delimited(buf, pos).map(drop),
        5 => fixed::<4>(buf, pos).map(drop),
        3 => {
            if depth > 64 {
                return Err(err("groups nest too deeply"));
            }
            loop {
                if *pos >= buf.len() {
                    return Err(err(format!(
                        "truncated message: group {number} is not closed"
                    )));
                }
                let key = varint(buf, pos)?;
                let (n, w) = ((key >> 3) as u32, (key & 7) as u8);
                if w == 4 {
                    return if n == number {
                        Ok(())
                    } else {
                        Err(err(format!("end of group {n} inside group {number}")))
                    };
                }
                skip(buf, pos, w, n, depth + 1)?;
            }
        }
        w => Err(err(format!(
            "{} at byte {} (field number {number}): not a protobuf message",
            WIRE_NAMES[w as usize & 7],
            pos.saturating_sub(1)
        ))),
    }
}

/// Reads one message into the current row of `plan`'s columns; on error the
/// caller rolls the row back.
#[inline]
pub fn read_row(
    buf: &[u8],
    plan: &Plan,
    extra_nulls: &[usize],
    cols: &mut Columns,
    groups: &mut [bool],
    row: usize,
) -> Result<(), WireError> {
    groups.fill(false);
    groups[0] = true;
    read_message(buf, &plan.root.msg, cols, groups, row, 0)?;
    fill(&plan.root.fills, cols, groups, row);
    for &c in extra_nulls {
        null_cell(cols, c);
    }
    Ok(())
}

/// A null in a top-level column the message type does not have.
pub fn null_cell(cols: &mut Columns, col: usize) {
    use crate::columns::Data;
    if matches!(cols.cols[col].data, Data::List { .. }) {
        cols.close_list(col, false);
    } else {
        cols.push_zero(col, false);
    }
}

#[inline]
fn fill(fills: &[Fill], cols: &mut Columns, groups: &[bool], row: usize) {
    for f in fills {
        let present = groups[f.group];
        match &f.kind {
            FillKind::Close => cols.close_list(f.col, present),
            _ if cols.len(f.col) > row => {}
            FillKind::Zero => cols.push_zero(f.col, present),
            FillKind::Text(t) if present => cols.put_bytes(f.col, None, t.as_bytes()),
            FillKind::Text(_) | FillKind::Null => cols.push_zero(f.col, false),
        }
    }
}

fn read_message(
    buf: &[u8],
    plan: &MsgPlan,
    cols: &mut Columns,
    groups: &mut [bool],
    row: usize,
    depth: usize,
) -> Result<(), WireError> {
    if depth > 100 {
        return Err(err("messages nest more than 100 deep"));
    }
    let mut pos = 0;
    while pos < buf.len() {
        let key_at = pos;
        let key = varint(buf, &mut pos)?;
        let (number, wire) = ((key >> 3) as u32, (key & 7) as u8);
        if number == 0 || key >> 3 > u64::from(u32::MAX >> 3) {
            return Err(err(format!(
                "invalid field number {} at byte {key_at}: not a protobuf message",
                key >> 3
            )));
        }
        let Some(op) = plan.get(number) else {
            skip(buf, &mut pos, wire, number, 0)?;
            continue;
        };
        read_field(buf, &mut pos, wire, op, cols, groups, row, depth).map_err(|e| at(op, e))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn read_field(
    buf: &[u8],
    pos: &mut usize,
    wire: u8,
    op: &FieldOp,
    cols: &mut Columns,
    groups: &mut [bool],
    row: usize,
    depth: usize,
) -> Result<(), WireError> {
    match &op.action {
        Action::Skip => skip(buf, pos, wire, 0, 0),
        Action::Value {
            kind,
            col,
            repeated,
        } => {
            let expected = kind.wire_type();
            if wire == expected {
                let slot = if *repeated { None } else { Some(row) };
                return read_value(buf, pos, kind, cols, *col, slot);
            }
            if *repeated && wire == 2 && expected != 2 {
                let packed = delimited(buf, pos)?;
                let mut p = 0;
                while p < packed.len() {
                    read_value(packed, &mut p, kind, cols, *col, None)?;
                }
                return Ok(());
            }
            Err(wrong_wire(wire, expected))
        }
        Action::Flatten { plan, group } => {
            if wire != 2 {
                return Err(wrong_wire(wire, 2));
            }
            let sub = delimited(buf, pos)?;
            groups[*group] = true;
            read_message(sub, plan, cols, groups, row, depth + 1)
        }
        Action::Element { context, col } => {
            if wire != 2 {
                return Err(wrong_wire(wire, 2));
            }
            let sub = delimited(buf, pos)?;
            let e = cols.len(*col);
            read_context(sub, context, cols, groups, e, depth)?;
            cols.push_struct(*col);
            Ok(())
        }
        Action::Struct { context, col } => {
            if wire != 2 {
                return Err(wrong_wire(wire, 2));
            }
            let sub = delimited(buf, pos)?;
            if cols.len(*col) > row {
                return Err(err("a map value message given twice in one entry"));
            }
            read_context(sub, context, cols, groups, row, depth)?;
            cols.push_struct(*col);
            Ok(())
        }
    }
}

fn read_context(
    buf: &[u8],
    context: &Context,
    cols: &mut Columns,
    groups: &mut [bool],
    row: usize,
    depth: usize,
) -> Result<(), WireError> {
    groups[context.groups.clone()].fill(false);
    read_message(buf, &context.msg, cols, groups, row, depth + 1)?;
    fill(&context.fills, cols, groups, row);
    Ok(())
}

fn wrong_wire(found: u8, expected: u8) -> WireError {
    err(format!(
        "wire type {found} ({}) where the schema says {expected} ({}): written with another schema?",
        WIRE_NAMES[found as usize & 7],
        WIRE_NAMES[expected as usize & 7]
    ))
}

/// Reads one value of `kind` (its wire type already checked) into `col`.
#[inline(always)]
fn read_value(
    buf: &[u8],
    pos: &mut usize,
    kind: &ValueKind,
    cols: &mut Columns,
    col: usize,
    slot: Option<usize>,
) -> Result<(), WireError> {
    match kind {
        ValueKind::Int32 | ValueKind::EnumInt => cols.put_i32(col, slot, varint(buf, pos)? as i32),
        ValueKind::Int64 => cols.put_i64(col, slot, varint(buf, pos)? as i64),
        ValueKind::UInt32 => cols.put_u32(col, slot, varint(buf, pos)? as u32),
        ValueKind::UInt64 => cols.put_u64(col, slot, varint(buf, pos)?),
        ValueKind::SInt32 => {
            let z = varint(buf, pos)? as u32;
            cols.put_i32(col, slot, ((z >> 1) as i32) ^ -((z & 1) as i32))
        }
        ValueKind::SInt64 => {
            let z = varint(buf, pos)?;
            cols.put_i64(col, slot, ((z >> 1) as i64) ^ -((z & 1) as i64))
        }
        ValueKind::Fixed32 => cols.put_u32(col, slot, u32::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::Fixed64 => cols.put_u64(col, slot, u64::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::SFixed32 => cols.put_i32(col, slot, i32::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::SFixed64 => cols.put_i64(col, slot, i64::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::Float => cols.put_f32(col, slot, f32::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::Double => cols.put_f64(col, slot, f64::from_le_bytes(fixed(buf, pos)?)),
        ValueKind::Bool => cols.put_bool(col, slot, varint(buf, pos)? != 0),
        ValueKind::String => {
            let s = delimited(buf, pos)?;
            if let Err(e) = std::str::from_utf8(s) {
                return Err(err(format!("string is not valid UTF-8: {e}")));
            }
            cols.put_bytes(col, slot, s)
        }
        ValueKind::Bytes | ValueKind::RawMessage => {
            let s = delimited(buf, pos)?;
            cols.put_bytes(col, slot, s)
        }
        ValueKind::EnumName(names) => {
            let n = varint(buf, pos)? as i32;
            match names.name(n) {
                Some(name) => cols.put_bytes(col, slot, name.as_bytes()),
                // An enum value newer than the schema: keep its number.
                None => cols.put_bytes(col, slot, n.to_string().as_bytes()),
            }
        }
        ValueKind::Timestamp(ms) | ValueKind::Duration(ms) => {
            let sub = delimited(buf, pos)?;
            let (seconds, nanos) = seconds_nanos(sub)?;
            let what = if matches!(kind, ValueKind::Timestamp(_)) {
                "Timestamp"
            } else {
                "Duration"
            };
            let v = if *ms {
                seconds
                    .checked_mul(1000)
                    .and_then(|s| s.checked_add(i64::from(nanos) / 1_000_000))
            } else {
                seconds
                    .checked_mul(1_000_000_000)
                    .and_then(|s| s.checked_add(i64::from(nanos)))
            };
            let v = v.ok_or_else(|| {
                err(format!(
                    "{what} of {seconds} s does not fit in 64-bit {}",
                    if *ms { "milliseconds" } else { "nanoseconds" }
                ))
            })?;
            cols.put_i64(col, slot, v)
        }
        ValueKind::Wrapper(inner) => {
            let sub = delimited(buf, pos)?;
            let mut p = 0;
            let mut last = None;
            while p < sub.len() {
                let key = varint(sub, &mut p)?;
                let (n, w) = ((key >> 3) as u32, (key & 7) as u8);
                if n == 1 {
                    if w != inner.wire_type() {
                        return Err(wrong_wire(w, inner.wire_type()));
                    }
                    last = Some(p);
                }
                skip(sub, &mut p, w, n, 0)?;
            }
            match last {
                Some(mut p) => read_value(sub, &mut p, inner, cols, col, slot)?,
                None => write_zero(cols, col, slot),
            }
        }
    }
    Ok(())
}

/// A present wrapper without its value holds the zero value.
fn write_zero(cols: &mut Columns, col: usize, slot: Option<usize>) {
    if slot.is_some_and(|r| cols.len(col) > r) {
        cols.truncate(col, cols.len(col) - 1);
    }
    cols.push_zero(col, true);
}

fn seconds_nanos(buf: &[u8]) -> Result<(i64, i32), WireError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut p = 0;
    while p < buf.len() {
        let key = varint(buf, &mut p)?;
        let (n, w) = ((key >> 3) as u32, (key & 7) as u8);
        match (n, w) {
            (1, 0) => seconds = varint(buf, &mut p)? as i64,
            (2, 0) => nanos = varint(buf, &mut p)? as i32,
            _ => skip(buf, &mut p, w, n, 0)?,
        }
    }
    Ok((seconds, nanos))
}
