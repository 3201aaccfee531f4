//! `[[derived]]`: a table made from another by one engine operator.

use std::path::Path;

use toml::Table as TomlTable;

use super::values::{At, entry_name, join, string, strings, table};
use crate::pipeline::PipelineError;
use crate::pipeline::model::{Aggregation, DerivedTable, Operation};

pub(super) fn derived(file: &Path, t: &TomlTable) -> Result<DerivedTable, PipelineError> {
    let name = entry_name(file, t, "derived")?;
    let at = At {
        file,
        table: Some(&name),
    };
    let ops = [
        "last_by",
        "first_by",
        "natural_join",
        "agg_by",
        "where",
        "view",
        "update",
        "select",
    ];
    let mut allowed = vec!["name", "from"];
    allowed.extend(ops);
    at.only("", t, &allowed)?;
    let from = string(
        &at,
        "from",
        t.get("from")
            .ok_or_else(|| at.err("from", "missing: the table this one is made from"))?,
    )?;
    let given: Vec<&&str> = ops.iter().filter(|o| t.contains_key(**o)).collect();
    let op = match given.as_slice() {
        [one] => **one,
        [] => return Err(at.err("", format!("needs one operation: {}", ops.join(", ")))),
        many => {
            return Err(at.err(
                "",
                format!(
                    "has {} operations ({}); give one per derived table and chain them by name",
                    many.len(),
                    many.iter().map(|s| **s).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    };
    let v = &t[op];
    let operation = match op {
        "last_by" => Operation::LastBy(strings(&at, op, v)?),
        "first_by" => Operation::FirstBy(strings(&at, op, v)?),
        "where" => Operation::Where(strings(&at, op, v)?),
        "view" => Operation::View(strings(&at, op, v)?),
        "update" => Operation::Update(strings(&at, op, v)?),
        "select" => Operation::Select(strings(&at, op, v)?),
        "natural_join" => {
            let j = table(&at, op, v)?;
            at.only(op, j, &["right", "on", "columns"])?;
            let get = |k: &str| j.get(k).ok_or_else(|| at.err(&join(op, k), "missing"));
            Operation::NaturalJoin {
                right: string(&at, "natural_join.right", get("right")?)?,
                on: strings(&at, "natural_join.on", get("on")?)?,
                columns: strings(&at, "natural_join.columns", get("columns")?)?,
            }
        }
        _ => {
            let a = table(&at, op, v)?;
            at.only(op, a, &["keys", "aggs"])?;
            let keys = a
                .get("keys")
                .map(|k| strings(&at, "agg_by.keys", k))
                .transpose()?
                .unwrap_or_default();
            let aggs = strings(
                &at,
                "agg_by.aggs",
                a.get("aggs")
                    .ok_or_else(|| at.err("agg_by.aggs", "missing"))?,
            )?;
            let aggs = aggs
                .iter()
                .map(|s| aggregation(&at, "agg_by.aggs", s))
                .collect::<Result<_, _>>()?;
            Operation::AggBy { keys, aggs }
        }
    };
    Ok(DerivedTable {
        name,
        from,
        operation,
    })
}

/// `Sum(Shares = Qty)`, `WSum(Qty, Notional = LastPrice)`, `Count(N)`, …
pub(super) fn aggregation(
    at: &At<'_>,
    key: &str,
    text: &str,
) -> Result<Aggregation, PipelineError> {
    let kinds = ["Sum", "WSum", "Count", "Min", "Max", "Avg", "First", "Last"];
    let bad = || {
        at.expected_text(
            key,
            "e.g. \"Sum(Shares = Qty)\" or \"WSum(Qty, Notional = LastPrice)\"",
            text,
        )
    };
    let (kind_name, rest) = text.split_once('(').ok_or_else(bad)?;
    let inner = rest.trim().strip_suffix(')').ok_or_else(bad)?;
    let kind_name = kind_name.trim();
    let canonical = kinds
        .iter()
        .find(|k| k.eq_ignore_ascii_case(kind_name))
        .ok_or_else(|| {
            let hint = topictable_sdk::config::closest(kind_name, kinds)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            at.err(
                key,
                format!(
                    "unknown aggregation `{kind_name}`{hint}; known: {}",
                    kinds.join(", ")
                ),
            )
        })?;
    let (weight, pair) = if *canonical == "WSum" {
        let (w, p) = inner.split_once(',').ok_or_else(bad)?;
        (Some(w.trim().to_string()), p.trim().to_string())
    } else {
        (None, inner.trim().to_string())
    };
    Ok(Aggregation {
        kind: canonical.to_string(),
        weight,
        pair,
    })
}
