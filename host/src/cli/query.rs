//! `topictable query`: runs SQL on a running host (`serve`, or `run`/`demo`
//! with `--http`) through `POST /api/v1/query`, and prints the answer.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::TokenArg;

/// Exit code when the host answered with an error (a bad query, a failed table).
const EXIT_QUERY: u8 = 1;
/// Exit code when the host could not be reached.
const EXIT_CONNECT: u8 = 3;

/// How `topictable query` prints the answer.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QueryFormat {
    /// An aligned text table (for people).
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// An Arrow IPC stream (pipe it to a file, pyarrow, DuckDB...).
    Arrow,
}

/// Options of `topictable query`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every live table is a SQL table under its own name; identifiers keep \
their case (quote odd names: \"My Table\"). The tables of one pipeline are read at one \
completed cycle.\n\nExamples:\n  topictable query \"SELECT Symbol, sum(Qty) FROM orders GROUP BY Symbol\"\n  \
topictable query --format csv \"SELECT * FROM quotes ORDER BY Price DESC LIMIT 10\" > top.csv",
    mut_arg("token", |a| a.help("The host's --token, if it has one"))
)]
pub struct QueryArgs {
    /// The SQL query (DataFusion's dialect: joins, GROUP BY, window functions...).
    pub sql: String,
    /// Address of the host's HTTP server.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8083")]
    pub http: String,
    /// How to print the answer.
    #[arg(long, value_enum, default_value = "table")]
    pub format: QueryFormat,
    /// The host's --token, if it has one (its help is set above).
    #[command(flatten)]
    pub token: TokenArg,
}

/// Runs `topictable query`.
pub fn query(args: QueryArgs) -> ExitCode {
    let base = if args.http.contains("://") {
        args.http.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", args.http.trim_end_matches('/'))
    };
    let wire = match args.format {
        QueryFormat::Table | QueryFormat::Arrow => "arrow",
        QueryFormat::Csv => "csv",
        QueryFormat::Json => "json",
    };
    // A query may take as long as it needs: only connecting is bounded.
    let client = match reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(None)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start an HTTP client: {e}");
            return ExitCode::from(EXIT_CONNECT);
        }
    };
    let mut request = client
        .post(format!("{base}/api/v1/query?format={wire}"))
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(args.sql);
    if let Some(token) = &args.token.token {
        request = request.bearer_auth(token);
    }
    let response = match request.send() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot reach topictable at {base}: {e}");
            return ExitCode::from(EXIT_CONNECT);
        }
    };
    let status = response.status();
    let cycles = response
        .headers()
        .get(topictable::serve::CYCLES_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match response.bytes() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: reading the answer from {base}: {e}");
            return ExitCode::from(EXIT_CONNECT);
        }
    };
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        eprintln!("error: {message}");
        return ExitCode::from(EXIT_QUERY);
    }
    let printed = match args.format {
        QueryFormat::Table => print_table(&body, cycles.as_deref()),
        _ => std::io::stdout()
            .write_all(&body)
            .map_err(|e| e.to_string()),
    };
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_QUERY)
        }
    }
}

/// Prints an Arrow IPC stream as an aligned table, then the row count and
/// the cycles it was read at.
fn print_table(body: &[u8], cycles: Option<&str>) -> Result<(), String> {
    let reader = arrow_ipc::reader::StreamReader::try_new(body, None)
        .map_err(|e| format!("the answer is not an Arrow stream: {e}"))?;
    let schema = reader.schema();
    let mut batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the answer is not an Arrow stream: {e}"))?;
    if batches.is_empty() {
        // No rows: still show the column names.
        batches.push(arrow_array::RecordBatch::new_empty(schema));
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let text = arrow_cast::pretty::pretty_format_batches(&batches)
        .map_err(|e| format!("formatting the answer: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| e.to_string())?;
    let at = cycles
        .filter(|c| !c.is_empty())
        .map(|c| format!(" (cycle: {c})"))
        .unwrap_or_default();
    writeln!(out, "{rows} row{}{at}", if rows == 1 { "" } else { "s" }).map_err(|e| e.to_string())
}
