//! Pipeline files: a TOML file that declares broker properties, Kafka source
//! tables (`[[table]]`), time tables (`[[time_table]]`) and derived tables
//! (`[[derived]]`, one engine operator each). `topictable run` and
//! `topictable validate` read them; see `examples/` for one per example of Deephaven's
//! Kafka guide. Any string value may take `${env:NAME}`, `${env:NAME:-default}`
//! or `${file:PATH}`, expanded before anything else is read.
//!
//! ```toml
//! [kafka]
//! "bootstrap.servers" = "localhost:9092"
//!
//! [[table]]
//! name = "prices"
//! topic = "share.price"
//! type = "append"                  # append | blink (default) | "ring(3)"
//! offsets = "beginning"            # committed (default) | beginning | end | { 0 = 1200, default = "end" } | { timestamp = "…" }
//! key = { format = "simple", type = "string", column = "Symbol" }
//! value = { format = "simple", type = "float64", column = "Price", encoding = "text" }
//!
//! [[derived]]
//! name = "last"
//! from = "prices"
//! last_by = ["Symbol"]
//! ```

mod build;
mod error;
mod model;
mod parse;
mod redact;
mod references;

pub use build::{RunningPipeline, start, validate};
pub use error::PipelineError;
pub use model::{
    Aggregation, DerivedTable, Operation, Pipeline, SinkDecl, SinkTarget, TimeTableSource,
};
pub use parse::{load, parse, parse_duration};
pub use redact::{is_secret_key, redact_secrets};
