//! What `run` shows and writes: the live table view, and snapshot files.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::RecordBatch;
use topictable::ingest::IngestStatus;
use topictable::pipeline::RunningPipeline;

/// The file formats `--snapshot` writes, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotFormat {
    /// `.csv`
    Csv,
    /// `.jsonl`, `.ndjson` or `.json` (one object per line)
    JsonLines,
    /// `.arrow`, `.ipc` or `.feather` (Arrow IPC file)
    ArrowIpc,
}

impl SnapshotFormat {
    /// The format for `path`'s extension.
    pub fn for_path(path: &Path) -> Result<Self, String> {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "csv" => Ok(Self::Csv),
            "jsonl" | "ndjson" | "json" => Ok(Self::JsonLines),
            "arrow" | "ipc" | "feather" => Ok(Self::ArrowIpc),
            other => Err(format!(
                "{}: unknown snapshot format `.{other}` (use .csv, .jsonl or .arrow)",
                path.display()
            )),
        }
    }
}

/// Writes `batch` to `path` in `format`.
pub fn write_snapshot(
    path: &Path,
    format: SnapshotFormat,
    batch: &RecordBatch,
) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let fail = |e: arrow_schema::ArrowError| format!("{}: {e}", path.display());
    match format {
        SnapshotFormat::Csv => {
            let mut w = arrow_csv::Writer::new(file);
            w.write(batch).map_err(fail)?;
        }
        SnapshotFormat::JsonLines => {
            let mut w = arrow_json::LineDelimitedWriter::new(file);
            w.write(batch).map_err(fail)?;
            w.finish().map_err(fail)?;
        }
        SnapshotFormat::ArrowIpc => {
            let mut w =
                arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).map_err(fail)?;
            w.write(batch).map_err(fail)?;
            w.finish().map_err(fail)?;
        }
    }
    Ok(())
}

/// `--snapshot TABLE=PATH`.
pub fn parse_snapshot_arg(arg: &str) -> Result<(String, PathBuf, SnapshotFormat), String> {
    let (table, path) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}`: expected TABLE=PATH"))?;
    let path = PathBuf::from(path);
    let format = SnapshotFormat::for_path(&path)?;
    Ok((table.to_string(), path, format))
}

/// A live view of some tables in the terminal: rows, rate, status, errors,
/// and the newest rows.
pub struct LiveView {
    tables: Vec<String>,
    last: BTreeMap<String, (Instant, usize)>,
    terminal: bool,
    max_rows: usize,
}

impl LiveView {
    /// A view of `tables`.
    pub fn new(tables: Vec<String>) -> Self {
        Self {
            tables,
            last: BTreeMap::new(),
            terminal: std::io::stdout().is_terminal(),
            max_rows: 12,
        }
    }

    /// Redraws the view.
    pub fn render(&mut self, pipeline: &RunningPipeline) {
        let mut out = String::new();
        if self.terminal {
            out.push_str("\x1b[2J\x1b[H");
        }
        for name in &self.tables {
            let Some(table) = pipeline.tables.get(name) else {
                continue;
            };
            let batch = match table.snapshot() {
                Ok(b) => b,
                Err(e) => {
                    out.push_str(&format!("── {name}: failed: {e}\n"));
                    continue;
                }
            };
            let rows = batch.num_rows();
            let now = Instant::now();
            let rate = match self.last.insert(name.clone(), (now, rows)) {
                Some((t, r)) if now > t => {
                    (rows as f64 - r as f64) / now.duration_since(t).as_secs_f64()
                }
                _ => 0.0,
            };
            let mut line = format!("── {name}: {rows} rows ({rate:+.0} rows/s)");
            if let Some((_, source)) = pipeline.sources.iter().find(|(n, _)| n == name) {
                let c = source.error_counts();
                let status = match source.status() {
                    IngestStatus::Running => "running".to_string(),
                    IngestStatus::Paused => "paused".to_string(),
                    IngestStatus::Stopped => "stopped".to_string(),
                    IngestStatus::Failed(m) => format!("FAILED: {m}"),
                    IngestStatus::WaitingForRegistry(m) => format!("WAITING: {m}"),
                };
                line.push_str(&format!(
                    " [{status}; errors: {} decode, {} skipped, {} dead-lettered]",
                    c.decode_errors, c.skipped, c.dead_lettered
                ));
            }
            out.push_str(&line);
            out.push('\n');
            let shown = batch.slice(rows.saturating_sub(self.max_rows), rows.min(self.max_rows));
            if shown.num_rows() > 0 {
                match arrow_cast::pretty::pretty_format_batches(&[shown]) {
                    Ok(text) => out.push_str(&format!("{text}\n")),
                    Err(e) => out.push_str(&format!("(cannot show rows: {e})\n")),
                }
            }
        }
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}
