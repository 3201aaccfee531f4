//! `topictable run` and `topictable validate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use topictable::PluginRegistry;
use topictable::ingest::IngestStatus;
use topictable::pipeline::{self, Pipeline, RunningPipeline};
use topictable::publish::SinkStatus;
use topictable::serve::{self, ServeMetrics};
use topictable::worker::{HostedPipeline, Worker};

use super::TokenArg;
use super::output::{LiveView, SnapshotFormat, parse_snapshot_arg, write_snapshot};

/// Exit code: the pipeline could not start, or a snapshot could not be written.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code: the pipeline file or arguments are wrong.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code: `--exit-after` ran out before every `--exit-when` was met.
pub const EXIT_TIMED_OUT: u8 = 3;
/// Exit code: a table stopped on a bad record (`on_error = "fail"`) or a sink
/// stopped on an error while the pipeline ran.
pub const EXIT_TABLE_FAILED: u8 = 4;

/// The exit codes of `topictable run`, for its `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done: every --exit-when held, or --exit-after ran out with no
     --exit-when given, or Ctrl-C; and no table or sink failed
  1  the pipeline could not start, or a --snapshot could not be written
  2  the pipeline file or the arguments are wrong
  3  --exit-after ran out before every --exit-when held
  4  a table stopped on a bad record (on_error = \"fail\") or a sink stopped
     on an error; the other tables ran on until the exit, which comes at
     once when an --exit-when names a stopped table it can no longer meet
When several apply, 4 wins over 1, and 1 over 0 and 3. Every --snapshot
is attempted even when another one fails.";

/// Options of `topictable run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file (TOML; see examples/).
    pub pipeline: PathBuf,
    /// Show this table live in the terminal (repeatable).
    #[arg(long = "print", value_name = "TABLE")]
    pub print: Vec<String>,
    /// Stop when TABLE has at least N rows (`TABLE:rows>=N`, repeatable; all must hold).
    #[arg(long = "exit-when", value_name = "TABLE:rows>=N")]
    pub exit_when: Vec<String>,
    /// Stop after this long (e.g. `30s`); with --exit-when, the exit code is 3 if time ran out first.
    #[arg(long = "exit-after", value_name = "DURATION")]
    pub exit_after: Option<String>,
    /// On exit, write TABLE's final rows to PATH (.csv, .jsonl or .arrow; repeatable).
    #[arg(long = "snapshot", value_name = "TABLE=PATH")]
    pub snapshot: Vec<String>,
    /// Override `bootstrap.servers` of every table and Kafka sink.
    #[arg(long, short = 'b', value_name = "HOST:PORT")]
    pub bootstrap_servers: Option<String>,
    /// The web view, REST API and metrics.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `--http` and `--token`, shared by `run` and `demo`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve a live web view (/), the tables over REST (/api/v1) and
    /// Prometheus metrics (/metrics) on this address, e.g. `127.0.0.1:8083`
    /// (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// With --http: the token every request must bear.
    #[command(flatten)]
    pub token: TokenArg,
}

struct ExitWhen {
    table: String,
    rows: usize,
}

fn parse_exit_when(arg: &str) -> Result<ExitWhen, String> {
    let (table, cond) = arg
        .split_once(':')
        .ok_or_else(|| format!("`{arg}`: expected TABLE:rows>=N"))?;
    let n = cond
        .strip_prefix("rows>=")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("`{arg}`: expected TABLE:rows>=N"))?;
    Ok(ExitWhen {
        table: table.to_string(),
        rows: n,
    })
}

fn config_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_CONFIG)
}

fn load(
    path: &Path,
    plugins: &PluginRegistry,
    bootstrap: Option<&str>,
) -> Result<Pipeline, ExitCode> {
    let mut p = pipeline::load(path).map_err(config_error)?;
    if let Some(b) = bootstrap {
        p.set_bootstrap_servers(b);
    }
    pipeline::validate(&p, plugins).map_err(config_error)?;
    Ok(p)
}

