//! The change column: `add`, `remove` or `modify` on every row, dictionary-encoded.

use std::sync::Arc;

use topictable_sdk::arrow_array::types::Int8Type;
use topictable_sdk::arrow_array::{Array, ArrayRef, DictionaryArray, Int8Array, StringArray};
use topictable_sdk::arrow_schema::{DataType, Field};

/// What happened to a row in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The row was removed (its last values).
    Remove = 0,
    /// The row was modified (its new values).
    Modify = 1,
    /// The row was added.
    Add = 2,
}

impl ChangeKind {
    /// The order rows of one update are written in.
    pub const WRITE_ORDER: [ChangeKind; 3] =
        [ChangeKind::Remove, ChangeKind::Modify, ChangeKind::Add];

    /// The value written in the change column.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Remove => "remove",
            ChangeKind::Modify => "modify",
            ChangeKind::Add => "add",
        }
    }
}

/// The change column's field: `Dictionary(Int8, Utf8)`, never null.
pub fn field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)),
        false,
    )
}

/// Hands out constant change columns of any length as slices of one cached array per kind.
#[derive(Debug, Default)]
pub struct ChangeColumns {
    cached: [Option<ArrayRef>; 3],
}

impl ChangeColumns {
    /// A column of `len` rows, all `kind`.
    pub fn column(&mut self, kind: ChangeKind, len: usize) -> ArrayRef {
        let slot = &mut self.cached[kind as usize];
        match slot {
            Some(array) if array.len() >= len => array.slice(0, len),
            _ => {
                let capacity = len.max(slot.as_ref().map_or(0, |a| a.len() * 2)).max(1024);
                let array = constant(kind, capacity);
                *slot = Some(array.clone());
                array.slice(0, len)
            }
        }
    }
}

fn constant(kind: ChangeKind, len: usize) -> ArrayRef {
    let values = StringArray::from(
        ChangeKind::WRITE_ORDER
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>(),
    );
    let keys = Int8Array::from_value(kind as i8, len);
    Arc::new(DictionaryArray::<Int8Type>::new(keys, Arc::new(values)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use topictable_sdk::arrow_array::cast::AsArray;

    #[test]
    fn columns_hold_the_kind_at_any_length() {
        let mut columns = ChangeColumns::default();
        for (kind, len) in [
            (ChangeKind::Add, 3),
            (ChangeKind::Remove, 5000),
            (ChangeKind::Add, 2000),
            (ChangeKind::Modify, 0),
        ] {
            let column = columns.column(kind, len);
            assert_eq!(column.len(), len);
            assert_eq!(column.data_type(), field("c").data_type());
            let dict = column.as_dictionary::<Int8Type>();
            let values = dict.values().as_string::<i32>();
            assert!(
                dict.keys()
                    .iter()
                    .all(|k| values.value(k.unwrap() as usize) == kind.name())
            );
        }
    }
}
