//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

/// Schema of the seed's `quotes` topic.
pub fn quotes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Symbol", DataType::Utf8, false),
        Field::new("Price", DataType::Float64, false),
    ]))
}

/// Schema of the seed's `orders` topic.
pub fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Symbol", DataType::Utf8, false),
        Field::new("Id", DataType::Utf8, false),
        Field::new("LimitPrice", DataType::Float64, false),
        Field::new("Qty", DataType::Int32, false),
    ]))
}

/// A quotes batch.
pub fn quotes(rows: &[(&str, f64)]) -> RecordBatch {
    RecordBatch::try_new(
        quotes_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap()
}

/// An orders batch.
pub fn orders(rows: &[(&str, &str, f64, i32)]) -> RecordBatch {
    RecordBatch::try_new(
        orders_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.3))),
        ],
    )
    .unwrap()
}

/// Column `name` of `b` as strings.
pub fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(name).unwrap();
    let c = c.as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

/// Column `name` of `b` as f64.
pub fn f64s(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let c = b.column_by_name(name).unwrap();
    let c = c.as_primitive::<Float64Type>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

/// Column `name` of `b` as i64 (Int64 or Int32).
pub fn i64s(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let c = b.column_by_name(name).unwrap();
    match c.data_type() {
        DataType::Int32 => {
            let c = c.as_primitive::<Int32Type>();
            (0..c.len())
                .map(|i| c.is_valid(i).then(|| c.value(i) as i64))
                .collect()
        }
        _ => {
            let c = c.as_primitive::<Int64Type>();
            (0..c.len())
                .map(|i| c.is_valid(i).then(|| c.value(i)))
                .collect()
        }
    }
}

/// An Int64 column.
pub fn int64(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

/// A `(K, V, F)` row of the property tests: nullable text key, nullable
/// integer, float.
pub type KvfRow = (Option<String>, Option<i64>, f64);

/// Schema of [`KvfRow`]s: `K` Utf8 (nullable), `V` Int64 (nullable), `F` Float64.
pub fn kvf_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("K", DataType::Utf8, true),
        Field::new("V", DataType::Int64, true),
        Field::new("F", DataType::Float64, false),
    ]))
}

/// A batch of [`KvfRow`]s.
pub fn kvf_batch(rows: &[KvfRow]) -> RecordBatch {
    RecordBatch::try_new(
        kvf_schema(),
        vec![
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            )) as ArrayRef,
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}
