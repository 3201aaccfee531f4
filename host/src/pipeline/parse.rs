//! Reads a pipeline file. Every key is checked by hand, so a mistake names
//! the file, the table, the key and what was expected, and an unknown key
//! gets a "did you mean".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table as TomlTable, Value};
use topictable_engine::TableType;

use super::PipelineError;
use super::model::{
    Aggregation, DerivedTable, Operation, Pipeline, SinkDecl, SinkTarget, TimeTableSource,
};
use crate::ingest::{
    ConsumeSpec, ConsumerMode, DeadLetterRetry, HeaderColumns, HeaderType, InitialOffsets, OnError,
    OnRevoke, Partitions, StandardColumns, StartAt, ValueSpec, check_start,
};

/// Where in the file we are, for error messages.
#[derive(Clone)]
struct At<'a> {
    file: &'a Path,
    table: Option<&'a str>,
}

impl At<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> PipelineError {
        PipelineError {
            file: self.file.to_path_buf(),
            table: self.table.map(str::to_string),
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }

    /// Rejects keys not in `allowed`, suggesting the closest.
    fn only(&self, prefix: &str, table: &TomlTable, allowed: &[&str]) -> Result<(), PipelineError> {
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

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn kind(v: &Value) -> &'static str {
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

fn string(at: &At<'_>, key: &str, v: &Value) -> Result<String, PipelineError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| at.err(key, format!("expected a string, found {}", kind(v))))
}

fn strings(at: &At<'_>, key: &str, v: &Value) -> Result<Vec<String>, PipelineError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| string(at, key, i)).collect(),
        other => Err(at.err(
            key,
            format!("expected a list of strings, found {}", kind(other)),
        )),
    }
}

fn table<'v>(at: &At<'_>, key: &str, v: &'v Value) -> Result<&'v TomlTable, PipelineError> {
    v.as_table()
        .ok_or_else(|| at.err(key, format!("expected a table, found {}", kind(v))))
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

fn duration(at: &At<'_>, key: &str, v: &Value) -> Result<Duration, PipelineError> {
    parse_duration(&string(at, key, v)?)
        .map_err(|e| at.err(key, format!("expected a duration like \"100ms\": {e}")))
}

fn table_type(at: &At<'_>, key: &str, v: &Value) -> Result<TableType, PipelineError> {
    let expected = "expected \"append\", \"blink\", \"ring(N)\" or { ring = N }";
    match v {
        Value::String(s) if s == "append" => Ok(TableType::Append),
        Value::String(s) if s == "blink" => Ok(TableType::Blink),
        Value::String(s) => s
            .strip_prefix("ring(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(TableType::Ring)
            .ok_or_else(|| at.err(key, format!("{expected}, found \"{s}\""))),
        Value::Table(t) => match t.get("ring").and_then(Value::as_integer) {
            Some(n) if n > 0 && t.len() == 1 => Ok(TableType::Ring(n as usize)),
            _ => Err(at.err(key, expected)),
        },
        other => Err(at.err(key, format!("{expected}, found {}", kind(other)))),
    }
}

fn rfc3339_millis(at: &At<'_>, key: &str, v: &Value) -> Result<i64, PipelineError> {
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

fn start_at(at: &At<'_>, key: &str, v: &Value) -> Result<StartAt, PipelineError> {
    match v {
        Value::String(s) => match s.as_str() {
            "committed" => Ok(StartAt::Committed),
            "beginning" | "earliest" => Ok(StartAt::Beginning),
            "end" | "latest" => Ok(StartAt::End),
            other => Err(at.err(
                key,
                format!(
                    "expected \"committed\", \"beginning\", \"end\" or an offset, found \"{other}\""
                ),
            )),
        },
        Value::Integer(o) if *o >= 0 => Ok(StartAt::Offset(*o)),
        Value::Table(t) if t.len() == 1 && t.contains_key("timestamp") => Ok(StartAt::Timestamp(
            rfc3339_millis(at, &join(key, "timestamp"), &t["timestamp"])?,
        )),
        other => Err(at.err(
            key,
            format!(
                "expected \"committed\", \"beginning\", \"end\" or an offset, found {}",
                kind(other)
            ),
        )),
    }
}

fn offsets(at: &At<'_>, v: &Value) -> Result<InitialOffsets, PipelineError> {
    let Value::Table(t) = v else {
        return Ok(InitialOffsets::all(start_at(at, "offsets", v)?));
    };
    if t.contains_key("timestamp") && t.len() == 1 {
        return Ok(InitialOffsets::all(start_at(at, "offsets", v)?));
    }
    let mut out = InitialOffsets::default();
    for (k, value) in t {
        let key = join("offsets", k);
        if k == "default" {
            out.default = start_at(at, &key, value)?;
        } else {
            let p: i32 = k
                .parse()
                .map_err(|_| at.err(&key, "expected a partition number or `default`"))?;
            out.per_partition.insert(p, start_at(at, &key, value)?);
        }
    }
    Ok(out)
}

/// `"ignore"`, or `{ format = "simple", <codec config…> }`.
fn value_spec(at: &At<'_>, key: &str, v: &Value) -> Result<ValueSpec, PipelineError> {
    match v {
        Value::String(s) if s == "ignore" => Ok(ValueSpec::Ignore),
        Value::Table(t) => {
            let format = t
                .get("format")
                .ok_or_else(|| at.err(key, "missing `format` (e.g. format = \"simple\")"))?;
            let format = string(at, &join(key, "format"), format)?;
            let mut config = t.clone();
            config.remove("format");
            let json = serde_json::to_value(&config).map_err(|e| at.err(key, e.to_string()))?;
            Ok(ValueSpec::Codec {
                format,
                config: json,
            })
        }
        other => Err(at.err(
            key,
            format!(
                "expected \"ignore\" or a table with `format`, found {}",
                kind(other)
            ),
        )),
    }
}

fn column_name(
    at: &At<'_>,
    key: &str,
    v: &Value,
    default: &str,
) -> Result<Option<String>, PipelineError> {
    match v {
        Value::Boolean(false) => Ok(None),
        Value::Boolean(true) => Ok(Some(default.to_string())),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(at.err(
            key,
            format!(
                "expected a column name or true/false, found {}",
                kind(other)
            ),
        )),
    }
}

fn columns(at: &At<'_>, v: &Value) -> Result<StandardColumns, PipelineError> {
    let t = table(at, "columns", v)?;
    at.only(
        "columns",
        t,
        &[
            "partition",
            "offset",
            "timestamp",
            "topic",
            "receive_time",
            "key_bytes",
            "value_bytes",
            "headers",
        ],
    )?;
    let mut c = StandardColumns::default();
    let slots: [(&str, &mut Option<String>, &str); 7] = [
        ("partition", &mut c.partition, "KafkaPartition"),
        ("offset", &mut c.offset, "KafkaOffset"),
        ("timestamp", &mut c.timestamp, "KafkaTimestamp"),
        ("topic", &mut c.topic, "KafkaTopic"),
        ("receive_time", &mut c.receive_time, "ReceiveTime"),
        ("key_bytes", &mut c.key_bytes, "KeyBytes"),
        ("value_bytes", &mut c.value_bytes, "ValueBytes"),
    ];
    for (name, slot, default) in slots {
        if let Some(v) = t.get(name) {
            *slot = column_name(at, &join("columns", name), v, default)?;
        }
    }
    if let Some(h) = t.get("headers") {
        c.headers = match h {
            Value::String(s) if s == "all" => HeaderColumns::All("KafkaHeaders".into()),
            Value::Boolean(false) => HeaderColumns::None,
            Value::Table(chosen) => {
                let mut out = Vec::new();
                for (header, spec) in chosen {
                    let key = format!("columns.headers.{header}");
                    let (column, kind_name) = match spec {
                        Value::String(k) => (header.clone(), k.clone()),
                        Value::Table(s) => {
                            at.only(&key, s, &["column", "type"])?;
                            let column = s
                                .get("column")
                                .map(|c| string(at, &join(&key, "column"), c))
                                .transpose()?;
                            let k = s
                                .get("type")
                                .map(|c| string(at, &join(&key, "type"), c))
                                .transpose()?;
                            (
                                column.unwrap_or_else(|| header.clone()),
                                k.unwrap_or_else(|| "string".into()),
                            )
                        }
                        other => {
                            return Err(at.err(
                                &key,
                                format!(
                                    "expected a type or {{ column, type }}, found {}",
                                    kind(other)
                                ),
                            ));
                        }
                    };
                    let header_type = match kind_name.as_str() {
                        "string" => HeaderType::String,
                        "bytes" => HeaderType::Bytes,
                        "int64" => HeaderType::Int64,
                        other => {
                            return Err(at.err(
                                &key,
                                format!("expected type string, bytes or int64, found \"{other}\""),
                            ));
                        }
                    };
                    out.push((header.clone(), column, header_type));
                }
                HeaderColumns::Chosen(out)
            }
            other => {
                return Err(at.err(
                    "columns.headers",
                    format!(
                        "expected \"all\" or a table of headers, found {}",
                        kind(other)
                    ),
                ));
            }
        };
    }
    Ok(c)
}

fn properties(
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
                    return Err(at.err(
                        &join(key, k),
                        format!(
                            "expected a string, number or boolean, found {}",
                            kind(other)
                        ),
                    ));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// The `name` of a `[[kind]]` entry, which every entry must have.
fn entry_name(file: &Path, t: &TomlTable, kind: &str) -> Result<String, PipelineError> {
    let anon = At { file, table: None };
    let name = t
        .get("name")
        .ok_or_else(|| anon.err(kind, format!("every [[{kind}]] needs a `name`")))?;
    string(&anon, "name", name)
}

const SOURCE_KEYS: [&str; 17] = [
    "name",
    "topic",
    "topics",
    "partitions",
    "offsets",
    "mode",
    "type",
    "key",
    "value",
    "columns",
    "on_error",
    "dead_letter_topic",
    "dead_letter_retries",
    "dead_letter_retry_backoff",
    "on_revoke",
    "properties",
    "max_batch",
];

fn source(
    file: &Path,
    t: &TomlTable,
    kafka: &BTreeMap<String, String>,
) -> Result<(String, ConsumeSpec), PipelineError> {
    let name = entry_name(file, t, "table")?;
    let at = At {
        file,
        table: Some(&name),
    };
    at.only("", t, &SOURCE_KEYS)?;
    let mut topics = Vec::new();
    if let Some(v) = t.get("topic") {
        topics.push(string(&at, "topic", v)?);
    }
    if let Some(v) = t.get("topics") {
        topics.extend(strings(&at, "topics", v)?);
    }
    if topics.is_empty() {
        return Err(at.err(
            "topic",
            "missing: give `topic = \"name\"` or `topics = [...]`",
        ));
    }
    let key = t
        .get("key")
        .map(|v| value_spec(&at, "key", v))
        .transpose()?
        .unwrap_or_default();
    let value = t
        .get("value")
        .map(|v| value_spec(&at, "value", v))
        .transpose()?
        .unwrap_or_default();
    if key == ValueSpec::Ignore && value == ValueSpec::Ignore {
        return Err(at.err(
            "value",
            "the key and the value are both ignored; give a `value` (or `key`) spec",
        ));
    }
    let mut spec = ConsumeSpec::new("", &topics[0], key, value);
    spec.topics = topics;
    spec.properties = kafka.clone();
    if let Some(v) = t.get("properties") {
        spec.properties.extend(properties(&at, "properties", v)?);
    }
    if let Some(v) = t.get("partitions") {
        spec.partitions = match v {
            Value::String(s) if s == "all" => Partitions::All,
            Value::Array(items) => Partitions::List(
                items
                    .iter()
                    .map(|i| {
                        i.as_integer()
                            .map(|p| p as i32)
                            .ok_or_else(|| at.err("partitions", "expected partition numbers"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(at.err(
                    "partitions",
                    format!(
                        "expected \"all\" or a list of partitions, found {}",
                        kind(other)
                    ),
                ));
            }
        };
    }
    if let Some(v) = t.get("offsets") {
        spec.offsets = offsets(&at, v)?;
    }
    if let Some(v) = t.get("mode") {
        spec.mode = match string(&at, "mode", v)?.as_str() {
            "assign" => ConsumerMode::Assign,
            "group" => ConsumerMode::Group,
            other => {
                return Err(at.err(
                    "mode",
                    format!("expected \"assign\" or \"group\", found \"{other}\""),
                ));
            }
        };
    }
    if let Some(v) = t.get("type") {
        spec.table_type = table_type(&at, "type", v)?;
    }
    if let Some(v) = t.get("columns") {
        spec.columns = columns(&at, v)?;
    }
    if let Some(v) = t.get("max_batch") {
        spec.max_batch = v
            .as_integer()
            .filter(|n| *n > 0)
            .ok_or_else(|| at.err("max_batch", "expected a positive integer"))?
            as usize;
    }
    let dead_letter_topic = t
        .get("dead_letter_topic")
        .map(|v| string(&at, "dead_letter_topic", v))
        .transpose()?;
    if let Some(v) = t.get("on_error") {
        spec.on_error = match string(&at, "on_error", v)?.as_str() {
            "fail" => OnError::Fail,
            "skip" => OnError::Skip,
            "dead-letter" | "dead_letter" => OnError::DeadLetter {
                topic: dead_letter_topic.clone().ok_or_else(|| {
                    at.err(
                        "dead_letter_topic",
                        "on_error = \"dead-letter\" needs `dead_letter_topic`",
                    )
                })?,
                retry: dead_letter_retry(&at, t)?,
            },
            other => {
                return Err(at.err(
                    "on_error",
                    format!("expected \"fail\", \"skip\" or \"dead-letter\", found \"{other}\""),
                ));
            }
        };
    }
    if let Some(v) = t.get("on_revoke") {
        spec.on_revoke = match string(&at, "on_revoke", v)?.as_str() {
            "remove" => OnRevoke::Remove,
            "keep" => OnRevoke::Keep,
            other => {
                return Err(at.err(
                    "on_revoke",
                    format!("expected \"remove\" or \"keep\", found \"{other}\""),
                ));
            }
        };
    }
    // The consumer's own check, reported at the key it names.
    check_start(&spec).map_err(|e| at.err(e.key, e.message))?;
    Ok((name, spec))
}

/// `dead_letter_retries` and `dead_letter_retry_backoff`.
fn dead_letter_retry(at: &At<'_>, t: &TomlTable) -> Result<DeadLetterRetry, PipelineError> {
    let mut retry = DeadLetterRetry::default();
    if let Some(v) = t.get("dead_letter_retries") {
        retry.max_retries = v
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| at.err("dead_letter_retries", "expected a whole number"))?;
    }
    if let Some(v) = t.get("dead_letter_retry_backoff") {
        retry.backoff = duration(at, "dead_letter_retry_backoff", v)?;
    }
    Ok(retry)
}

/// `Sum(Shares = Qty)`, `WSum(Qty, Notional = LastPrice)`, `Count(N)`, …
fn aggregation(at: &At<'_>, key: &str, text: &str) -> Result<Aggregation, PipelineError> {
    let kinds = ["Sum", "WSum", "Count", "Min", "Max", "Avg", "First", "Last"];
    let bad = || {
        at.err(key, format!("expected e.g. \"Sum(Shares = Qty)\" or \"WSum(Qty, Notional = LastPrice)\", found \"{text}\""))
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

fn derived(file: &Path, t: &TomlTable) -> Result<DerivedTable, PipelineError> {
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

fn time_table(file: &Path, t: &TomlTable) -> Result<TimeTableSource, PipelineError> {
    let name = entry_name(file, t, "time_table")?;
    let at = At {
        file,
        table: Some(&name),
    };
    at.only("", t, &["name", "period", "type"])?;
    let period = duration(
        &at,
        "period",
        t.get("period")
            .ok_or_else(|| at.err("period", "missing (e.g. \"100ms\" or \"PT0.1S\")"))?,
    )?;
    let table_type = t
        .get("type")
        .map(|v| table_type(&at, "type", v))
        .transpose()?
        .unwrap_or(TableType::Append);
    Ok(TimeTableSource {
        name,
        period,
        table_type,
    })
}

/// Parses pipeline text; `file` is only used in error messages.
pub fn parse(file: &Path, text: &str) -> Result<Pipeline, PipelineError> {
    let root = At { file, table: None };
    let mut doc: TomlTable = text
        .parse()
        .map_err(|e: toml::de::Error| root.err("", format!("not valid TOML: {e}")))?;
    super::references::expand(file, &mut doc)?;
    root.only(
        "",
        &doc,
        &["kafka", "engine", "table", "time_table", "derived", "sink"],
    )?;
    let kafka = doc
        .get("kafka")
        .map(|v| properties(&root, "kafka", v))
        .transpose()?
        .unwrap_or_default();
    let mut cycle = Duration::from_millis(100);
    if let Some(e) = doc.get("engine") {
        let e = table(&root, "engine", e)?;
        root.only("engine", e, &["cycle"])?;
        if let Some(c) = e.get("cycle") {
            cycle = duration(&root, "engine.cycle", c)?;
        }
    }
    let list = |key: &str| -> Result<Vec<&TomlTable>, PipelineError> {
        match doc.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|i| table(&root, key, i)).collect(),
            Some(other) => Err(root.err(
                key,
                format!("expected [[{key}]] entries, found {}", kind(other)),
            )),
        }
    };
    let sources = list("table")?
        .into_iter()
        .map(|t| source(file, t, &kafka))
        .collect::<Result<Vec<_>, _>>()?;
    let time_tables = list("time_table")?
        .into_iter()
        .map(|t| time_table(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let derived = list("derived")?
        .into_iter()
        .map(|t| derived(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let sinks = list("sink")?
        .into_iter()
        .map(|t| sink(file, t, &kafka))
        .collect::<Result<Vec<_>, _>>()?;

    let pipeline = Pipeline {
        file: file.to_path_buf(),
        kafka,
        cycle,
        sources,
        time_tables,
        derived,
        sinks,
    };
    check_names(&pipeline)?;
    Ok(pipeline)
}

const SINK_KEYS: [&str; 18] = [
    "name",
    "from",
    "type",
    "topic",
    "topic_column",
    "partition",
    "partition_column",
    "timestamp_column",
    "headers",
    "key",
    "value",
    "last_by",
    "publish_initial",
    "on_failure",
    "max_retries",
    "retry_backoff",
    "properties",
    "config",
];

fn sink(
    file: &Path,
    t: &TomlTable,
    kafka: &BTreeMap<String, String>,
) -> Result<SinkDecl, PipelineError> {
    use crate::publish::{OnFailure, PublishSpec, SinkOptions, TopicChoice};
    let name = entry_name(file, t, "sink")?;
    let at = At {
        file,
        table: Some(&name),
    };
    at.only("", t, &SINK_KEYS)?;
    let from = string(
        &at,
        "from",
        t.get("from")
            .ok_or_else(|| at.err("from", "missing: the table to publish"))?,
    )?;
    let kind = t
        .get("type")
        .map(|v| string(&at, "type", v))
        .transpose()?
        .unwrap_or_else(|| "kafka".into());
    let opt_string = |k: &str| t.get(k).map(|v| string(&at, k, v)).transpose();
    let mut options = SinkOptions::default();
    if let Some(v) = t.get("publish_initial") {
        options.publish_initial = v.as_bool().ok_or_else(|| {
            at.err(
                "publish_initial",
                format!("expected true or false, found {}", kind_of(v)),
            )
        })?;
    }
    options.on_failure = match opt_string("on_failure")?.as_deref() {
        None | Some("stop") => OnFailure::Stop,
        Some("retry") => OnFailure::Retry {
            max_retries: t
                .get("max_retries")
                .map(|v| {
                    v.as_integer().filter(|n| *n >= 0).ok_or_else(|| {
                        at.err("max_retries", "expected a whole number (0: keep trying)")
                    })
                })
                .transpose()?
                .unwrap_or(0) as u32,
            initial_backoff: t
                .get("retry_backoff")
                .map(|v| duration(&at, "retry_backoff", v))
                .transpose()?
                .unwrap_or(Duration::from_millis(200)),
            max_backoff: Duration::from_secs(30),
        },
        Some(other) => {
            return Err(at.err(
                "on_failure",
                format!("expected \"stop\" or \"retry\", found \"{other}\""),
            ));
        }
    };
    let key = t
        .get("key")
        .map(|v| value_spec(&at, "key", v))
        .transpose()?
        .unwrap_or_default();
    let last_by = match t.get("last_by") {
        None | Some(Value::Boolean(false)) => None,
        Some(Value::Boolean(true)) => Some(key_columns(&at, &key)?),
        Some(v) => Some(strings(&at, "last_by", v)?),
    };
    let target = if kind == "kafka" {
        let mut properties = kafka.clone();
        if let Some(v) = t.get("properties") {
            properties.extend(properties_of(&at, v)?);
        }
        let topic = match (opt_string("topic")?, opt_string("topic_column")?) {
            (Some(topic), None) => TopicChoice::Fixed(topic),
            (None, Some(column)) => TopicChoice::Column(column),
            _ => return Err(at.err("topic", "give exactly one of `topic` or `topic_column`")),
        };
        let headers = match t.get("headers") {
            None => Vec::new(),
            Some(v) => table(&at, "headers", v)?
                .iter()
                .map(|(h, c)| Ok((h.clone(), string(&at, &join("headers", h), c)?)))
                .collect::<Result<_, PipelineError>>()?,
        };
        let value = t
            .get("value")
            .map(|v| value_spec(&at, "value", v))
            .transpose()?
            .unwrap_or_default();
        if key == ValueSpec::Ignore && value == ValueSpec::Ignore {
            return Err(at.err(
                "value",
                "the key and the value are both ignored; publish at least one",
            ));
        }
        SinkTarget::Kafka(PublishSpec {
            properties,
            topic,
            partition: t
                .get("partition")
                .map(|v| {
                    v.as_integer()
                        .map(|p| p as i32)
                        .ok_or_else(|| at.err("partition", "expected a partition number"))
                })
                .transpose()?,
            partition_column: opt_string("partition_column")?,
            timestamp_column: opt_string("timestamp_column")?,
            header_columns: headers,
            key,
            value,
        })
    } else {
        let config = match t.get("config") {
            Some(v) => serde_json::to_value(table(&at, "config", v)?)
                .map_err(|e| at.err("config", e.to_string()))?,
            None => serde_json::json!({}),
        };
        SinkTarget::Plugin { sink: kind, config }
    };
    Ok(SinkDecl {
        name,
        from,
        last_by,
        target,
        options,
    })
}

fn kind_of(v: &Value) -> &'static str {
    kind(v)
}

fn properties_of(at: &At<'_>, v: &Value) -> Result<BTreeMap<String, String>, PipelineError> {
    properties(at, "properties", v)
}

/// The key columns a key spec encodes (`simple`'s `column`, `json`'s `include`), for `last_by = true`.
fn key_columns(at: &At<'_>, key: &ValueSpec) -> Result<Vec<String>, PipelineError> {
    let columns = match key {
        ValueSpec::Codec { config, .. } => config
            .get("column")
            .and_then(|c| c.as_str().map(|c| vec![c.to_string()]))
            .or_else(|| {
                config.get("include").and_then(|i| i.as_array()).map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
            }),
        ValueSpec::Ignore => None,
    };
    columns
        .filter(|c| !c.is_empty())
        .ok_or_else(|| at.err("last_by", "last_by = true needs a key spec that names its columns (`column` or `include`); or give last_by = [\"Col\", …]"))
}

/// Names are unique, and a derived table only uses tables declared before it.
fn check_names(p: &Pipeline) -> Result<(), PipelineError> {
    let mut known: Vec<String> = Vec::new();
    let add = |name: &str, known: &mut Vec<String>| -> Result<(), PipelineError> {
        if known.iter().any(|k| k == name) {
            return Err(At {
                file: &p.file,
                table: Some(name),
            }
            .err("name", "this name is used twice"));
        }
        known.push(name.to_string());
        Ok(())
    };
    for (name, _) in &p.sources {
        add(name, &mut known)?;
    }
    for t in &p.time_tables {
        add(&t.name, &mut known)?;
    }
    for d in &p.derived {
        let at = At {
            file: &p.file,
            table: Some(&d.name),
        };
        let mut uses = vec![("from", &d.from)];
        if let Operation::NaturalJoin { right, .. } = &d.operation {
            uses.push(("natural_join.right", right));
        }
        for (key, used) in uses {
            if !known.contains(used) {
                let hint = topictable_sdk::config::closest(used, known.iter().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(at.err(
                    key,
                    format!("no table `{used}` is declared before this one{hint}"),
                ));
            }
        }
        add(&d.name, &mut known)?;
    }
    for s in &p.sinks {
        if !known.contains(&s.from) {
            let hint = topictable_sdk::config::closest(&s.from, known.iter().map(String::as_str))
                .map(|x| format!(" (did you mean `{x}`?)"))
                .unwrap_or_default();
            return Err(At {
                file: &p.file,
                table: Some(&s.name),
            }
            .err("from", format!("no table `{}`{hint}", s.from)));
        }
    }
    Ok(())
}

/// Reads and parses a pipeline file.
pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| PipelineError {
        file: PathBuf::from(path),
        table: None,
        key: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}
