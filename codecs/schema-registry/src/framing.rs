//! The Confluent wire format: magic byte `0x00`, a 4-byte big-endian schema
//! id, then the payload; for Protobuf the payload starts with the
//! message-index array (zigzag varints, `[0]` written as a single `0x00`).
//!
//! ```
//! use topictable_schema_registry::framing::{frame, split_frame, encode_message_indexes, decode_message_indexes};
//! let mut bytes = Vec::new();
//! frame(7, b"payload", &mut bytes);
//! assert_eq!(split_frame(&bytes).unwrap(), (7, &b"payload"[..]));
//!
//! let mut idx = Vec::new();
//! encode_message_indexes(&[1, 0], &mut idx);
//! assert_eq!(idx, [0x04, 0x02, 0x00]);
//! assert_eq!(decode_message_indexes(&idx).unwrap(), (vec![1, 0], &[][..]));
//! ```

/// The first byte of every Confluent-framed message.
pub const MAGIC_BYTE: u8 = 0x00;

/// Length of the header: magic byte plus 4-byte schema id.
pub const HEADER_LEN: usize = 5;

/// Why a message's Confluent framing could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The message is shorter than the 5-byte header.
    #[error(
        "message of {len} bytes is too short for the 5-byte Confluent header (magic byte 0x00 + 4-byte schema id)"
    )]
    TooShort {
        /// The message length.
        len: usize,
    },
    /// The first byte is not `0x00`.
    #[error("unknown magic byte 0x{found:02x} (expected 0x00, Confluent framing)")]
    BadMagic {
        /// The byte found.
        found: u8,
    },
    /// A varint of the message-index array runs past the end of the message.
    #[error("message-index array truncated at byte {at}")]
    TruncatedVarint {
        /// Offset of the varint's first byte.
        at: usize,
    },
    /// A varint of the message-index array is longer than 32 bits allow.
    #[error(
        "varint overflow in the message-index array at byte {at} (more than 5 bytes for a 32-bit value)"
    )]
    VarintOverflow {
        /// Offset of the varint's first byte.
        at: usize,
    },
    /// The message-index array has a negative count or index.
    #[error("invalid message-index array: {0}")]
    BadIndexes(String),
}

/// Writes the header for `schema_id` and then `payload` to `out`.
pub fn frame(schema_id: u32, payload: &[u8], out: &mut Vec<u8>) {
    write_header(schema_id, out);
    out.extend_from_slice(payload);
}

/// Writes the 5-byte header for `schema_id` to `out`.
#[inline]
pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits a framed message into its schema id and payload.
#[inline]
pub fn split_frame(message: &[u8]) -> Result<(u32, &[u8]), FramingError> {
    if message.len() < HEADER_LEN {
        // A one-byte message with a wrong magic byte is better reported as such.
        if let Some(&b) = message.first().filter(|&&b| b != MAGIC_BYTE) {
            return Err(FramingError::BadMagic { found: b });
        }
        return Err(FramingError::TooShort { len: message.len() });
    }
    if message[0] != MAGIC_BYTE {
        return Err(FramingError::BadMagic { found: message[0] });
    }
    let id = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
    Ok((id, &message[HEADER_LEN..]))
}

/// Writes the Protobuf message-index array: `[0]` as the single byte `0x00`,
/// otherwise the count and each index as zigzag varints.
pub fn encode_message_indexes(indexes: &[i32], out: &mut Vec<u8>) {
    if indexes == [0] {
        out.push(0);
        return;
    }
    write_zigzag(indexes.len() as i64, out);
    for &i in indexes {
        write_zigzag(i64::from(i), out);
    }
}

