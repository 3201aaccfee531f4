//! `where_`: keep rows matching simple column-vs-literal comparisons.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, Scalar, StringArray};
use arrow_cast::CastOptions;
use arrow_schema::{ArrowError, DataType, SchemaRef};
use arrow_select::filter::filter_record_batch;

use arrow_array::cast::AsArray;

use super::spec::strings;
use super::{Input, Operator};
use crate::engine::NodeSpec;
use crate::error::{EngineError, Result};
use crate::expr::{self, CompiledExpr};
use crate::keys::column_index;
use crate::table::handle::Table;
use crate::update::{RowKey, RowKeys, Update};
use crate::version::{Version, VersionRef};

/// Comparison operators accepted by [`Table::where_`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One `Column <op> literal` condition.
struct Condition {
    column: usize,
    op: CmpOp,
    literal: ArrayRef,
}

/// One filter: the literal comparison form, or any boolean SQL expression.
enum Filter {
    /// `Column <op> literal`, compared with arrow's kernels.
    Literal(Condition),
    /// A DataFusion expression such as `Price > 100 AND Symbol IN ('A', 'B')`.
    Expr(CompiledExpr),
}

/// Filters that must all hold; nulls never match.
pub(crate) struct Predicate {
    filters: Vec<Filter>,
}

