//! `[[table]]`: a Kafka source table (topics, partitions, offsets, key and
//! value specs, standard columns, the bad-record policy).

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table as TomlTable, Value};

use super::values::{
    At, duration, entry_name, join, properties, rfc3339_millis, side_spec, string, strings, table,
    table_type,
};
use crate::ingest::{
    ConsumeSpec, ConsumerMode, DeadLetterRetry, HeaderColumns, HeaderType, InitialOffsets,
    KeyOrValueSpec, OnError, OnRevoke, Partitions, StandardColumns, StartAt, check_start,
};
use crate::pipeline::PipelineError;

pub(super) const SOURCE_KEYS: [&str; 17] = [
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

pub(super) fn source(
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
    let key = side_spec(&at, t, "key")?;
    let value = side_spec(&at, t, "value")?;
    if key == KeyOrValueSpec::Ignore && value == KeyOrValueSpec::Ignore {
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
                return Err(at.expected("partitions", "\"all\" or a list of partitions", other));
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
            other => return Err(at.expected_text("mode", "\"assign\" or \"group\"", other)),
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
                return Err(at.expected_text(
                    "on_error",
                    "\"fail\", \"skip\" or \"dead-letter\"",
                    other,
                ));
            }
        };
    }
    if let Some(v) = t.get("on_revoke") {
        spec.on_revoke = match string(&at, "on_revoke", v)?.as_str() {
            "remove" => OnRevoke::Remove,
            "keep" => OnRevoke::Keep,
            other => {
                return Err(at.expected_text("on_revoke", "\"remove\" or \"keep\"", other));
            }
        };
    }
    // The consumer's own check, reported at the key it names.
    check_start(&spec).map_err(|e| at.err(e.key, e.message))?;
    Ok((name, spec))
}

/// `dead_letter_retries` and `dead_letter_retry_backoff`.
pub(super) fn dead_letter_retry(
    at: &At<'_>,
    t: &TomlTable,
) -> Result<DeadLetterRetry, PipelineError> {
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

pub(super) fn start_at(at: &At<'_>, key: &str, v: &Value) -> Result<StartAt, PipelineError> {
    let what = "\"committed\", \"beginning\", \"end\" or an offset";
    match v {
        Value::String(s) => match s.as_str() {
            "committed" => Ok(StartAt::Committed),
            "beginning" | "earliest" => Ok(StartAt::Beginning),
            "end" | "latest" => Ok(StartAt::End),
            other => Err(at.expected_text(key, what, other)),
        },
        Value::Integer(o) if *o >= 0 => Ok(StartAt::Offset(*o)),
        Value::Table(t) if t.len() == 1 && t.contains_key("timestamp") => Ok(StartAt::Timestamp(
            rfc3339_millis(at, &join(key, "timestamp"), &t["timestamp"])?,
        )),
        other => Err(at.expected(key, what, other)),
    }
}

pub(super) fn offsets(at: &At<'_>, v: &Value) -> Result<InitialOffsets, PipelineError> {
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

pub(super) fn column_name(
    at: &At<'_>,
    key: &str,
    v: &Value,
    default: &str,
) -> Result<Option<String>, PipelineError> {
    match v {
        Value::Boolean(false) => Ok(None),
        Value::Boolean(true) => Ok(Some(default.to_string())),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(at.expected(key, "a column name or true/false", other)),
    }
}

pub(super) fn columns(at: &At<'_>, v: &Value) -> Result<StandardColumns, PipelineError> {
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
                            return Err(at.expected(&key, "a type or { column, type }", other));
                        }
                    };
                    let header_type = match kind_name.as_str() {
                        "string" => HeaderType::String,
                        "bytes" => HeaderType::Bytes,
                        "int64" => HeaderType::Int64,
                        other => {
                            return Err(at.expected_text(
                                &key,
                                "type string, bytes or int64",
                                other,
                            ));
                        }
                    };
                    out.push((header.clone(), column, header_type));
                }
                HeaderColumns::Chosen(out)
            }
            other => {
                return Err(at.expected("columns.headers", "\"all\" or a table of headers", other));
            }
        };
    }
    Ok(c)
}
