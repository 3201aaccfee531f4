//! The readers every section of a pipeline file shares: where an error is
//! (`At`), one reader per kind of value, and the "expected X, found Y" errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::{Table as TomlTable, Value};
use topictable_engine::TableType;

use crate::ingest::KeyOrValueSpec;
use crate::pipeline::PipelineError;

/// Where in the file we are, for error messages.
#[derive(Clone)]
pub(super) struct At<'a> {
    pub(super) file: &'a Path,
    pub(super) table: Option<&'a str>,
}

impl At<'_> {
    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> PipelineError {
        PipelineError {
            file: self.file.to_path_buf(),
            table: self.table.map(str::to_string),
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }

    /// A value of the wrong kind at `key`: "expected WHAT, found a list".
    pub(super) fn expected(&self, key: &str, what: &str, found: &Value) -> PipelineError {
        self.err(key, format!("expected {what}, found {}", kind(found)))
    }

    /// A string at `key` that is none of the choices: "expected WHAT, found \"TEXT\"".
    pub(super) fn expected_text(&self, key: &str, what: &str, found: &str) -> PipelineError {
        self.err(key, format!("expected {what}, found \"{found}\""))
    }

    /// Rejects keys not in `allowed`, suggesting the closest.
    pub(super) fn only(
        &self,
        prefix: &str,
        table: &TomlTable,
        allowed: &[&str],
    ) -> Result<(), PipelineError> {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = topictable_sdk::config::closest(key, allowed.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(self.err(
                    &join(prefix, key),
                    format!("unknown key{hint} (known keys: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

pub(super) fn string(at: &At<'_>, key: &str, v: &Value) -> Result<String, PipelineError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| at.expected(key, "a string", v))
}

pub(super) fn strings(at: &At<'_>, key: &str, v: &Value) -> Result<Vec<String>, PipelineError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| string(at, key, i)).collect(),
        other => Err(at.expected(key, "a list of strings", other)),
    }
}

pub(super) fn table<'v>(
    at: &At<'_>,
    key: &str,
    v: &'v Value,
) -> Result<&'v TomlTable, PipelineError> {
    v.as_table().ok_or_else(|| at.expected(key, "a table", v))
}

/// `100ms`, `1.5s`, `2m`, `1h`, or ISO-8601 like Deephaven's `PT0.1S` / `PT00:00:00.1`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Some(iso) = t.strip_prefix("PT").or_else(|| t.strip_prefix("pt")) {
        if let Some((h, rest)) = iso.split_once(':') {
            let (m, s) = rest.split_once(':').ok_or("expected PThh:mm:ss")?;
            let secs = h.parse::<f64>().map_err(|e| e.to_string())? * 3600.0
                + m.parse::<f64>().map_err(|e| e.to_string())? * 60.0
                + s.parse::<f64>().map_err(|e| e.to_string())?;
            return Ok(Duration::from_secs_f64(secs));
        }
        let secs = iso
            .strip_suffix(['S', 's'])
            .ok_or("expected an ISO-8601 duration like PT0.1S")?;
        return secs
            .parse::<f64>()
            .map(Duration::from_secs_f64)
            .map_err(|e| e.to_string());
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or("a duration needs a unit (ms, s, m, h)")?;
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let secs = match unit.trim() {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit `{other}` (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

pub(super) fn duration(at: &At<'_>, key: &str, v: &Value) -> Result<Duration, PipelineError> {
    parse_duration(&string(at, key, v)?)
        .map_err(|e| at.err(key, format!("expected a duration like \"100ms\": {e}")))
}

pub(super) fn rfc3339_millis(at: &At<'_>, key: &str, v: &Value) -> Result<i64, PipelineError> {
    let text = match v {
        Value::Datetime(d) => d.to_string(),
        other => string(at, key, other)?,
    };
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            at.err(
                key,
                format!("expected an RFC 3339 time like \"2026-11-23T10:00:00Z\": {e}"),
            )
        })
}

pub(super) fn table_type(at: &At<'_>, key: &str, v: &Value) -> Result<TableType, PipelineError> {
    let what = "\"append\", \"blink\", \"ring(N)\" or { ring = N }";
    match v {
        Value::String(s) if s == "append" => Ok(TableType::Append),
        Value::String(s) if s == "blink" => Ok(TableType::Blink),
        Value::String(s) => s
            .strip_prefix("ring(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(TableType::Ring)
            .ok_or_else(|| at.expected_text(key, what, s)),
        Value::Table(t) => match t.get("ring").and_then(Value::as_integer) {
            Some(n) if n > 0 && t.len() == 1 => Ok(TableType::Ring(n as usize)),
            _ => Err(at.err(key, format!("expected {what}"))),
        },
        other => Err(at.expected(key, what, other)),
    }
}

/// `"ignore"`, or `{ format = "simple", <codec config…> }`.
pub(super) fn value_spec(
    at: &At<'_>,
    key: &str,
    v: &Value,
) -> Result<KeyOrValueSpec, PipelineError> {
    match v {
        Value::String(s) if s == "ignore" => Ok(KeyOrValueSpec::Ignore),
        Value::Table(t) => {
            let format = t
                .get("format")
                .ok_or_else(|| at.err(key, "missing `format` (e.g. format = \"simple\")"))?;
            let format = string(at, &join(key, "format"), format)?;
            let mut config = t.clone();
            config.remove("format");
            let json = serde_json::to_value(&config).map_err(|e| at.err(key, e.to_string()))?;
            Ok(KeyOrValueSpec::Codec {
                format,
                config: json,
            })
        }
        other => Err(at.expected(key, "\"ignore\" or a table with `format`", other)),
    }
}

/// The `key` or `value` spec of an entry (`key` names which): `"ignore"` when absent.
pub(super) fn side_spec(
    at: &At<'_>,
    t: &TomlTable,
    key: &str,
) -> Result<KeyOrValueSpec, PipelineError> {
    t.get(key)
        .map(|v| value_spec(at, key, v))
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(super) fn properties(
    at: &At<'_>,
    key: &str,
    v: &Value,
) -> Result<BTreeMap<String, String>, PipelineError> {
    table(at, key, v)?
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(at.expected(&join(key, k), "a string, number or boolean", other));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// The `name` of a `[[kind]]` entry, which every entry must have.
pub(super) fn entry_name(file: &Path, t: &TomlTable, kind: &str) -> Result<String, PipelineError> {
    let anon = At { file, table: None };
    let name = t
        .get("name")
        .ok_or_else(|| anon.err(kind, format!("every [[{kind}]] needs a `name`")))?;
    string(&anon, "name", name)
}
