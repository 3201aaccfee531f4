//! Command-line parsing and dispatch.

mod decode;
mod demo;
mod output;
mod plugins;
mod query;
mod registry;
mod run;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// topictable turns Kafka topics into live, incrementally updated tables, and
/// tables back into topics. Message formats (simple, JSON, Avro, Protobuf)
/// and table sinks are plugins loaded from a plugin directory.
#[derive(Debug, Parser)]
#[command(name = "topictable", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Directory to load plugins from (every *.so, *.dylib or *.dll in it).
    /// Default: `plugins/` next to the topictable binary.
    #[arg(long, global = true, env = "TOPICTABLE_PLUGIN_DIR", value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline file: consume topics into live tables, derive tables,
    /// until Ctrl-C (or --exit-when / --exit-after).
    #[command(after_help = run::EXIT_CODES_HELP)]
    Run(run::RunArgs),
    /// Run a long-lived host: pipelines given here or created over its REST
    /// API (/api/v1, like Kafka Connect's), Prometheus metrics (/metrics)
    /// and a live web view of every table (/), on 127.0.0.1:8083 by default.
    Serve(serve::ServeCmdArgs),
    /// Check a pipeline file (syntax, codec configs, columns, operators) without connecting to Kafka.
    Validate {
        /// The pipeline file.
        pipeline: PathBuf,
    },
    /// Start an embedded Kafka broker, feed it a quotes/orders stream and show
    /// the live totalNotional table of the "Perform multiple operations"
    /// example in Deephaven's Kafka guide. Needs no other process.
    Demo(demo::DemoArgs),
    /// Serve an embedded, Confluent-compatible schema registry (for Avro and
    /// Protobuf topics), in memory or persisted to a file.
    Registry(registry::RegistryArgs),
    /// Run SQL over the live tables of a running host (serve, or run/demo
    /// with --http) and print the answer.
    Query(query::QueryArgs),
    /// List the codec and sink plugins and describe their config keys.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Decode sample messages from a file (one per line, or length-prefixed)
    /// with a codec plugin, without Kafka: prints the rows and, by line, the
    /// messages it refuses. Exit code 1 when any message was refused.
    Decode(decode::DecodeArgs),
}

impl Cli {
    /// The plugin directory to use: the flag, the environment, or `plugins/`
    /// next to the binary.
    pub fn plugin_dir(&self) -> PathBuf {
        self.plugin_dir.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join("plugins")))
                .unwrap_or_else(|| PathBuf::from("plugins"))
        })
    }
}

/// Parses the command line, sets up logging to stderr and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in logs and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let plugin_dir = cli.plugin_dir();
    let cli_command = cli.command;
    let cli_command = match cli_command {
        Command::Plugins(cmd) => return plugins::run(cmd, &plugin_dir),
        Command::Registry(args) => return registry::registry(args),
        Command::Query(args) => return query::query(args),
        other => other,
    };
    let (registry, errors) = topictable::PluginRegistry::load_dir(&plugin_dir);
    for e in &errors {
        eprintln!("warning: {e}");
    }
    let registry = std::sync::Arc::new(registry);
    match cli_command {
        Command::Run(args) => run::run(args, &registry),
        Command::Validate { pipeline } => run::validate(&pipeline, &registry),
        Command::Demo(args) => demo::demo(args, &registry),
        Command::Serve(args) => serve::serve(args, &registry),
        Command::Decode(args) => decode::decode(args, &registry),
        Command::Plugins(_) | Command::Registry(_) | Command::Query(_) => {
            unreachable!("handled above")
        }
    }
}

/// `--token` (or `TOPICTABLE_TOKEN`) of the servers: `run --http`, `demo
/// --http`, `serve` and `registry`.
#[derive(Debug, Clone, Default, Args)]
pub struct TokenArg {
    /// Require `Authorization: Bearer TOKEN` on every request, except GET
    /// /metrics and the web view's files (its page asks for the token).
    #[arg(
        long,
        env = "TOPICTABLE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}
