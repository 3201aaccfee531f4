//! `[[sink]]`: a table published to Kafka or handed to a sink plugin.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::{Table as TomlTable, Value};

use super::values::{At, duration, entry_name, join, side_spec, string, strings, table};
use crate::ingest::KeyOrValueSpec;
use crate::pipeline::PipelineError;
use crate::pipeline::model::{SinkDecl, SinkTarget};

pub(super) const SINK_KEYS: [&str; 18] = [
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

pub(super) fn sink(
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
    let sink_type = t
        .get("type")
        .map(|v| string(&at, "type", v))
        .transpose()?
        .unwrap_or_else(|| "kafka".into());
    let opt_string = |k: &str| t.get(k).map(|v| string(&at, k, v)).transpose();
    let mut options = SinkOptions::default();
    if let Some(v) = t.get("publish_initial") {
        options.publish_initial = v
            .as_bool()
            .ok_or_else(|| at.expected("publish_initial", "true or false", v))?;
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
            return Err(at.expected_text("on_failure", "\"stop\" or \"retry\"", other));
        }
    };
    let key = side_spec(&at, t, "key")?;
    let last_by = match t.get("last_by") {
        None | Some(Value::Boolean(false)) => None,
        Some(Value::Boolean(true)) => Some(key_columns(&at, &key)?),
        Some(v) => Some(strings(&at, "last_by", v)?),
    };
    let target = if sink_type == "kafka" {
        let mut properties = kafka.clone();
        if let Some(v) = t.get("properties") {
            properties.extend(super::values::properties(&at, "properties", v)?);
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
        let value = side_spec(&at, t, "value")?;
        if key == KeyOrValueSpec::Ignore && value == KeyOrValueSpec::Ignore {
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
        SinkTarget::Plugin {
            sink: sink_type,
            config,
        }
    };
    Ok(SinkDecl {
        name,
        from,
        last_by,
        target,
        options,
    })
}

/// The key columns a key spec encodes (`simple`'s `column`, `json`'s `include`), for `last_by = true`.
pub(super) fn key_columns(at: &At<'_>, key: &KeyOrValueSpec) -> Result<Vec<String>, PipelineError> {
    let columns = match key {
        KeyOrValueSpec::Codec { config, .. } => config
            .get("column")
            .and_then(|c| c.as_str().map(|c| vec![c.to_string()]))
            .or_else(|| {
                config.get("include").and_then(|i| i.as_array()).map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_string))
                        .collect()
                })
            }),
        KeyOrValueSpec::Ignore => None,
    };
    columns
        .filter(|c| !c.is_empty())
        .ok_or_else(|| at.err("last_by", "last_by = true needs a key spec that names its columns (`column` or `include`); or give last_by = [\"Col\", …]"))
}
