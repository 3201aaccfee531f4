//! Reads a pipeline file. Every key is checked by hand, so a mistake names
//! the file, the table, the key and what was expected, and an unknown key
//! gets a "did you mean". One module per section of the file; `values` holds
//! the readers they share.

mod derived;
mod sink;
mod source;
mod time_table;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table as TomlTable, Value};

use super::PipelineError;
use super::model::{Operation, Pipeline};
use values::{At, duration, properties, table};

pub use values::parse_duration;

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
            Some(other) => Err(root.expected(key, &format!("[[{key}]] entries"), other)),
        }
    };
    let sources = list("table")?
        .into_iter()
        .map(|t| source::source(file, t, &kafka))
        .collect::<Result<Vec<_>, _>>()?;
    let time_tables = list("time_table")?
        .into_iter()
        .map(|t| time_table::time_table(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let derived = list("derived")?
        .into_iter()
        .map(|t| derived::derived(file, t))
        .collect::<Result<Vec<_>, _>>()?;
    let sinks = list("sink")?
        .into_iter()
        .map(|t| sink::sink(file, t, &kafka))
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
