//! `${env:NAME}` and `${file:PATH}` in pipeline string values: settings that
//! differ between machines (a registry URL inside and outside a container)
//! or that are secret come from the environment or a file, not the pipeline.
//!
//! - `${env:NAME}`: the environment variable; an error if it is not set.
//! - `${env:NAME:-default}`: the variable, or `default` when unset or empty
//!   (as in a shell or Docker Compose).
//! - `${file:PATH}`: the file's text without its trailing newline; a relative
//!   path is relative to the pipeline file's folder.
//! - `$${` stands for a literal `${`.

use std::path::Path;

use toml::Value;
use toml::value::Table as TomlTable;

use super::error::PipelineError;

/// Replaces every reference in the string values of `doc`, in place.
pub(super) fn expand(file: &Path, doc: &mut TomlTable) -> Result<(), PipelineError> {
    let base = file.parent().unwrap_or(Path::new("."));
    for (key, value) in doc.iter_mut() {
        match value {
            // `[[table]]`, `[[sink]]`, …: errors name the entry by its `name`.
            Value::Array(items) if items.iter().all(Value::is_table) => {
                for item in items {
                    let table = item.get("name").and_then(Value::as_str).map(String::from);
                    if let Value::Table(t) = item {
                        for (k, v) in t.iter_mut() {
                            expand_value(base, v).map_err(|message| PipelineError {
                                file: file.to_path_buf(),
                                table: table.clone(),
                                key: Some(k.clone()),
                                message,
                            })?;
                        }
                    }
                }
            }
            other => expand_value(base, other).map_err(|message| PipelineError {
                file: file.to_path_buf(),
                table: None,
                key: Some(key.clone()),
                message,
            })?,
        }
    }
    Ok(())
}

fn expand_value(base: &Path, value: &mut Value) -> Result<(), String> {
    match value {
        Value::String(s) if s.contains("${") => *s = expand_str(base, s)?,
        Value::Array(items) => {
            for v in items {
                expand_value(base, v)?;
            }
        }
        Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                expand_value(base, v).map_err(|e| format!("{k}: {e}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands the references in one string.
fn expand_str(base: &Path, text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let body_and_rest = &rest[at + 2..];
        let end = body_and_rest
            .find('}')
            .ok_or_else(|| format!("`${{` with no closing `}}` in \"{text}\""))?;
        out.push_str(&resolve(base, &body_and_rest[..end])?);
        rest = &body_and_rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(base: &Path, reference: &str) -> Result<String, String> {
    if let Some(spec) = reference.strip_prefix("env:") {
        let (name, default) = match spec.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (spec, None),
        };
        return match (std::env::var(name), default) {
            (Ok(v), Some(d)) if v.is_empty() => Ok(d.to_string()),
            (Ok(v), _) => Ok(v),
            (Err(_), Some(d)) => Ok(d.to_string()),
            (Err(_), None) => Err(format!(
                "`${{env:{name}}}`: the environment variable {name} is not set (give a default \
                 with `${{env:{name}:-VALUE}}`)"
            )),
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        let full = base.join(path);
        return read_small_file(&full)
            .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
            .map(|s| s.strip_suffix('\r').unwrap_or(&s).to_string())
            .map_err(|e| format!("`${{file:{path}}}`: cannot read {}: {e}", full.display()));
    }
    Err(format!(
        "`${{{reference}}}`: expected `${{env:NAME}}`, `${{env:NAME:-default}}` or `${{file:PATH}}` \
         (write `$${{` for a literal `${{`)"
    ))
}

/// The most a `${file:PATH}` reference reads: a password, a token or a URL
/// is far smaller, and `/dev/zero` must not fill the memory.
const MAX_FILE_REFERENCE: u64 = 1 << 20;

/// The file's text, refused when it is not a regular file (a FIFO or a
/// terminal would block the reader) or larger than [`MAX_FILE_REFERENCE`].
fn read_small_file(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, Read};
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_FILE_REFERENCE + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_REFERENCE {
        return Err(Error::other(format!(
            "larger than {} KiB, which no secret or setting needs",
            MAX_FILE_REFERENCE >> 10
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_text(text: &str) -> Result<String, String> {
        expand_str(Path::new("/nonexistent"), text)
    }

    #[test]
    fn environment_variables_with_and_without_defaults() {
        // PATH is set wherever tests run; setting variables would race with
        // other tests reading the environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            expand_text("${env:PATH}|${env:PATH:-unused}").unwrap(),
            format!("{path}|{path}")
        );
        assert_eq!(
            expand_text("${env:TOPICTABLE_REF_TEST_UNSET:-http://localhost:8081}").unwrap(),
            "http://localhost:8081"
        );
        let e = expand_text("x ${env:TOPICTABLE_REF_TEST_UNSET}").unwrap_err();
        assert!(e.contains("TOPICTABLE_REF_TEST_UNSET is not set"), "{e}");
    }

    #[test]
    fn files_literals_and_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s3cret\n").unwrap();
        assert_eq!(
            expand_str(
                dir.path().join("p.toml").parent().unwrap(),
                "${file:secret.txt}"
            )
            .unwrap(),
            "s3cret"
        );
        assert_eq!(expand_text("a $${env:X} b").unwrap(), "a ${env:X} b");
        assert!(
            expand_text("${file:missing}")
                .unwrap_err()
                .contains("cannot read")
        );
        assert!(expand_text("${env:X").unwrap_err().contains("no closing"));
        assert!(
            expand_text("${vault:x}")
                .unwrap_err()
                .contains("expected `${env:NAME}`")
        );
    }

    /// A reference to a device, a FIFO or a huge file is an error, not a
    /// read that blocks or fills the memory (pipelines also come over the
    /// REST API). Before, `${file:/dev/zero}` read until memory ran out.
    #[test]
    fn a_file_reference_reads_only_a_small_regular_file() {
        let e = expand_text("${file:/dev/zero}").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; MAX_FILE_REFERENCE as usize + 1]).unwrap();
        let e = expand_str(dir.path(), "${file:big}").unwrap_err();
        assert!(e.contains("larger than 1024 KiB"), "{e}");
        std::fs::write(&big, vec![b'x'; MAX_FILE_REFERENCE as usize]).unwrap();
        assert_eq!(
            expand_str(dir.path(), "${file:big}").unwrap().len(),
            1 << 20
        );
    }

    #[test]
    fn errors_name_the_file_the_table_and_the_key() {
        let text = r#"
            [[table]]
            name = "prices"
            value = { format = "avro", schema_registry_url = "${env:TOPICTABLE_REF_TEST_NOPE}" }
        "#;
        let mut doc: TomlTable = text.parse().unwrap();
        let e = expand(Path::new("p.toml"), &mut doc).unwrap_err();
        assert_eq!(e.table.as_deref(), Some("prices"));
        assert_eq!(e.key.as_deref(), Some("value"));
        assert!(e.message.starts_with("schema_registry_url: "), "{e}");
    }
}
