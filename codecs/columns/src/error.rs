//! Why a buffer refused a value, or could not be finished.

use arrow_schema::ArrowError;

/// A value would take a bytes column past [`crate::MAX_BYTES`] (Arrow's
/// 32-bit offsets) in one batch; the row that pushed it must be cut off or
/// the batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value would take the column past 2 GiB (Arrow's 32-bit offsets) in one batch")]
pub struct OffsetOverflow;

/// Why a buffer could not be finished into an Arrow array.
#[derive(Debug, thiserror::Error)]
pub enum ColumnError {
    /// A value was refused ([`OffsetOverflow`]) and the row that pushed it
    /// was not cut off.
    #[error(
        "row {row} would take the column past 2 GiB (Arrow's 32-bit offsets) in one batch; use smaller batches"
    )]
    Overflow {
        /// The first row refused.
        row: usize,
    },
    /// The offsets do not start at 0, decrease, or pass the end of the data.
    #[error("the column's offsets do not start at 0, decrease, or pass the end of its data")]
    Offsets,
    /// Arrow refused the buffers, e.g. a value of a UTF-8 column that is not
    /// UTF-8.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}
