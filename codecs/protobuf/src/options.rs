//! The options that shape a message type's columns: what the config
//! (`config.rs`) reads from the user's keys and the plan (`plan.rs`) follows.

use serde::{Deserialize, Serialize};
use topictable_sdk::ConfigValue;

/// Options that shape the columns.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Separator of flattened names.
    pub separator: String,
    /// Path globs to keep (empty: everything).
    pub include: Vec<String>,
    /// Path globs to drop.
    pub exclude: Vec<String>,
    /// Enums as names or numbers.
    pub enums: EnumsAs,
    /// Unit of Timestamp and Duration.
    pub time_unit: TimeUnitConfig,
}

/// How enum values become cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum EnumsAs {
    /// The value's name (`Utf8`); an unknown number becomes its decimal text.
    #[default]
    String,
    /// The value's number (`Int32`).
    Int,
}

/// Unit of `google.protobuf.Timestamp` and `Duration` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ConfigValue)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnitConfig {
    /// Nanoseconds (exact).
    #[default]
    Ns,
    /// Milliseconds (sub-millisecond nanos are truncated).
    Ms,
}
