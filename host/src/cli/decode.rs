//! `topictable decode`: runs a codec plugin on sample messages from a file
//! (or stdin), without Kafka, and prints the rows it makes and the messages
//! it refuses (by file and line). For plugin authors trying their codec, and
//! for users checking a codec config on real bytes before a pipeline runs.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use arrow_array::RecordBatch;
use clap::{Args, ValueEnum};
use topictable::PluginRegistry;
use topictable_sdk::{MessageBatchBuilder, RowErrorKind, Side};

/// Exit code when a message could not be decoded.
const EXIT_ROW_ERRORS: u8 = 1;
/// Exit code for a bad input file, format or config.
const EXIT_USAGE: u8 = 2;

/// Messages decoded in one call of the codec, as the ingest batches them.
const BATCH_MESSAGES: usize = 10_000;

/// How messages are laid out in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framing {
    /// One message per line (the line's bytes, without the line break).
    Lines,
    /// Each message as a 4-byte big-endian length, then that many bytes.
    LengthPrefixed,
}

/// How the rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecodeOutput {
    /// An aligned text table.
    Table,
    /// One JSON object per row.
    Jsonl,
}

/// Arguments of `topictable decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The codec's format name (see `topictable plugins list`).
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// The codec's config as a JSON object, as in a pipeline's `key` or
    /// `value` spec without `format` (e.g. '{"type": "int64"}').
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub config: String,
    /// Decode the messages as keys rather than values.
    #[arg(long)]
    pub key: bool,
    /// How messages are laid out in the input.
    #[arg(long, value_enum, default_value_t = Framing::Lines)]
    pub framing: Framing,
    /// How to print the rows.
    #[arg(long, value_enum, default_value_t = DecodeOutput::Table)]
    pub output: DecodeOutput,
    /// The input file; standard input when absent or `-`.
    pub file: Option<PathBuf>,
}

/// One message of the input and where it was.
#[derive(Debug)]
struct Message {
    bytes: Vec<u8>,
    /// `line N` or `message N at byte B`.
    at: String,
}

