//! `topictable serve`: a long-lived host for many pipelines, run and
//! operated over its REST API, with metrics and the live web view.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use topictable::PluginRegistry;
use topictable::serve::ServeMetrics;
use topictable::worker::{StateDir, Worker, WorkerError};

use super::TokenArg;
use super::run::{EXIT_CONFIG, EXIT_RUNTIME, ServeArgs, start_server};

/// Options of `topictable serve`.
#[derive(Debug, Args)]
pub struct ServeCmdArgs {
    /// Pipeline files to start with, each named by its file stem
    /// (`orders.toml` is pipeline `orders`). More can be created over the API.
    pub pipelines: Vec<PathBuf>,
    /// Keep the pipelines created over the API in this directory (one TOML
    /// file each), and start them again when serve starts. Without it, they
    /// last as long as the process.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Override `bootstrap.servers` of every pipeline.
    #[arg(long, short = 'b', value_name = "HOST:PORT")]
    pub bootstrap_servers: Option<String>,
    /// Where to listen. Loopback by default: give `0.0.0.0:8083` (and a
    /// --token) to serve other machines.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8083")]
    pub http: String,
    /// The token every request must bear.
    #[command(flatten)]
    pub token: TokenArg,
}

/// Runs `topictable serve` until Ctrl-C.
pub fn serve(args: ServeCmdArgs, plugins: &Arc<PluginRegistry>) -> ExitCode {
    let state = match args.state_dir.as_deref().map(StateDir::open).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --state-dir: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let metrics = ServeMetrics::new();
    let worker = Arc::new(Worker::new(
        plugins.clone(),
        state,
        args.bootstrap_servers.clone(),
        Some(metrics.cycle_hook()),
    ));
    for (name, e) in worker.restore() {
        eprintln!("error: stored pipeline `{name}` did not start: {e}");
    }
    for path in &args.pipelines {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", path.display());
                worker.stop_all();
                return ExitCode::from(EXIT_CONFIG);
            }
        };
        // A file on the command line wins over a stored pipeline of its name.
        let started = match worker.get(&name) {
            Ok(_) => worker.replace(&name, &text),
            Err(_) => worker.create(&name, &text),
        };
        if let Err(e) = started {
            eprintln!("error: {}: {e}", path.display());
            worker.stop_all();
            return ExitCode::from(match e {
                WorkerError::Invalid(_) | WorkerError::BadName(_) | WorkerError::Conflict(_) => {
                    EXIT_CONFIG
                }
                _ => EXIT_RUNTIME,
            });
        }
    }
    let serve_args = ServeArgs {
        http: Some(args.http.clone()),
        token: args.token.clone(),
    };
    let server = match start_server(&serve_args, &worker, &metrics) {
        Ok(server) => server,
        Err(code) => {
            worker.stop_all();
            return code;
        }
    };
    let names: Vec<String> = worker.pipelines().into_keys().collect();
    tracing::info!(
        "serving {} pipeline(s){}; Ctrl-C to stop",
        names.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        }
    );
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    while !interrupted.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    worker.stop_all();
    ExitCode::SUCCESS
}
