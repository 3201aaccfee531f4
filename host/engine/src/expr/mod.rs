//! Formulas: DataFusion SQL expressions compiled against a table's schema.
//!
//! `update`, `select` and `where` take expressions such as
//! `Notional = Qty * LastPrice` or `Price > 100 AND Symbol IN ('AAPL')`. Each
//! is parsed by DataFusion's SQL parser (identifiers keep their case), type
//! checked and coerced against the input schema, and planned into a
//! `PhysicalExpr` that runs vectorised on the table's own Arrow arrays. All of
//! that happens when the table is built, so a pipeline's formulas are checked
//! by `topictable validate` before anything connects.
//!
//! Deephaven's forms are accepted where they do not clash with SQL: `==`,
//! text in backticks (`` `AAPL` ``), the row variables `i`, `ii` and `k`,
//! and `randomInt`, `randomDouble` and `now()`.

mod functions;
mod row_vars;

use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, SchemaRef};
use datafusion::common::{DFSchema, DataFusionError};
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, Volatility};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::{EngineError, Result};

pub(crate) use functions::register as register_functions;
pub(crate) use row_vars::RowVars;

/// The session formulas are planned in: identifiers keep their case, and
/// Deephaven's functions are registered. Built once per process.
pub(crate) fn session() -> &'static SessionContext {
    static SESSION: OnceLock<SessionContext> = OnceLock::new();
    SESSION.get_or_init(|| {
        let config = SessionConfig::new()
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false);
        let ctx = SessionContext::new_with_config(config);
        functions::register(&ctx);
        ctx
    })
}

/// One expression, planned against a fixed input schema.
#[derive(Debug, Clone)]
pub(crate) struct CompiledExpr {
    /// The expression as the user wrote it.
    pub text: String,
    /// The plan, reading columns of the input schema by position.
    pub physical: Arc<dyn PhysicalExpr>,
    /// The type it evaluates to.
    pub data_type: DataType,
    /// Whether it may be null.
    pub nullable: bool,
    /// Whether it calls a volatile function (`randomInt`, `now`, ...): such
    /// a value is drawn once, when its row is added.
    pub volatile: bool,
    /// The input columns it reads (indices into the input schema).
    pub columns: Vec<usize>,
}

impl CompiledExpr {
    /// The input column this expression merely repeats, if it is a bare column.
    pub fn bare_column(&self) -> Option<usize> {
        self.physical
            .downcast_ref::<datafusion::physical_expr::expressions::Column>()
            .map(|c| c.index())
    }

    /// Evaluates the expression on `batch` (of the input schema), as an array
    /// of [`Self::data_type`] with one value per row.
    pub fn evaluate(&self, batch: &RecordBatch) -> std::result::Result<ArrayRef, ArrowError> {
        let value = self
            .physical
            .evaluate(batch)
            .map_err(|e| ArrowError::ComputeError(format!("`{}`: {e}", self.text)))?;
        let array = value
            .into_array(batch.num_rows())
            .map_err(|e| ArrowError::ComputeError(format!("`{}`: {e}", self.text)))?;
        if array.data_type() == &self.data_type {
            Ok(array)
        } else {
            arrow_cast::cast(&array, &self.data_type)
        }
    }
}

/// Why a formula was refused, already worded for the user.
fn refuse(what: &str, spec: &str, reason: String) -> EngineError {
    EngineError::InvalidSpec {
        what: what.to_string(),
        spec: spec.to_string(),
        reason,
    }
}