/// Reads the Protobuf message-index array at the start of `payload`; returns
/// the indexes (`[0]` for the single byte `0x00`) and the rest of the payload.
pub fn decode_message_indexes(payload: &[u8]) -> Result<(Vec<i32>, &[u8]), FramingError> {
    let mut pos = 0;
    let count = read_zigzag32(payload, &mut pos)?;
    if count == 0 {
        return Ok((vec![0], &payload[pos..]));
    }
    if count < 0 {
        return Err(FramingError::BadIndexes(format!("negative count {count}")));
    }
    // Each index takes at least one byte, which bounds the allocation.
    if count as usize > payload.len() - pos {
        return Err(FramingError::BadIndexes(format!(
            "count {count} but only {} bytes follow",
            payload.len() - pos
        )));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let i = read_zigzag32(payload, &mut pos)?;
        if i < 0 {
            return Err(FramingError::BadIndexes(format!("negative index {i}")));
        }
        indexes.push(i);
    }
    Ok((indexes, &payload[pos..]))
}

fn write_zigzag(v: i64, out: &mut Vec<u8>) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn read_zigzag32(bytes: &[u8], pos: &mut usize) -> Result<i32, FramingError> {
    let start = *pos;
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let Some(&b) = bytes.get(*pos) else {
            return Err(FramingError::TruncatedVarint { at: start });
        };
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(FramingError::VarintOverflow { at: start });
            }
            let z = value as u32;
            return Ok(((z >> 1) as i32) ^ -((z & 1) as i32));
        }
    }
    Err(FramingError::VarintOverflow { at: start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_errors() {
        let mut out = Vec::new();
        frame(0x01020304, b"xy", &mut out);
        assert_eq!(out, [0, 1, 2, 3, 4, b'x', b'y']);
        assert_eq!(split_frame(&out).unwrap(), (0x01020304, &b"xy"[..]));
        assert_eq!(split_frame(&[0, 0, 0, 0, 9]).unwrap(), (9, &[][..]));
        assert_eq!(
            split_frame(&[1, 0, 0, 0, 7, 1]).unwrap_err().to_string(),
            "unknown magic byte 0x01 (expected 0x00, Confluent framing)"
        );
        assert_eq!(
            split_frame(&[0, 0, 0]).unwrap_err(),
            FramingError::TooShort { len: 3 }
        );
        assert_eq!(
            split_frame(b"{").unwrap_err(),
            FramingError::BadMagic { found: b'{' }
        );
    }

    #[test]
    fn message_indexes_match_confluent_examples() {
        let cases: &[(&[i32], &[u8])] = &[
            (&[0], &[0x00]),
            (&[1], &[0x02, 0x02]),
            (&[1, 0], &[0x04, 0x02, 0x00]),
            (&[0, 2, 64], &[0x06, 0x00, 0x04, 0x80, 0x01]),
        ];
        for (indexes, bytes) in cases {
            let mut out = Vec::new();
            encode_message_indexes(indexes, &mut out);
            assert_eq!(&out[..], *bytes, "{indexes:?}");
            let mut with_rest = out.clone();
            with_rest.extend_from_slice(b"rest");
            let (back, rest) = decode_message_indexes(&with_rest).unwrap();
            assert_eq!(&back[..], *indexes);
            assert_eq!(rest, b"rest");
        }
    }

    #[test]
    fn message_index_errors() {
        assert_eq!(
            decode_message_indexes(&[0x04, 0x02, 0x80]).unwrap_err(),
            FramingError::TruncatedVarint { at: 2 }
        );
        assert_eq!(
            decode_message_indexes(&[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).unwrap_err(),
            FramingError::VarintOverflow { at: 1 }
        );
        assert_eq!(
            decode_message_indexes(&[0x02, 0xff, 0xff, 0xff, 0xff, 0x7f]).unwrap_err(),
            FramingError::VarintOverflow { at: 1 }
        );
        assert!(matches!(
            decode_message_indexes(&[0x01]).unwrap_err(),
            FramingError::BadIndexes(_)
        ));
        assert!(matches!(
            decode_message_indexes(&[0x7e, 0x00]).unwrap_err(),
            FramingError::BadIndexes(_)
        ));
        assert_eq!(
            decode_message_indexes(&[]).unwrap_err(),
            FramingError::TruncatedVarint { at: 0 }
        );
    }
}