impl Predicate {
    /// Parses filters such as `"Qty > 5"`, ``"Symbol == `AAPL`"`` or
    /// `"Price * Qty > 1e6 OR Symbol LIKE 'A%'"` against `schema`. The
    /// literal form is tried first (it also accepts double-quoted text);
    /// anything else is a SQL expression, whose error is reported.
    fn parse(table: &str, schema: &SchemaRef, filters: &[String]) -> Result<Self> {
        let filters = filters
            .iter()
            .map(|f| match parse_condition(table, schema, f) {
                Ok(c) => Ok(Filter::Literal(c)),
                // When neither form accepts it, an unknown column and an
                // unquoted text literal read better in the literal form's words.
                Err(literal) => compile_filter(f, schema)
                    .map(Filter::Expr)
                    .map_err(|sql| if reads_better(&literal) { literal } else { sql }),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Predicate { filters })
    }

    /// Which rows of `batch` match.
    pub fn eval(&self, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
        let mut mask: Option<BooleanArray> = None;
        for f in &self.filters {
            let m = match f {
                Filter::Literal(c) => c.eval(batch)?,
                Filter::Expr(e) => e.evaluate(batch)?.as_boolean().clone(),
            };
            mask = Some(match mask {
                Some(prev) => arrow_arith::boolean::and(&prev, &m)?,
                None => m,
            });
        }
        // Null comparisons count as "no match".
        Ok(match mask {
            Some(m) if m.null_count() > 0 => arrow_select::filter::prep_null_mask_filter(&m),
            Some(m) => m,
            None => BooleanArray::from(vec![true; batch.num_rows()]),
        })
    }

    fn filter(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        filter_record_batch(batch, &self.eval(batch)?)
    }
}

/// Whether the literal form's error says more than SQL's: an unknown
/// column that is a plain name (not some expression the literal form cut at
/// its operator), or text compared with an unquoted word (`Symbol == AAPL`).
fn reads_better(e: &EngineError) -> bool {
    match e {
        EngineError::ColumnNotFound { column, .. } => {
            column.chars().all(|c| c.is_alphanumeric() || c == '_')
        }
        EngineError::InvalidSpec { reason, .. } => reason.contains(UNQUOTED_TEXT),
        _ => false,
    }
}

/// What the literal form says of text compared with an unquoted word.
const UNQUOTED_TEXT: &str = "is text: quote the literal";

impl Condition {
    fn eval(&self, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
        let lhs = batch.column(self.column);
        let rhs = Scalar::new(self.literal.clone());
        match self.op {
            CmpOp::Eq => arrow_ord::cmp::eq(lhs, &rhs),
            CmpOp::Ne => arrow_ord::cmp::neq(lhs, &rhs),
            CmpOp::Lt => arrow_ord::cmp::lt(lhs, &rhs),
            CmpOp::Le => arrow_ord::cmp::lt_eq(lhs, &rhs),
            CmpOp::Gt => arrow_ord::cmp::gt(lhs, &rhs),
            CmpOp::Ge => arrow_ord::cmp::gt_eq(lhs, &rhs),
        }
    }
}

/// Compiles a filter as a SQL expression; it must be boolean and stable
/// (a filter is evaluated again when rows change, so it cannot draw random
/// numbers: compute those with `update` first).
fn compile_filter(spec: &str, schema: &SchemaRef) -> Result<CompiledExpr> {
    let e = expr::compile("filter", spec, spec, schema)?;
    let bad = |reason: String| EngineError::InvalidSpec {
        what: "filter".to_string(),
        spec: spec.to_string(),
        reason,
    };
    if e.data_type != DataType::Boolean {
        return Err(bad(format!(
            "a filter must be true or false, this one is {}",
            e.data_type
        )));
    }
    if e.volatile {
        return Err(bad(
            "a filter is evaluated again when rows change, so it cannot call a volatile \
             function; compute the value with `update` first"
                .to_string(),
        ));
    }
    Ok(e)
}

fn parse_condition(table: &str, schema: &SchemaRef, spec: &str) -> Result<Condition> {
    let bad = |reason: String| EngineError::InvalidSpec {
        what: "filter".to_string(),
        spec: spec.to_string(),
        reason,
    };
    const OPS: [(&str, CmpOp); 7] = [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
        ("=", CmpOp::Eq),
    ];
    let (pos, tok, op) = OPS
        .iter()
        .filter_map(|(tok, op)| spec.find(tok).map(|p| (p, *tok, *op)))
        .min_by_key(|(p, tok, _)| (*p, usize::MAX - tok.len()))
        .ok_or_else(|| {
            bad("expected `Column <op> literal` with op one of == != < <= > >=".to_string())
        })?;
    let name = spec[..pos].trim();
    let lit = spec[pos + tok.len()..].trim();
    if name.is_empty() || lit.is_empty() {
        return Err(bad("expected `Column <op> literal`".to_string()));
    }
    let column = column_index(table, schema, name)?;
    let dt = schema.field(column).data_type();
    let quoted = ['"', '\'', '`']
        .iter()
        .find(|q| lit.len() >= 2 && lit.starts_with(**q) && lit.ends_with(**q))
        .map(|_| &lit[1..lit.len() - 1]);
    let is_text = matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let text = match (is_text, quoted) {
        (true, Some(s)) => s,
        (true, None) => {
            return Err(bad(format!(
                "column `{name}` {UNQUOTED_TEXT}, e.g. `{name} == `{lit}``"
            )));
        }
        (false, Some(_))
            if !matches!(
                dt,
                DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
            ) =>
        {
            return Err(bad(format!(
                "column `{name}` has type {dt}: the literal must not be quoted"
            )));
        }
        (false, Some(s)) => s,
        (false, None) => lit,
    };
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    let literal = arrow_cast::cast_with_options(&StringArray::from(vec![text]), dt, &opts)
        .map_err(|e| {
            bad(format!(
                "literal `{text}` does not fit column `{name}` of type {dt}: {e}"
            ))
        })?;
    if literal.null_count() > 0 {
        return Err(bad(format!(
            "literal `{text}` does not fit column `{name}` of type {dt}"
        )));
    }
    Ok(Condition {
        column,
        op,
        literal,
    })
}

impl Table {
    /// Keeps rows matching every filter, e.g. `["Qty > 5", "Symbol == `AAPL`"]`
    /// or `["Price > 100 AND Symbol IN ('AAPL', 'TSLA')"]`.
    ///
    /// A filter is `Column <op> literal` (op one of `== != < <= > >=`, text
    /// quoted with `"`, `'` or backticks) or any boolean DataFusion SQL
    /// expression. A row whose filter is null never matches. Stateless: the result keeps its input's row
    /// keys and, for a blink input, is itself blink.
    pub fn where_<I, S>(&self, filters: I) -> Result<Table>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters = strings(filters);
        self.derive(|parent, _| {
            let predicate = Arc::new(Predicate::parse(&parent.name, &parent.schema, &filters)?);
            let name = format!("{}.where({})", parent.name, filters.join(", "));
            let len = {
                let all = parent
                    .version
                    .materialize()
                    .map_err(|e| EngineError::arrow(&name, e))?;
                predicate
                    .eval(&all)
                    .map_err(|e| EngineError::arrow(&name, e))?
                    .true_count()
            };
            let op = WhereOp {
                name: name.clone(),
                predicate: predicate.clone(),
                len,
                version: Arc::new(WhereVersion {
                    parent: parent.version.clone(),
                    predicate,
                    len,
                }),
            };
            Ok(NodeSpec {
                name,
                schema: parent.schema.clone(),
                blink: parent.blink,
                add_only: parent.add_only,
                parents: vec![parent.id],
                op: Box::new(op),
            })
        })
    }
}