/// `topictable validate PIPELINE`: checks a file without connecting.
pub fn validate(path: &Path, plugins: &PluginRegistry) -> ExitCode {
    match load(path, plugins, None) {
        Ok(p) => {
            println!(
                "{}: ok ({} tables: {})",
                path.display(),
                p.table_names().len(),
                p.table_names().join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `topictable run PIPELINE`.
pub fn run(args: RunArgs, plugins: &Arc<PluginRegistry>) -> ExitCode {
    let p = match load(&args.pipeline, plugins, args.bootstrap_servers.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let text = std::fs::read_to_string(&args.pipeline).unwrap_or_default();
    run_pipeline(p, text, plugins, &args)
}

/// A pipeline's name on the API and in metrics: its file stem.
fn pipeline_name(p: &Pipeline) -> String {
    p.file
        .file_stem()
        .map_or_else(|| "pipeline".into(), |s| s.to_string_lossy().into_owned())
}

/// Starts the `--http` server for a worker; prints where it listens.
pub fn start_server(
    serve_args: &ServeArgs,
    worker: &Arc<Worker>,
    metrics: &Arc<ServeMetrics>,
) -> Result<Option<serve::ServerHandle>, ExitCode> {
    let Some(addr) = &serve_args.http else {
        return Ok(None);
    };
    match serve::spawn(
        addr,
        worker.clone(),
        metrics.clone(),
        serve_args.token.token.clone(),
    ) {
        Ok(server) => {
            let at = server.addr();
            eprintln!(
                "serving the API on http://{at}/api/v1 and metrics on http://{at}/metrics, and the web view on http://{at}/"
            );
            Ok(Some(server))
        }
        Err(e) => {
            eprintln!("error: --http: {e}");
            Err(ExitCode::from(EXIT_RUNTIME))
        }
    }
}

/// Runs a loaded pipeline (`text` is its file) until Ctrl-C, `--exit-when`
/// or `--exit-after`.
pub fn run_pipeline(
    p: Pipeline,
    text: String,
    plugins: &Arc<PluginRegistry>,
    args: &RunArgs,
) -> ExitCode {
    let names = p.table_names();
    let exit_when: Vec<ExitWhen> = match args.exit_when.iter().map(|a| parse_exit_when(a)).collect()
    {
        Ok(v) => v,
        Err(e) => return config_error(e),
    };
    let snapshots: Vec<(String, PathBuf, SnapshotFormat)> = match args
        .snapshot
        .iter()
        .map(|a| parse_snapshot_arg(a))
        .collect()
    {
        Ok(v) => v,
        Err(e) => return config_error(e),
    };
    for t in args
        .print
        .iter()
        .chain(exit_when.iter().map(|e| &e.table))
        .chain(snapshots.iter().map(|s| &s.0))
    {
        if !names.contains(t) {
            return config_error(format!(
                "no table `{t}` in {} (tables: {})",
                p.file.display(),
                names.join(", ")
            ));
        }
    }
    let deadline = match args
        .exit_after
        .as_deref()
        .map(pipeline::parse_duration)
        .transpose()
    {
        Ok(d) => d.map(|d| Instant::now() + d),
        Err(e) => return config_error(format!("--exit-after: {e}")),
    };

    let metrics = ServeMetrics::new();
    let file = p.file.clone();
    let hosted = match HostedPipeline::start(
        &pipeline_name(&p),
        text,
        p,
        plugins,
        Some(metrics.cycle_hook()),
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let hosted_name = hosted.name().to_string();
    let worker = Arc::new(Worker::single(plugins.clone(), hosted));
    let hosted = worker
        .get(&hosted_name)
        .expect("the worker holds its one pipeline");
    let _server = match start_server(&args.serve, &worker, &metrics) {
        Ok(server) => server,
        Err(code) => {
            hosted.stop();
            return code;
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    tracing::info!(
        "running {} ({} tables); Ctrl-C to stop",
        file.display(),
        names.len()
    );

    let mut view = LiveView::new(args.print.clone());
    let mut last_render = Instant::now() - Duration::from_secs(1);
    let mut reported_failures = std::collections::BTreeSet::new();
    let tables = hosted.tables();
    let met = || {
        !exit_when.is_empty()
            && exit_when
                .iter()
                .all(|c| tables[&c.table].num_rows().is_ok_and(|n| n >= c.rows))
    };
    // A condition on a source table that stopped can no longer become true.
    // (A table restarted over the API runs again, so this is asked each time.)
    let hopeless = || {
        exit_when.iter().find(|c| {
            hosted
                .sources()
                .get(&c.table)
                .is_some_and(|probe| matches!(probe.status(), IngestStatus::Failed(_)))
                && !tables[&c.table].num_rows().is_ok_and(|n| n >= c.rows)
        })
    };
    let outcome = loop {
        if interrupted.load(Ordering::SeqCst) {
            break ExitCode::SUCCESS;
        }
        if met() {
            break ExitCode::SUCCESS;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break if exit_when.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_TIMED_OUT)
            };
        }
        for (name, probe) in hosted.sources() {
            match probe.status() {
                IngestStatus::Failed(m) => {
                    if reported_failures.insert(name.clone()) {
                        eprintln!("error: table `{name}` stopped: {m}");
                    }
                }
                // Restarted over the API: a new failure is reported again.
                _ => {
                    reported_failures.remove(name);
                }
            }
        }
        hosted.with_running(|running| {
            for sink in &running.sinks {
                if let SinkStatus::Failed(m) = sink.status()
                    && reported_failures.insert(format!("sink {}", sink.name()))
                {
                    eprintln!("error: sink `{}` stopped: {m}", sink.name());
                }
            }
        });
        if let Some(c) = hopeless() {
            eprintln!(
                "error: --exit-when {}:rows>={} can no longer hold: the table stopped; exiting now",
                c.table, c.rows
            );
            break ExitCode::from(EXIT_TABLE_FAILED);
        }
        if !args.print.is_empty() && last_render.elapsed() >= Duration::from_millis(500) {
            hosted.with_running(|running| view.render(running));
            last_render = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    // Graceful shutdown: consumers wait until their rows are visible and
    // commit; one last cycle; sinks write what is queued; then the snapshots.
    hosted.stop();
    if !args.print.is_empty() {
        hosted.with_running(|running| view.render(running));
    }
    // Every snapshot is attempted: one that fails does not cost the others.
    let mut snapshot_failed = false;
    for (table, path, format) in &snapshots {
        match tables[table]
            .snapshot()
            .map_err(|e| e.to_string())
            .and_then(|b| write_snapshot(path, *format, &b))
        {
            Ok(()) => tracing::info!("wrote {table} to {}", path.display()),
            Err(e) => {
                eprintln!("error: snapshot of {table} to {}: {e}", path.display());
                snapshot_failed = true;
            }
        }
    }
    // A failed table or sink outranks "done" and "timed out": a script must
    // not take a partial table for a complete one.
    let failed = hosted.with_running(report_end);
    if failed {
        ExitCode::from(EXIT_TABLE_FAILED)
    } else if snapshot_failed {
        ExitCode::from(EXIT_RUNTIME)
    } else {
        outcome
    }
}

/// Prints each table's and sink's end state; true when one had failed.
fn report_end(running: &mut RunningPipeline) -> bool {
    let mut failed = false;
    for (name, source) in &running.sources {
        let c = source.error_counts();
        let (messages, rows) = source.progress();
        let status = match source.status() {
            IngestStatus::Failed(m) => {
                failed = true;
                format!("; FAILED: {m}")
            }
            _ => String::new(),
        };
        eprintln!(
            "{name}: {messages} messages, {rows} rows, {} decode errors ({} skipped, {} dead-lettered){status}",
            c.decode_errors, c.skipped, c.dead_lettered
        );
    }
    for sink in &running.sinks {
        match sink.status() {
            SinkStatus::Failed(m) => {
                eprintln!("sink {}: FAILED: {m}", sink.name());
                failed = true;
            }
            status => eprintln!("sink {}: {status:?}", sink.name()),
        }
    }
    failed
}