/// Runs `topictable decode`.
pub fn decode(args: DecodeArgs, registry: &PluginRegistry) -> ExitCode {
    let name = match &args.file {
        Some(p) if p.as_os_str() != "-" => p.display().to_string(),
        _ => "<stdin>".to_string(),
    };
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let mut input = Vec::new();
    let read = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut input))
        }
        _ => std::io::stdin().read_to_end(&mut input),
    };
    if let Err(e) = read {
        return usage(format!("cannot read {name}: {e}"));
    }
    let messages = match split(&input, args.framing) {
        Ok(m) => m,
        Err(e) => return usage(format!("{name}: {e}")),
    };
    let config: serde_json::Value = match serde_json::from_str(&args.config) {
        Ok(c @ serde_json::Value::Object(_)) => c,
        Ok(other) => return usage(format!("--config must be a JSON object, not {other}")),
        Err(e) => return usage(format!("--config is not JSON: {e}")),
    };
    let side = if args.key { Side::Key } else { Side::Value };
    let mut decoder = match registry.new_decoder(&args.format, &config, side) {
        Ok(d) => d,
        Err(e) => return usage(e.to_string()),
    };
    let mut batches = Vec::new();
    let mut failed = 0usize;
    let mut start = 0;
    while start < messages.len() {
        let end = (start + BATCH_MESSAGES).min(messages.len());
        let mut builder = MessageBatchBuilder::with_capacity(end - start, 64);
        for (i, m) in messages[start..end].iter().enumerate() {
            let (key, value) = if args.key {
                (Some(m.bytes.as_slice()), None)
            } else {
                (None, Some(m.bytes.as_slice()))
            };
            builder.push("decode", 0, (start + i) as i64, None, key, value, &[]);
        }
        let decoded = match decoder.decode(&builder.batch().view()) {
            Ok(d) => d,
            Err(e) => {
                return usage(format!(
                    "{name}: the codec failed on {}..: {e}",
                    messages[start].at
                ));
            }
        };
        // A row that did not fit in the batch's columns starts the next batch.
        let full = decoded
            .errors
            .iter()
            .filter(|e| e.kind == RowErrorKind::BatchFull)
            .map(|e| e.row)
            .min();
        let taken = match full {
            Some(0) => {
                eprintln!(
                    "{name}: {}: too big for one batch's columns",
                    messages[start].at
                );
                failed += 1;
                start += 1;
                continue;
            }
            Some(row) => row,
            None => end - start,
        };
        for e in decoded.errors.iter().filter(|e| e.row < taken) {
            eprintln!("{name}: {}: {}", messages[start + e.row].at, e.message);
            failed += 1;
        }
        batches.push(decoded.batch.slice(0, taken));
        start += taken;
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if let Err(e) = print(&batches, decoder.output_schema(), args.output) {
        return usage(format!("printing the rows: {e}"));
    }
    eprintln!(
        "{} message{}, {rows} row{}, {failed} not decoded",
        messages.len(),
        if messages.len() == 1 { "" } else { "s" },
        if rows == 1 { "" } else { "s" }
    );
    if failed > 0 {
        ExitCode::from(EXIT_ROW_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Splits the input into messages.
fn split(input: &[u8], framing: Framing) -> Result<Vec<Message>, String> {
    match framing {
        Framing::Lines => {
            let text = input.strip_suffix(b"\n").unwrap_or(input);
            if text.is_empty() {
                return Ok(Vec::new());
            }
            Ok(text
                .split(|&b| b == b'\n')
                .enumerate()
                .map(|(i, line)| Message {
                    bytes: line.strip_suffix(b"\r").unwrap_or(line).to_vec(),
                    at: format!("line {}", i + 1),
                })
                .collect())
        }
        Framing::LengthPrefixed => {
            let mut out = Vec::new();
            let mut at = 0;
            while at < input.len() {
                let n = out.len() + 1;
                let Some(head) = input.get(at..at + 4) else {
                    return Err(format!(
                        "message {n} at byte {at}: a 4-byte length is cut short"
                    ));
                };
                let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                let Some(bytes) = input.get(at + 4..at + 4 + len) else {
                    return Err(format!(
                        "message {n} at byte {at}: its length says {len} bytes, {} are left",
                        input.len() - at - 4
                    ));
                };
                out.push(Message {
                    bytes: bytes.to_vec(),
                    at: format!("message {n} at byte {at}"),
                });
                at += 4 + len;
            }
            Ok(out)
        }
    }
}

fn print(
    batches: &[RecordBatch],
    schema: arrow_schema::SchemaRef,
    output: DecodeOutput,
) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match output {
        DecodeOutput::Table => {
            let empty;
            let shown = if batches.is_empty() {
                empty = [RecordBatch::new_empty(schema)];
                &empty[..]
            } else {
                batches
            };
            let text =
                arrow_cast::pretty::pretty_format_batches(shown).map_err(|e| e.to_string())?;
            writeln!(out, "{text}").map_err(|e| e.to_string())
        }
        DecodeOutput::Jsonl => {
            let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
            for b in batches {
                writer.write(b).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_length_prefixed_input_split_into_messages() {
        let lines = split(b"a\r\nb\n\nc\n", Framing::Lines).unwrap();
        let texts: Vec<_> = lines
            .iter()
            .map(|m| (m.bytes.clone(), m.at.clone()))
            .collect();
        assert_eq!(
            texts,
            [
                (b"a".to_vec(), "line 1".to_string()),
                (b"b".to_vec(), "line 2".to_string()),
                (b"".to_vec(), "line 3".to_string()),
                (b"c".to_vec(), "line 4".to_string()),
            ]
        );
        assert!(split(b"", Framing::Lines).unwrap().is_empty());
        let framed = [
            &[0, 0, 0, 2][..],
            b"hi",
            &[0, 0, 0, 0],
            &[0, 0, 0, 1],
            b"\n",
        ]
        .concat();
        let messages = split(&framed, Framing::LengthPrefixed).unwrap();
        let got: Vec<_> = messages
            .iter()
            .map(|m| (m.bytes.clone(), m.at.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (b"hi".to_vec(), "message 1 at byte 0".to_string()),
                (b"".to_vec(), "message 2 at byte 6".to_string()),
                (b"\n".to_vec(), "message 3 at byte 10".to_string()),
            ]
        );
        let cut = split(&[0, 0, 0, 9, b'x'], Framing::LengthPrefixed).unwrap_err();
        assert_eq!(
            cut,
            "message 1 at byte 0: its length says 9 bytes, 1 are left"
        );
        let short = split(&[0, 0], Framing::LengthPrefixed).unwrap_err();
        assert!(short.contains("cut short"), "{short}");
    }
}
