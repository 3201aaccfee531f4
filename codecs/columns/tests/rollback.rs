//! A row that fails half-way and is cut off leaves no trace: the finished
//! arrays are exactly those of the same rows written without the failures,
//! across batches (`take`) too.

use arrow_array::types::Int64Type;
use arrow_array::{Array, BinaryArray, BooleanArray, Int64Array, StringArray};
use proptest::prelude::*;
use topictable_columns::{BooleanBuf, BytesBuf, PrimitiveBuf};

/// One row's cells.
#[derive(Debug, Clone)]
struct Row {
    int: Option<i64>,
    flag: Option<bool>,
    text: Option<String>,
    bytes: Option<Vec<u8>>,
}

/// A row to write: whole, or failing after `cut` of its four cells (and
/// replacing its first cell once before failing, as a repeated field does).
#[derive(Debug, Clone)]
struct Step {
    row: Row,
    fail_after: Option<usize>,
    /// Finish the batch after this row.
    end_batch: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of("\\PC{0,6}"),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
    )
        .prop_map(|(int, flag, text, bytes)| Row {
            int,
            flag,
            text,
            bytes,
        })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (
            row(),
            proptest::option::of(0usize..4),
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(row, fail_after, end_batch)| Step {
                row,
                fail_after,
                end_batch,
            }),
        0..60,
    )
}

#[derive(Default)]
struct Buffers {
    int: PrimitiveBuf<i64>,
    flag: BooleanBuf,
    text: BytesBuf,
    bytes: BytesBuf,
}

/// The finished arrays of one batch.
type Batch = (Int64Array, BooleanArray, StringArray, BinaryArray);

impl Buffers {
    fn write(&mut self, row: &Row, cells: usize) {
        if cells > 0 {
            match row.int {
                Some(v) => self.int.push(v),
                None => self.int.push_null(),
            }
        }
        if cells > 1 {
            match row.flag {
                Some(v) => self.flag.push(v),
                None => self.flag.push_null(),
            }
        }
        if cells > 2 {
            match &row.text {
                Some(v) => self.text.push_str(v).unwrap(),
                None => self.text.push_null(),
            }
        }
        if cells > 3 {
            match &row.bytes {
                Some(v) => self.bytes.push(v).unwrap(),
                None => self.bytes.push_null(),
            }
        }
    }

    fn truncate(&mut self, rows: usize) {
        self.int.truncate(rows);
        self.flag.truncate(rows);
        self.text.truncate(rows);
        self.bytes.truncate(rows);
    }

    fn finish(&mut self) -> Batch {
        (
            self.int.take().finish::<Int64Type>(),
            self.flag.take().finish(),
            self.text.take().finish_utf8().unwrap(),
            self.bytes.take().finish_binary().unwrap(),
        )
    }
}

/// Writes `steps`; with `fail`, the failing rows are written half-way, cut
/// off, and written as nulls, else they are written as nulls at once.
fn run(steps: &[Step], fail: bool) -> Vec<Batch> {
    let null_row = Row {
        int: None,
        flag: None,
        text: None,
        bytes: None,
    };
    let mut b = Buffers::default();
    let mut batches = Vec::new();
    let mut rows = 0;
    for step in steps {
        match step.fail_after {
            Some(cells) if fail => {
                b.write(&step.row, cells);
                // A repeated field: a cell of this row written again.
                if cells > 0 {
                    *b.int.last_mut().unwrap() = 42;
                }
                if cells > 2 {
                    b.text.replace_last(b"again").unwrap();
                }
                b.truncate(rows);
                b.write(&null_row, 4);
            }
            Some(_) => b.write(&null_row, 4),
            None => b.write(&step.row, 4),
        }
        rows += 1;
        if step.end_batch {
            batches.push(b.finish());
            rows = 0;
        }
    }
    batches.push(b.finish());
    batches
}

/// The same rows built by Arrow's own constructors.
fn expected(steps: &[Step]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut batch: Vec<Row> = Vec::new();
    let finish = |rows: &[Row]| -> Batch {
        (
            Int64Array::from(rows.iter().map(|r| r.int).collect::<Vec<_>>()),
            BooleanArray::from(rows.iter().map(|r| r.flag).collect::<Vec<_>>()),
            StringArray::from(rows.iter().map(|r| r.text.clone()).collect::<Vec<_>>()),
            BinaryArray::from(rows.iter().map(|r| r.bytes.as_deref()).collect::<Vec<_>>()),
        )
    };
    for step in steps {
        batch.push(match step.fail_after {
            Some(_) => Row {
                int: None,
                flag: None,
                text: None,
                bytes: None,
            },
            None => step.row.clone(),
        });
        if step.end_batch {
            out.push(finish(&batch));
            batch.clear();
        }
    }
    out.push(finish(&batch));
    out
}

/// Equal values and validity, and the same bytes in the value buffers
/// (null slots included).
fn assert_same(got: &Batch, want: &Batch) {
    assert_eq!(got.0, want.0);
    assert_eq!(got.0.values(), want.0.values());
    assert_eq!(got.1, want.1);
    assert_eq!(got.2, want.2);
    assert_eq!(got.2.value_offsets(), want.2.value_offsets());
    assert_eq!(got.2.value_data(), want.2.value_data());
    assert_eq!(got.3, want.3);
    assert_eq!(got.3.value_offsets(), want.3.value_offsets());
    assert_eq!(got.3.value_data(), want.3.value_data());
    for (a, b) in [
        (got.0.nulls(), want.0.nulls()),
        (got.1.nulls(), want.1.nulls()),
        (got.2.nulls(), want.2.nulls()),
        (got.3.nulls(), want.3.nulls()),
    ] {
        assert_eq!(a.map(|n| n.null_count()), b.map(|n| n.null_count()));
    }
}

proptest! {
    #[test]
    fn a_cut_off_row_leaves_no_trace(steps in steps()) {
        let with_failures = run(&steps, true);
        let without = run(&steps, false);
        let want = expected(&steps);
        prop_assert_eq!(with_failures.len(), want.len());
        for ((got, clean), want) in with_failures.iter().zip(&without).zip(&want) {
            assert_same(got, want);
            assert_same(clean, want);
        }
    }
}

#[test]
fn a_half_written_row_is_cut_back_to_the_prior_arrays() {
    let mut b = Buffers::default();
    let first = Row {
        int: Some(1),
        flag: Some(true),
        text: Some("één".into()),
        bytes: Some(vec![0, 255]),
    };
    b.write(&first, 4);
    let before = {
        let mut copy = Buffers::default();
        copy.write(&first, 4);
        copy.finish()
    };
    // Row 1 writes two cells (one of them twice), then fails.
    b.write(&first, 3);
    b.text.replace_last("much longer text".as_bytes()).unwrap();
    b.truncate(1);
    assert_same(&b.finish(), &before);
}
