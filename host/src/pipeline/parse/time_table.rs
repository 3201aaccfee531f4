//! `[[time_table]]`: a table that adds a row every period.

use std::path::Path;

use toml::Table as TomlTable;
use topictable_engine::TableType;

use super::values::{At, duration, entry_name, table_type};
use crate::pipeline::PipelineError;
use crate::pipeline::model::TimeTableSource;

pub(super) fn time_table(file: &Path, t: &TomlTable) -> Result<TimeTableSource, PipelineError> {
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