/// Compiles `text` against `schema`. `what` names the kind of spec for
/// errors ("formula", "filter"), `spec` is the whole spec as written.
pub(crate) fn compile(
    what: &str,
    spec: &str,
    text: &str,
    schema: &SchemaRef,
) -> Result<CompiledExpr> {
    let sql = deephaven_to_sql(text);
    let df_schema =
        DFSchema::try_from(schema.as_ref().clone()).map_err(|e| refuse(what, spec, plain(&e)))?;
    let ctx = session();
    let expr = ctx
        .parse_sql_expr(&sql, &df_schema)
        .map_err(|e| refuse(what, spec, located(&e, spec, text)))?;
    if let Some(agg) = aggregate_call(&expr) {
        return Err(refuse(
            what,
            spec,
            format!(
                "`{agg}` is an aggregate; formulas work row by row (use agg_by, or SQL with GROUP BY)"
            ),
        ));
    }
    // Coerce then simplify, as DataFusion's planner does: some functions
    // (`coalesce`, `nvl`, ...) only run in their simplified form.
    let df_schema = Arc::new(df_schema);
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(df_schema.clone())
            .build(),
    );
    let expr = simplifier
        .coerce(expr, &df_schema)
        .and_then(|e| simplifier.simplify(e))
        .map_err(|e| refuse(what, spec, located(&e, spec, text)))?;
    let volatile = is_volatile(&expr);
    let mut columns: Vec<usize> = expr
        .column_refs()
        .iter()
        .filter_map(|c| schema.index_of(&c.name).ok())
        .collect();
    columns.sort_unstable();
    let physical = ctx
        .create_physical_expr(expr, &df_schema)
        .map_err(|e| refuse(what, spec, located(&e, spec, text)))?;
    let data_type = physical
        .data_type(schema)
        .map_err(|e| refuse(what, spec, plain(&e)))?;
    // View types come out of some string functions; the rest of the host
    // (encoders, sinks) works on plain Utf8/Binary, so formulas give those.
    let data_type = match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        other => other,
    };
    let nullable = physical.nullable(schema).unwrap_or(true);
    Ok(CompiledExpr {
        text: text.to_string(),
        physical,
        data_type,
        nullable,
        volatile,
        columns,
    })
}

