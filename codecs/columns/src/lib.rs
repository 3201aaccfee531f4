//! Column buffers the codecs decode into: fixed-width values, booleans and
//! bytes or UTF-8 text, each with its validity. A row that fails half-way is
//! cut off with `truncate`, and `finish` turns the rows into an Arrow array
//! without copying the values.
//!
//! Every finish is checked: no `unsafe` here, and a UTF-8 column's data is
//! verified once as a whole when finished, so a decoder that pushes bytes it
//! did not check gets an error, never an invalid `StringArray`. The codecs
//! keep their own nested columns (lists, maps, structs, unions,
//! dictionaries) on top of these.
//!
//! ```
//! use arrow_array::Array;
//! use arrow_array::types::Int64Type;
//! use topictable_columns::{BytesBuf, PrimitiveBuf};
//!
//! let mut ids = PrimitiveBuf::<i64>::with_capacity(2);
//! let mut names = BytesBuf::with_capacity(2, 16);
//! // Row 0 decodes.
//! ids.push(7);
//! names.push_str("seven").unwrap();
//! // Row 1 fails after its first field: cut it off and write a null row.
//! ids.push(8);
//! ids.truncate(1);
//! names.truncate(1);
//! ids.push_null();
//! names.push_null();
//!
//! let ids = ids.finish::<Int64Type>();
//! let names = names.finish_utf8().unwrap();
//! assert_eq!(ids.values(), &[7, 0]);
//! assert_eq!(names.value(0), "seven");
//! assert!(ids.is_null(1) && names.is_null(1));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

// The per-value methods (`push`, `push_null`, `len`, ...) are
// `#[inline(always)]`: the codecs call them from large dispatch functions,
// where a plain `#[inline]` was not enough and Avro's decoder called
// `PrimitiveBuf::push` out of line (6.8% more instructions in its decode).

mod boolean;
mod bytes;
mod error;
mod primitive;
mod validity;

pub use boolean::BooleanBuf;
pub use bytes::{BytesBuf, MAX_BYTES};
pub use error::{ColumnError, OffsetOverflow};
pub use primitive::PrimitiveBuf;
pub use validity::Validity;