struct WhereOp {
    name: String,
    predicate: Arc<Predicate>,
    len: usize,
    version: VersionRef,
}

/// Keeps the rows of `batch`/`keys` where `mask` is set.
fn select(
    batch: &RecordBatch,
    keys: &RowKeys,
    mask: &BooleanArray,
) -> Result<(RecordBatch, RowKeys), ArrowError> {
    if mask.true_count() == keys.len() {
        // Every row stays: a range of keys stays a range.
        return Ok((batch.clone(), keys.clone()));
    }
    let kept = keys
        .iter_keys()
        .zip(mask.values().iter())
        .filter(|(_, m)| *m)
        .map(|(k, _)| k)
        .collect();
    Ok((filter_record_batch(batch, mask)?, kept))
}

/// `a`'s keys, then `b`'s.
fn chain(a: RowKeys, b: RowKeys) -> RowKeys {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a,
        (true, false) => b,
        (false, false) => a.iter_keys().chain(b.iter_keys()).collect(),
    }
}

impl Operator for WhereOp {
    fn process(&mut self, cycle: u64, inputs: &[Input<'_>]) -> Result<Option<Update>> {
        let input = &inputs[0];
        let Some(u) = input.update else {
            return Ok(None);
        };
        let err = |e| EngineError::arrow(&self.name, e);
        let mut out = Update::empty(&u.added.schema(), cycle);
        let (added, added_keys) = select(
            &u.added,
            &u.added_keys,
            &self.predicate.eval(&u.added).map_err(err)?,
        )
        .map_err(err)?;
        let (removed, removed_keys) = select(
            &u.removed,
            &u.removed_keys,
            &self.predicate.eval(&u.removed).map_err(err)?,
        )
        .map_err(err)?;
        let was = self.predicate.eval(&u.modified_prev).map_err(err)?;
        let is = self.predicate.eval(&u.modified).map_err(err)?;
        let both = arrow_arith::boolean::and(&was, &is).map_err(err)?;
        let only_was = arrow_arith::boolean::and_not(&was, &is).map_err(err)?;
        let only_is = arrow_arith::boolean::and_not(&is, &was).map_err(err)?;
        let (m_new, m_keys) = select(&u.modified, &u.modified_keys, &both).map_err(err)?;
        let m_prev = filter_record_batch(&u.modified_prev, &both).map_err(err)?;
        let (gone, gone_keys) =
            select(&u.modified_prev, &u.modified_keys, &only_was).map_err(err)?;
        let (came, came_keys) = select(&u.modified, &u.modified_keys, &only_is).map_err(err)?;
        let schema = u.added.schema();
        out.added = crate::version::concat(&schema, &[added, came]).map_err(err)?;
        out.added_keys = chain(added_keys, came_keys);
        out.removed = crate::version::concat(&schema, &[removed, gone]).map_err(err)?;
        out.removed_keys = chain(removed_keys, gone_keys);
        out.modified = m_new;
        out.modified_prev = m_prev;
        out.modified_keys = m_keys;
        self.len = self.len + out.added_keys.len() - out.removed_keys.len();
        self.version = Arc::new(WhereVersion {
            parent: input.version.clone(),
            predicate: self.predicate.clone(),
            len: self.len,
        });
        Ok(Some(out))
    }

    fn version(&self) -> VersionRef {
        self.version.clone()
    }
}

struct WhereVersion {
    parent: VersionRef,
    predicate: Arc<Predicate>,
    len: usize,
}

impl Version for WhereVersion {
    fn schema(&self) -> SchemaRef {
        self.parent.schema()
    }

    fn num_rows(&self) -> usize {
        self.len
    }

    fn keys(&self) -> Vec<RowKey> {
        let keys = self.parent.keys();
        match self
            .parent
            .materialize()
            .and_then(|b| self.predicate.eval(&b))
        {
            Ok(mask) => keys
                .into_iter()
                .zip(mask.values().iter())
                .filter(|(_, m)| *m)
                .map(|(k, _)| k)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn rows(&self, keys: &[RowKey]) -> Result<RecordBatch, ArrowError> {
        self.parent.rows(keys)
    }

    fn materialize(&self) -> Result<RecordBatch, ArrowError> {
        self.predicate.filter(&self.parent.materialize()?)
    }
}
