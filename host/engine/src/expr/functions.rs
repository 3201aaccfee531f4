//! Deephaven's formula functions that SQL lacks: `randomInt`, `randomDouble`
//! and a per-evaluation `now()`.
//!
//! All three are volatile: a formula that calls one is evaluated once, when
//! its row is added, and its value is kept on later cycles.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array};
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use rand::Rng;

/// Adds the functions to `ctx` (`now` replaces DataFusion's, which is fixed
/// at the start of a query rather than read when a row is added).
pub(crate) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(RandomInt::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(RandomDouble::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(Now::new()));
}

/// The bounds of one row: from scalar arguments or from arrays.
fn bound<T: Copy>(
    value: &ColumnarValue,
    row: usize,
    get: impl Fn(&ScalarValue) -> Option<T>,
    from_array: impl Fn(&ArrayRef, usize) -> Option<T>,
) -> Option<T> {
    match value {
        ColumnarValue::Scalar(s) => get(s),
        ColumnarValue::Array(a) => from_array(a, row),
    }
}

/// `randomInt(lo, hi)`: a uniform `int` in `[lo, hi)`, as in Deephaven.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RandomInt {
    signature: Signature,
}

impl RandomInt {
    fn new() -> Self {
        RandomInt {
            signature: Signature::uniform(2, vec![DataType::Int64], Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for RandomInt {
    fn name(&self) -> &str {
        "randomint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [lo, hi] = args.args.as_slice() else {
            return exec_err!("randomInt takes two arguments: randomInt(lo, hi)");
        };
        let scalar = |s: &ScalarValue| match s {
            ScalarValue::Int64(v) => *v,
            _ => None,
        };
        let at = |a: &ArrayRef, row: usize| {
            use arrow_array::Array;
            let a = a.as_any().downcast_ref::<Int64Array>()?;
            a.is_valid(row).then(|| a.value(row))
        };
        let mut rng = rand::rng();
        let mut out = Int32Array::builder(args.number_rows);
        for row in 0..args.number_rows {
            match (bound(lo, row, scalar, at), bound(hi, row, scalar, at)) {
                (Some(l), Some(h))
                    if l < h && i32::try_from(l).is_ok() && i32::try_from(h - 1).is_ok() =>
                {
                    // Both bounds fit in `int`, so the drawn value does too.
                    out.append_value(rng.random_range(l..h) as i32)
                }
                (Some(l), Some(h)) => {
                    return exec_err!(
                        "randomInt({l}, {h}): needs lo < hi (hi is exclusive), both within int"
                    );
                }
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `randomDouble(lo, hi)`: a uniform `double` in `[lo, hi)`, as in Deephaven.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RandomDouble {
    signature: Signature,
}

impl RandomDouble {
    fn new() -> Self {
        RandomDouble {
            signature: Signature::uniform(2, vec![DataType::Float64], Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for RandomDouble {
    fn name(&self) -> &str {
        "randomdouble"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [lo, hi] = args.args.as_slice() else {
            return exec_err!("randomDouble takes two arguments: randomDouble(lo, hi)");
        };
        let scalar = |s: &ScalarValue| match s {
            ScalarValue::Float64(v) => *v,
            _ => None,
        };
        let at = |a: &ArrayRef, row: usize| {
            use arrow_array::Array;
            let a = a.as_any().downcast_ref::<Float64Array>()?;
            a.is_valid(row).then(|| a.value(row))
        };
        let mut rng = rand::rng();
        let mut out = Float64Array::builder(args.number_rows);
        for row in 0..args.number_rows {
            match (bound(lo, row, scalar, at), bound(hi, row, scalar, at)) {
                (Some(l), Some(h)) if l < h => out.append_value(rng.random_range(l..h)),
                (Some(l), Some(h)) if l == h => out.append_value(l),
                (Some(l), Some(h)) => {
                    return exec_err!("randomDouble({l}, {h}): the lower bound is above the upper");
                }
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `now()`: the time the row's formula is evaluated, i.e. when the row was added.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Now {
    signature: Signature,
}

impl Now {
    fn new() -> Self {
        Now {
            signature: Signature::exact(vec![], Volatility::Volatile),
        }
    }
}

impl ScalarUDFImpl for Now {
    fn name(&self) -> &str {
        "now"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("UTC".into()),
        ))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or_default();
        Ok(ColumnarValue::Scalar(ScalarValue::TimestampNanosecond(
            Some(nanos),
            Some("UTC".into()),
        )))
    }
}