/// Whether the expression calls a function whose value changes between calls.
fn is_volatile(expr: &Expr) -> bool {
    let mut volatile = false;
    let _ = expr.apply(|e| {
        if let Expr::ScalarFunction(f) = e
            && f.func.signature().volatility == Volatility::Volatile
        {
            volatile = true;
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    volatile
}

/// The name of an aggregate or window function the expression calls, if any.
fn aggregate_call(expr: &Expr) -> Option<String> {
    let mut found = None;
    let _ = expr.apply(|e| {
        match e {
            Expr::AggregateFunction(f) => found = Some(f.func.name().to_string()),
            Expr::WindowFunction(f) => found = Some(f.fun.name().to_string()),
            _ => {}
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}

use datafusion::common::tree_node::TreeNode;

/// DataFusion's message without its error-kind prefixes.
pub(crate) fn plain(e: &DataFusionError) -> String {
    let e = e.find_root();
    let text = match e {
        DataFusionError::SQL(inner, _) => inner.to_string(),
        DataFusionError::Plan(s)
        | DataFusionError::Execution(s)
        | DataFusionError::NotImplemented(s) => s.clone(),
        DataFusionError::SchemaError(inner, _) => inner.to_string(),
        other => other.to_string(),
    };
    text.trim_start_matches("sql parser error: ").to_string()
}

/// The message, with where in the formula `spec` (whose expression is
/// `text`) it points to, as `at column N` counted in characters from 1.
fn located(e: &DataFusionError, spec: &str, text: &str) -> String {
    let message = plain(e);
    let offset = spec
        .strip_suffix(text)
        .map_or(0, |before| before.chars().count());
    if let Some((head, tail)) = message.split_once("Column: ") {
        // sqlparser's "at Line: 1, Column: N", counted in `text`.
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>() {
            return format!("{head}Column: {}{}", n + offset, &tail[digits.len()..]);
        }
        return message;
    }
    if let Some(span) = e.diagnostic().and_then(|d| d.span) {
        return format!(
            "{message} (at column {})",
            span.start.column as usize + offset
        );
    }
    if let Some(name) = unknown_field(&message)
        && let Some(pos) = find_identifier(text, &name)
    {
        let pos = text[..pos].chars().count();
        return format!("{message} (at column {})", pos + 1 + offset);
    }
    message
}

/// The field a "No field named X" error names.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("No field named ").nth(1)?;
    let name: String = rest
        .trim_start_matches('"')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Byte offset of `name` in `text` as a whole identifier.
fn find_identifier(text: &str, name: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Rewrites Deephaven's text literals in backticks as SQL strings
/// (`` `AAPL` `` becomes `'AAPL'`); everything else is SQL already.
fn deephaven_to_sql(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '`') => {
                quote = Some('`');
                out.push('\'');
            }
            (Some('`'), '`') => {
                quote = None;
                out.push('\'');
            }
            (Some('`'), '\'') => out.push_str("''"),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (Some(q), c) if q == c => {
                quote = None;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `Name = expression` (or a bare `Name`, which repeats that column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    /// The output column.
    pub output: String,
    /// The expression text.
    pub expr: String,
}

/// Parses `"Out = expression"`; a bare column name is `Out = Out`.
pub(crate) fn parse_assignment(spec: &str) -> Result<Assignment> {
    let bad = |reason: &str| refuse("formula", spec, reason.to_string());
    let eq = spec.char_indices().find(|&(i, c)| {
        c == '=' && !spec[..i].ends_with(['<', '>', '!', '=']) && !spec[i + 1..].starts_with('=')
    });
    let (name, expr) = match eq {
        Some((i, _)) => (spec[..i].trim(), spec[i + 1..].trim()),
        None => (spec.trim(), spec.trim()),
    };
    let quoted = name.strip_prefix('"').and_then(|n| n.strip_suffix('"'));
    let name = quoted.unwrap_or(name);
    if name.is_empty() || expr.is_empty() {
        return Err(bad("expected `Name = expression`"));
    }
    if eq.is_some()
        && quoted.is_none()
        && name.contains(|c: char| !(c.is_alphanumeric() || c == '_'))
    {
        return Err(bad(
            "the left of `=` must be a column name (letters, digits and `_`, or in double quotes)",
        ));
    }
    Ok(Assignment {
        output: name.to_string(),
        expr: expr.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("Symbol", DataType::Utf8, false),
            Field::new("Qty", DataType::Int32, false),
            Field::new("Price", DataType::Float64, true),
        ]))
    }

    #[test]
    fn assignments() {
        let a = parse_assignment("Notional = Qty * Price").unwrap();
        assert_eq!(
            (a.output.as_str(), a.expr.as_str()),
            ("Notional", "Qty * Price")
        );
        let a = parse_assignment("Big = Qty >= 10").unwrap();
        assert_eq!(a.expr, "Qty >= 10");
        let a = parse_assignment("Same = Qty == 10").unwrap();
        assert_eq!(a.expr, "Qty == 10");
        assert_eq!(parse_assignment("Qty").unwrap().expr, "Qty");
        assert!(parse_assignment("A B = 1").is_err());
        assert!(parse_assignment(" = 1").is_err());
        assert_eq!(parse_assignment("\"My Col\" = 1").unwrap().output, "My Col");
    }

    #[test]
    fn backticks_become_sql_strings() {
        assert_eq!(deephaven_to_sql("Symbol == `AAPL`"), "Symbol == 'AAPL'");
        assert_eq!(deephaven_to_sql("S = `it's`"), "S = 'it''s'");
        assert_eq!(deephaven_to_sql("S = 'a`b'"), "S = 'a`b'");
    }

    #[test]
    fn types_come_from_the_schema_and_identifiers_keep_their_case() {
        let e = compile("formula", "x", "Qty * Price", &schema()).unwrap();
        assert_eq!(e.data_type, DataType::Float64);
        assert_eq!(e.columns, vec![1, 2]);
        assert!(!e.volatile);
        let e = compile("formula", "x", "Qty", &schema()).unwrap();
        assert_eq!(e.bare_column(), Some(1));
    }

    #[test]
    fn an_unknown_column_is_named_with_its_position() {
        let err = compile("formula", "N = Qty * Prise", "Qty * Prise", &schema())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Prise"), "{err}");
        assert!(err.contains("at column 11"), "{err}");
    }

    #[test]
    fn a_type_error_is_refused() {
        let err = compile("formula", "x", "Symbol * 2", &schema())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Utf8"), "{err}");
    }

    #[test]
    fn a_syntax_error_names_the_position() {
        let err = compile("formula", "x", "Qty * * 2", &schema())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Column"), "{err}");
    }

    #[test]
    fn aggregates_are_refused() {
        let err = compile("formula", "x", "sum(Qty)", &schema())
            .unwrap_err()
            .to_string();
        assert!(err.contains("aggregate"), "{err}");
    }

    #[test]
    fn random_functions_are_volatile() {
        let e = compile("formula", "x", "randomInt(1, 5)", &schema()).unwrap();
        assert!(e.volatile);
        assert_eq!(e.data_type, DataType::Int32);
    }
}
