//! `topictable registry`: an embedded, Confluent-compatible schema registry.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use super::TokenArg;
use topictable_registry_server::{RegistryLimits, RegistryServer};

/// Options of `topictable registry`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "HOST:PORT")]
    pub listen: String,
    /// Keep the schemas in this JSON file (loaded at start, written and synced to disk before each registration is answered); default: in memory.
    #[arg(long, value_name = "FILE")]
    pub persist: Option<PathBuf>,
    /// The token every request must bear (clients set
    /// `registry_bearer_token`; confluent-kafka `bearer.auth.token`).
    #[command(flatten)]
    pub token: TokenArg,
    /// The most schemas (distinct ids) to hold; more are refused with 422.
    #[arg(long, value_name = "N", default_value_t = RegistryLimits::default().max_schemas)]
    pub max_schemas: usize,
    /// The largest schema text to take, in bytes; larger ones are refused with 422.
    #[arg(long, value_name = "BYTES", default_value_t = RegistryLimits::default().max_schema_bytes)]
    pub max_schema_bytes: usize,
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
    let server = server
        .with_limits(RegistryLimits {
            max_schemas: args.max_schemas,
            max_schema_bytes: args.max_schema_bytes,
        })
        .with_token(args.token.token.clone());
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
