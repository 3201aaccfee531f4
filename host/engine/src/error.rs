//! The engine's one error type.

use arrow_schema::{ArrowError, DataType};

/// Everything that can go wrong building, feeding or running live tables.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// An operator or writer named a column the table does not have.
    #[error("column `{column}` not found in table `{table}`")]
    ColumnNotFound {
        /// Table that was searched.
        table: String,
        /// Column that was asked for.
        column: String,
    },
    /// A column's type does not suit the operation.
    #[error(
        "column `{column}` of table `{table}` has type {actual}, but {operation} needs {expected}"
    )]
    TypeMismatch {
        /// Table holding the column.
        table: String,
        /// Offending column.
        column: String,
        /// Operation that was being built.
        operation: String,
        /// What the operation accepts.
        expected: String,
        /// The column's actual type.
        actual: DataType,
    },
    /// Two output columns of an operator would have the same name.
    #[error("{operation} on table `{table}` would produce column `{column}` twice")]
    DuplicateColumn {
        /// Input table of the operator.
        table: String,
        /// Operation that was being built.
        operation: String,
        /// Duplicated output name.
        column: String,
    },
    /// A textual spec such as `"Out = In"` or `"Qty > 5"` could not be parsed.
    #[error("invalid {what} `{spec}`: {reason}")]
    InvalidSpec {
        /// Kind of spec (column pair, filter, ...).
        what: String,
        /// The spec as given.
        spec: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A pushed batch does not match the source table's schema.
    #[error("batch pushed to `{table}` does not match its schema: {reason}")]
    SchemaMismatch {
        /// Source table.
        table: String,
        /// First difference found.
        reason: String,
    },
    /// `try_push` found the writer's buffer full.
    #[error("writer buffer of `{table}` is full ({buffered} of {capacity} rows buffered)")]
    WriterFull {
        /// Source table.
        table: String,
        /// Rows waiting for the next cycle.
        buffered: usize,
        /// Buffer capacity in rows.
        capacity: usize,
    },
    /// Rows were to be removed from a source table not created removable.
    #[error("table `{table}` was not created removable, so its rows cannot be removed")]
    NotRemovable {
        /// Source table.
        table: String,
    },
    /// The table is not a source, so it has no writer.
    #[error("table `{table}` is not a writable source")]
    NotASource {
        /// Table that was asked for a writer.
        table: String,
    },
    /// The two tables belong to different engines.
    #[error("tables `{left}` and `{right}` belong to different engines")]
    ForeignTable {
        /// Table the operator was called on.
        left: String,
        /// Argument table.
        right: String,
    },
    /// A natural join's right table holds two rows for one key.
    #[error("natural_join `{table}`: right table `{right}` has more than one row for key {key}")]
    DuplicateRightKey {
        /// The join's result table.
        table: String,
        /// The right table.
        right: String,
        /// The duplicated key, rendered.
        key: String,
    },
    /// The table stopped updating because it, or a table it depends on, failed.
    #[error("table `{table}` failed: {cause}")]
    TableFailed {
        /// The failed table.
        table: String,
        /// The original failure.
        cause: Box<EngineError>,
    },
    /// An Arrow kernel failed.
    #[error("arrow error in `{table}`: {message}")]
    Arrow {
        /// Table being computed.
        table: String,
        /// Arrow's message.
        message: String,
    },
    /// Computing a table's cycle panicked (a bug): the table stops, the
    /// others go on.
    #[error("computing `{table}` panicked: {message}")]
    Panicked {
        /// Table being computed.
        table: String,
        /// The panic's message.
        message: String,
    },
}

impl EngineError {
    /// Wraps an Arrow error with the table it happened in.
    pub(crate) fn arrow(table: &str, e: ArrowError) -> Self {
        EngineError::Arrow {
            table: table.to_string(),
            message: e.to_string(),
        }
    }

    /// Builds a `ColumnNotFound`.
    pub(crate) fn no_column(table: &str, column: &str) -> Self {
        EngineError::ColumnNotFound {
            table: table.to_string(),
            column: column.to_string(),
        }
    }
}

/// Crate result alias.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
