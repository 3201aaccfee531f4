//! `topictable registry`: an embedded, Confluent-compatible schema registry.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use topictable_schema_registry::server::RegistryServer;

/// Options of `topictable registry`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "HOST:PORT")]
    pub listen: String,
    /// Keep the schemas in this JSON file (loaded at start, written on every change); default: in memory.
    #[arg(long, value_name = "FILE")]
    pub persist: Option<PathBuf>,
}

/// Serves the registry until Ctrl-C.
pub fn registry(args: RegistryArgs) -> ExitCode {
    let server = match &args.persist {
        Some(path) => match RegistryServer::persistent(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => RegistryServer::in_memory(),
    };
    let handle = match server.spawn(args.listen.as_str()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("schema registry (Confluent-compatible) at {}", handle.url());
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    handle.shutdown();
    ExitCode::SUCCESS
}
