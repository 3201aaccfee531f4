//! Deephaven's row variables: `i` and `ii` (the row's position in an append
//! table, as `int` and `long`) and `k` (its row key).
//!
//! A column of the same name in the table wins over the variable.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema};

use crate::update::RowKeys;

/// The variables, their types, and what they mean (for errors and docs).
const VARIABLES: [(&str, DataType); 3] = [
    ("i", DataType::Int32),
    ("ii", DataType::Int64),
    ("k", DataType::Int64),
];

/// Which row variables a set of formulas reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowVars {
    names: Vec<&'static str>,
}

impl RowVars {
    /// Every variable that `schema` does not shadow with a column of its own.
    pub fn available(schema: &Schema) -> Self {
        RowVars {
            names: VARIABLES
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| schema.index_of(n).is_err())
                .collect(),
        }
    }

    /// Only the variables whose positions (counted from `first`) are in `used`.
    pub fn keep_used(&self, first: usize, used: &[usize]) -> Self {
        RowVars {
            names: self
                .names
                .iter()
                .enumerate()
                .filter(|(i, _)| used.contains(&(first + i)))
                .map(|(_, n)| *n)
                .collect(),
        }
    }

    /// The variables' names.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The variables as (non-null) fields.
    pub fn fields(&self) -> Vec<Field> {
        self.names
            .iter()
            .map(|n| {
                let dt = VARIABLES
                    .iter()
                    .find(|(v, _)| v == n)
                    .map(|(_, t)| t.clone());
                Field::new(*n, dt.unwrap_or(DataType::Int64), false)
            })
            .collect()
    }

    /// The variables' values for rows at positions `first..` with keys `keys`.
    pub fn arrays(&self, first: u64, keys: &RowKeys) -> Result<Vec<ArrayRef>, ArrowError> {
        let n = keys.len() as u64;
        self.names
            .iter()
            .map(|name| -> Result<ArrayRef, ArrowError> {
                Ok(match *name {
                    "i" => {
                        let last = first + n.saturating_sub(1);
                        if n > 0 && last > i32::MAX as u64 {
                            return Err(ArrowError::ComputeError(format!(
                                "row position {last} does not fit `i` (an int); use `ii`"
                            )));
                        }
                        Arc::new(Int32Array::from_iter_values(
                            (first..first + n).map(|p| p as i32),
                        ))
                    }
                    "ii" => Arc::new(Int64Array::from_iter_values(
                        (first..first + n).map(|p| p as i64),
                    )),
                    _ => Arc::new(Int64Array::from_iter_values(
                        keys.iter_keys().map(|k| k as i64),
                    )),
                })
            })
            .collect()
    }
}
